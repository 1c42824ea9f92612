/**
 * Per-SNP edge cases: a SNP that cannot be fitted gives NA fields (not an exception), and a hugely
 * significant SNP keeps a finite log10 p far below the double range instead of 0.
 */
import { describe, expect, it } from 'vitest';
import { fitNullModel } from '../../shared/lmm/null.js';
import { LmmScanner } from '../../shared/lmm/scan.js';
import { tsSyev } from '../../shared/linalg/ts.js';
import { doubleCentre } from '../../shared/kinship/kinship.js';
import { assocLine } from '../../shared/results/assoc.js';
import { kinshipLike, normal, rng } from '../helpers/random.js';

function setup(n: number, effect: number) {
  const K = kinshipLike(n, 300, 9);
  doubleCentre(K, n);
  const { values, vectors: U } = tsSyev(n, K);
  for (let i = 0; i < n; i++) if (Math.abs(values[i]) < 1e-10) values[i] = 0;
  const r = rng(5);
  const x = Float64Array.from({ length: n }, () => (r() < 0.3 ? 1 : 0) + (r() < 0.3 ? 1 : 0));
  const y = Float64Array.from(x, (v) => effect * v + normal(r));
  const rot = (v: Float64Array) => {
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) out[k] += U[i * n + k] * v[i];
    return out;
  };
  const model = fitNullModel({ eigenvalues: values, U }, [rot(new Float64Array(n).fill(1))], rot(y));
  return { model, Utx: rot(x), rot, n };
}

describe('per-SNP edge cases', () => {
  it('a constant SNP (collinear with the intercept) is a row of NA', () => {
    const { model, rot, n } = setup(80, 0.5);
    const row = new LmmScanner(model, 4).test(rot(new Float64Array(n).fill(2)));
    expect(Object.values(row).every((v) => Number.isNaN(v))).toBe(true);
    const line = assocLine({ chr: '1', rs: 'rsX', pos: 5, cm: 0, a1: 'A', a0: 'G' }, 0, 1, 4, row);
    expect(line.trim().split('\t').slice(7)).toEqual(Array(8).fill('NA'));
  });

  it('p-values below 1e-300 stay finite in log10 and print with their exponent', () => {
    const { model, Utx } = setup(600, 40);
    const row = new LmmScanner(model, 4).test(Utx);
    expect(row.log10pWald).toBeLessThan(-300);
    expect(Number.isFinite(row.log10pWald)).toBe(true);
    expect(row.log10pLrt).toBeLessThan(-300);
    const line = assocLine({ chr: '1', rs: 'rsX', pos: 5, cm: 0, a1: 'A', a0: 'G' }, 0, 0.3, 4, row);
    const pWald = line.trim().split('\t')[12];
    expect(pWald).toMatch(/^\d\.\d{6}e-\d{3,}$/);
    console.log(`[tail] p_wald printed as ${pWald} (log10 ${row.log10pWald.toFixed(2)})`);
  });
});
