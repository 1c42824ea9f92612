/**
 * The exact HWE test against plink2 --hardy (PLINK v2.00a3.5, Debian plink2 2.00~a3.5-220809+dfsg-1+b2), on the
 * hard calls of the analysed samples. Fixtures (columns ID HOM_A1_CT HET_A1_CT TWO_AX_CT P of the .hardy file)
 * were made in ../shared/data/<set> with:
 *   plink2 --bfile mouse_hs1940 --pheno mouse_hs1940.pheno.plink.txt --pheno-name CD8 --require-pheno CD8 \
 *          --nonfounders --hardy --out mouse_cd8 --threads 1          (1410 samples, 10300 variants with bp > 0)
 *   plink2 --bfile maize_mdp --pheno maize_mdp.pheno.plink.txt --pheno-name EarHT --require-pheno EarHT \
 *          --nonfounders --hardy --out maize_earht --threads 1        (279 samples, 3093 variants, missing calls)
 *   cut -f2,5,6,7,10 X.hardy | gzip -9n > test/fixtures/hwe/X.plink2.hardy.gz
 * Tolerance: plink2 prints P with 6 significant digits, so ours rounded to 6 digits must print the same; the
 * relative deviation (bounded by the rounding, 5e-6) is reported.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { hweExactP, hweExactLogP } from '../../shared/stats/hwe.js';
import { REPO } from '../helpers/data.js';

const TOL = 5e-6;

function fixture(name: string): Array<{ id: string; hom1: number; het: number; hom2: number; p: number }> {
  const text = gunzipSync(readFileSync(join(REPO, 'test/fixtures/hwe', `${name}.plink2.hardy.gz`))).toString('utf8');
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const [id, a, b, c, p] = l.split('\t');
      return { id, hom1: Number(a), het: Number(b), hom2: Number(c), p: Number(p) };
    });
}

describe('exact HWE test (Wigginton et al. 2005) = plink2 --hardy', () => {
  for (const name of ['mouse_cd8', 'maize_earht']) {
    it(`${name}: every variant's P within ${TOL} relative`, () => {
      const rows = fixture(name);
      let worst = 0;
      let at = '';
      const differ: string[] = [];
      for (const r of rows) {
        const ours = hweExactP(r.hom1, r.het, r.hom2);
        if (Number(ours.toPrecision(6)) !== r.p) differ.push(`${r.id}: ours ${ours}, plink2 ${r.p}`);
        const d = Math.abs(ours - r.p) / r.p;
        if (d > worst) {
          worst = d;
          at = `${r.id} (${r.hom1}/${r.het}/${r.hom2}): ours ${ours}, plink2 ${r.p}`;
        }
      }
      console.log(`[hwe ${name}] ${rows.length} variants, worst relative deviation ${worst.toExponential(2)} at ${at}`);
      expect(rows.length).toBeGreaterThan(3000);
      expect(worst).toBeLessThanOrEqual(TOL);
      expect(differ).toEqual([]);
    });
  }

  it('symmetric and degenerate cases', () => {
    expect(hweExactP(0, 0, 0)).toBe(1);
    expect(hweExactP(10, 0, 0)).toBe(1);
    expect(hweExactP(25, 50, 25)).toBeCloseTo(1, 12);
    // Allele labels do not matter.
    expect(hweExactP(3, 20, 77)).toBeCloseTo(hweExactP(77, 20, 3), 14);
    // Hand-checked small case: n = 3, one copy of each... r = 2: P(h=0) = 1/5·... enumerated below.
    // n=2, r=2: h ∈ {0, 2}; P(0) ∝ 2!/(1!0!1!)·1 = 2, P(2) ∝ 2!/(0!2!0!)·4 = 4 → P(0)=1/3, P(2)=2/3.
    expect(hweExactP(1, 0, 1)).toBeCloseTo(1 / 3, 14);
    expect(hweExactP(0, 2, 0)).toBeCloseTo(1, 14);
  });

  it('far tails stay positive and continuous with the linear-space path', () => {
    // 5000 samples, all homozygous for either allele: p far below 1e-300.
    const lp = hweExactLogP(2500, 0, 2500);
    expect(Number.isFinite(lp)).toBe(true);
    expect(lp / Math.LN10).toBeLessThan(-1000);
    // Just inside and just outside the switch between the two paths agree in slope: p decreases monotonically.
    let prev = 0;
    for (let het = 200; het >= 0; het -= 2) {
      const l = hweExactLogP(1000 - het / 2, het, 1000 - het / 2);
      expect(l).toBeLessThanOrEqual(prev + 1e-12);
      prev = l;
    }
  });
});
