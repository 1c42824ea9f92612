/**
 * Exact test of Hardy–Weinberg equilibrium for one biallelic SNP (Wigginton, Cutler & Abecasis 2005, "A note on
 * exact tests of Hardy-Weinberg equilibrium", Am J Hum Genet 76:887–893), as plink/plink2 `--hardy`/`--hwe`
 * report it (two-sided, not mid-p).
 *
 * Model: given n genotyped diploid samples and r copies of the rarer allele, the heterozygote count h has, under
 * HWE, the distribution P(h) = 2^h · n! · r! · (2n − r)! / ((2n)! · h! · homr! · homc!) with homr = (r − h)/2 and
 * homc = n − h − homr (h has the parity of r). The p-value is Σ P(h′) over every h′ with P(h′) ≤ P(h_obs).
 * Probabilities are built from the mode with the ratio recurrence P(h+2)/P(h) = 4·homr·homc / ((h+1)(h+2)), so no
 * factorial is evaluated. Ties (P(h′) = P(h_obs) up to rounding) count as ≤ with a relative slack of 1e-7.
 *
 * Missing data: callers pass the counts of non-missing hard calls only (missing genotypes are not counted).
 * Complexity: O(width of the distribution) per SNP in the common case (values below 1e-300 of the mode are not
 * visited); when the observation itself is that far in the tail, O(r) logarithms in log space.
 */

const TIE = 1 + 1e-7;

/**
 * Two-sided exact HWE p-value from genotype counts (homozygous allele 1, heterozygous, homozygous allele 2).
 * Returns 1 when there are no genotypes or the SNP is monomorphic. Values below ~1e-300 are still positive
 * where double precision allows (log-space path).
 */
export function hweExactP(hom1: number, het: number, hom2: number): number {
  return Math.exp(hweExactLogP(hom1, het, hom2));
}

/** Natural log of {@link hweExactP} (finite even when p underflows). */
export function hweExactLogP(hom1: number, het: number, hom2: number): number {
  const n = hom1 + het + hom2;
  if (n === 0) return 0;
  const a1 = 2 * hom1 + het;
  const r = Math.min(a1, 2 * n - a1);
  if (r === 0) return 0;
  // Mode of the heterozygote distribution, with the parity of r.
  let mid = Math.floor((r * (2 * n - r)) / (2 * n));
  if ((mid & 1) !== (r & 1)) mid++;
  if (mid > r) mid -= 2;

  // Linear-space pass from the mode outwards until the relative probability underflows.
  const lo: number[] = []; // P(mid - 2k)/P(mid), k = 1, 2, …
  const hi: number[] = []; // P(mid + 2k)/P(mid)
  let total = 1;
  {
    let p = 1;
    let h = mid;
    let homr = (r - mid) / 2;
    let homc = n - mid - homr;
    while (h >= 2) {
      p *= (h * (h - 1)) / (4 * (homr + 1) * (homc + 1));
      h -= 2;
      homr++;
      homc++;
      if (p < 1e-300) break;
      lo.push(p);
      total += p;
    }
  }
  {
    let p = 1;
    let h = mid;
    let homr = (r - mid) / 2;
    let homc = n - mid - homr;
    while (homr >= 1 && homc >= 1) {
      p *= (4 * homr * homc) / ((h + 1) * (h + 2));
      h += 2;
      homr--;
      homc--;
      if (p < 1e-300) break;
      hi.push(p);
      total += p;
    }
  }
  const k = (het - mid) / 2;
  const pObs = k === 0 ? 1 : k < 0 ? lo[-k - 1] : hi[k - 1];
  if (pObs !== undefined) {
    const cut = pObs * TIE;
    let tail = 1 <= cut ? 1 : 0;
    for (const v of lo) if (v <= cut) tail += v;
    for (const v of hi) if (v <= cut) tail += v;
    // Values not visited are < 1e-300 of the mode, i.e. far below pObs: negligible in double precision.
    return Math.min(0, Math.log(tail / total));
  }
  return logSpaceTail(n, r, mid, het, total);
}

/**
 * The rare case where the observed heterozygote count is more than 1e300 times less likely than the mode:
 * every log P(h)/P(mode) is accumulated in log space, and the tail is summed relative to the observation.
 */
function logSpaceTail(n: number, r: number, mid: number, het: number, totalRel: number): number {
  const logRel = new Map<number, number>();
  logRel.set(mid, 0);
  {
    let lp = 0;
    let h = mid;
    let homr = (r - mid) / 2;
    let homc = n - mid - homr;
    while (h >= 2) {
      lp += Math.log(h) + Math.log(h - 1) - Math.log(4 * (homr + 1) * (homc + 1));
      h -= 2;
      homr++;
      homc++;
      logRel.set(h, lp);
    }
  }
  {
    let lp = 0;
    let h = mid;
    let homr = (r - mid) / 2;
    let homc = n - mid - homr;
    while (homr >= 1 && homc >= 1) {
      lp += Math.log(4 * homr * homc) - Math.log(h + 1) - Math.log(h + 2);
      h += 2;
      homr--;
      homc--;
      logRel.set(h, lp);
    }
  }
  const lObs = logRel.get(het)!;
  const cut = lObs + Math.log(TIE);
  let sum = 0; // Σ P(h)/P(obs) over the tail
  for (const l of logRel.values()) if (l <= cut) sum += Math.exp(l - lObs);
  return lObs + Math.log(sum) - Math.log(totalRel);
}
