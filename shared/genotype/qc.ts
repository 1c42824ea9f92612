/**
 * Per-SNP quality control on the analysed samples, with GEMMA 0.98.5's rules (src/gemma_io.cpp, ReadFile_bed
 * and ReadFile_geno), applied in this order:
 * 1. missingness n_miss/n_a > `miss` (default 0.05) → removed;
 * 2. allele-1 frequency af < `maf` or af > 1 − `maf` (default 0.01) → removed (af is not folded);
 * 3. monomorphic → removed: for hard calls (bed) when only one of the 0/1/2 classes occurs, for dosages
 *    (BIMBAM) when every non-missing value equals the first;
 * 3a. (`mac`, off by default) minor allele count min(Σd, 2·n_obs − Σd) over the non-missing analysed samples
 *    below `mac` → removed (plink2 `--mac`);
 * 3b. (`hwe`, off by default) exact Hardy–Weinberg p-value (Wigginton et al. 2005; shared/stats/hwe.ts) of the
 *    hard calls of the analysed samples below `hwe` → removed (plink2 `--hwe P`, two-sided, not mid-p). Dosages
 *    are hard-called when within 0.1 of 0, 1 or 2 (plink2's default `--hard-call-threshold`), otherwise not
 *    counted;
 * 4. with covariates beyond the intercept, r² of the (mean-imputed, uncentred) genotype on W above `r2`
 *    (default 0.9999) → removed.
 * Each removed SNP is counted once, under the first rule it fails. With `mac` and `hwe` off (the defaults) the
 * rules and counts are exactly GEMMA's. af and n_miss are also what the association output reports.
 * Cost: O(n_a) per SNP, plus O(width of the HWE distribution) when `hwe` is on.
 */
import type { SnpMeta } from './types.js';
import { hweExactP } from '../stats/hwe.js';

export interface QcOptions {
  maf: number;
  miss: number;
  r2: number;
  /** Minimum minor allele count (off when undefined or 0). */
  mac?: number;
  /** HWE exact-test p-value threshold: SNPs with p < hwe are removed (off when undefined or 0). */
  hwe?: number;
}

export const GEMMA_QC: QcOptions = { maf: 0.01, miss: 0.05, r2: 0.9999 };

/** Dosages within this distance of 0, 1 or 2 count as hard calls for the HWE test (plink2's default). */
export const HARD_CALL_THRESHOLD = 0.1;

export interface QcCounts {
  total: number;
  missing: number;
  maf: number;
  mac: number;
  monomorphic: number;
  hwe: number;
  collinear: number;
  kept: number;
}

/** One line describing what each SNP rule removed (for logs). */
export function describeQcCounts(c: QcCounts, o: QcOptions): string {
  const parts = [`${c.missing} for missingness > ${o.miss}`, `${c.maf} for MAF < ${o.maf}`];
  if (o.mac) parts.push(`${c.mac} for MAC < ${o.mac}`);
  parts.push(`${c.monomorphic} monomorphic`);
  if (o.hwe) parts.push(`${c.hwe} for HWE exact p < ${o.hwe}`);
  parts.push(`${c.collinear} collinear with covariates`);
  return `${c.total} SNPs, removed ${parts.join(', ')}; ${c.kept} kept`;
}

/** Per-SNP statistics and the keep mask, filled block by block. */
export class SnpQc {
  readonly mask: Uint8Array;
  readonly nMiss: Int32Array;
  readonly af: Float64Array;
  readonly counts: QcCounts;
  private readonly wtwInv: Float64Array | null;
  private readonly wtx: Float64Array;

  /**
   * @param W row-major n_a × c covariates of the analysed samples (for the r² rule); the rule is skipped
   *   when c = 1, as in GEMMA.
   */
  constructor(
    readonly snps: SnpMeta[],
    readonly hardCalls: boolean,
    readonly opts: QcOptions,
    private readonly W: Float64Array,
    private readonly c: number,
  ) {
    const m = snps.length;
    this.mask = new Uint8Array(m);
    this.nMiss = new Int32Array(m);
    this.af = new Float64Array(m).fill(NaN);
    this.counts = { total: m, missing: 0, maf: 0, mac: 0, monomorphic: 0, hwe: 0, collinear: 0, kept: 0 };
    this.wtwInv = c > 1 ? invertSpd(gram(W, W.length / c, c), c) : null;
    this.wtx = new Float64Array(c);
  }

  /**
   * Evaluates one SNP from its full row of dosages (all genotype samples), looking only at `analysed`.
   * Returns whether it is kept.
   */
  evaluate(snp: number, row: Float64Array, rowOffset: number, analysed: Int32Array): boolean {
    const na = analysed.length;
    let sum = 0;
    let miss = 0;
    let n0 = 0;
    let n1 = 0;
    let n2 = 0;
    let first = NaN;
    let poly = false;
    for (let j = 0; j < na; j++) {
      const v = row[rowOffset + analysed[j]];
      if (v !== v) {
        miss++;
        continue;
      }
      sum += v;
      if (this.hardCalls) {
        if (v === 0) n0++;
        else if (v === 1) n1++;
        else n2++;
      } else if (first !== first) first = v;
      else if (v !== first) poly = true;
    }
    const af = sum / (2 * (na - miss));
    this.nMiss[snp] = miss;
    this.af[snp] = af;
    const counts = this.counts;
    if (miss / na > this.opts.miss) {
      counts.missing++;
      return false;
    }
    if (af < this.opts.maf || af > 1 - this.opts.maf || !(af === af)) {
      counts.maf++;
      return false;
    }
    if (this.opts.mac) {
      const nObs = na - miss;
      const mac = Math.min(sum, 2 * nObs - sum);
      if (mac < this.opts.mac) {
        counts.mac++;
        return false;
      }
    }
    if (this.hardCalls ? n0 + n1 === 0 || n1 + n2 === 0 || n2 + n0 === 0 : !poly) {
      counts.monomorphic++;
      return false;
    }
    if (this.opts.hwe) {
      if (!this.hardCalls) {
        n0 = n1 = n2 = 0;
        for (let j = 0; j < na; j++) {
          const v = row[rowOffset + analysed[j]];
          if (v !== v) continue;
          const call = Math.round(v);
          if (Math.abs(v - call) > HARD_CALL_THRESHOLD) continue;
          if (call === 0) n0++;
          else if (call === 1) n1++;
          else if (call === 2) n2++;
        }
      }
      if (hweExactP(n2, n1, n0) < this.opts.hwe) {
        counts.hwe++;
        return false;
      }
    }
    if (this.wtwInv) {
      const { c, W, wtx } = this;
      const fill = 2 * af;
      wtx.fill(0);
      let vx = 0;
      for (let j = 0; j < na; j++) {
        let v = row[rowOffset + analysed[j]];
        if (v !== v) v = fill;
        vx += v * v;
        for (let a = 0; a < c; a++) wtx[a] += W[j * c + a] * v;
      }
      let vw = 0;
      for (let a = 0; a < c; a++) for (let b = 0; b < c; b++) vw += wtx[a] * this.wtwInv[a * c + b] * wtx[b];
      if (vw / vx > this.opts.r2) {
        counts.collinear++;
        return false;
      }
    }
    this.mask[snp] = 1;
    counts.kept++;
    return true;
  }
}

function gram(W: Float64Array, n: number, c: number): Float64Array {
  const g = new Float64Array(c * c);
  for (let i = 0; i < n; i++) for (let a = 0; a < c; a++) for (let b = 0; b < c; b++) g[a * c + b] += W[i * c + a] * W[i * c + b];
  return g;
}

/** Inverse of a small symmetric positive-definite matrix by Gauss–Jordan with partial pivoting. */
export function invertSpd(a: Float64Array, c: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(c * c);
  for (let i = 0; i < c; i++) inv[i * c + i] = 1;
  for (let col = 0; col < c; col++) {
    let piv = col;
    for (let r = col + 1; r < c; r++) if (Math.abs(m[r * c + col]) > Math.abs(m[piv * c + col])) piv = r;
    if (piv !== col) {
      for (let k = 0; k < c; k++) {
        [m[col * c + k], m[piv * c + k]] = [m[piv * c + k], m[col * c + k]];
        [inv[col * c + k], inv[piv * c + k]] = [inv[piv * c + k], inv[col * c + k]];
      }
    }
    const d = m[col * c + col];
    for (let k = 0; k < c; k++) {
      m[col * c + k] /= d;
      inv[col * c + k] /= d;
    }
    for (let r = 0; r < c; r++) {
      if (r === col) continue;
      const f = m[r * c + col];
      if (f === 0) continue;
      for (let k = 0; k < c; k++) {
        m[r * c + k] -= f * m[col * c + k];
        inv[r * c + k] -= f * inv[col * c + k];
      }
    }
  }
  return inv;
}
