/**
 * The FEM kernel against a direct least-squares fit (normal equations solved by Gauss–Jordan on the full
 * design, an independent route), its collinearity rule, covariate p-values and tracker; the pseudo-inverse;
 * the genotype cache's imputation policies (rMVP "Major" tie rules, GAPIT middle, GEMMA mean).
 */
import { describe, expect, it } from 'vitest';
import { rng, normal } from '../helpers/random.js';
import { allocRows, allocScratch, femScanBlock, fitFemModel, markerModelP, reducedCovariateP } from '../../shared/fem/scan.js';
import { symmetricPseudoInverse } from '../../shared/fem/ginv.js';
import { AnalysedGenotypes, majorGenotype } from '../../shared/fem/genotypes.js';
import { selectBackend } from '../../shared/linalg/select.js';
import { tTwoSidedP } from '../../shared/stats/distributions.js';
import type { BlockOptions, GenoBlock, GenotypeSource, SnpMeta } from '../../shared/genotype/types.js';

/** OLS of y on the columns of D (n × k): coefficients, standard errors, two-sided p (df n − k). */
function ols(D: number[][], y: number[]): { b: number[]; se: number[]; p: number[] } {
  const n = y.length;
  const k = D[0].length;
  const A = Array.from({ length: k }, (_, a) => [...Array.from({ length: k }, (_, b) => D.reduce((s, r) => s + r[a] * r[b], 0)), ...Array.from({ length: k }, (_, j) => (j === a ? 1 : 0))]);
  for (let c = 0; c < k; c++) {
    let piv = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
    [A[c], A[piv]] = [A[piv], A[c]];
    const d = A[c][c];
    for (let j = 0; j < 2 * k; j++) A[c][j] /= d;
    for (let r = 0; r < k; r++) if (r !== c) {
      const f = A[r][c];
      for (let j = 0; j < 2 * k; j++) A[r][j] -= f * A[c][j];
    }
  }
  const inv = A.map((row) => row.slice(k));
  const Xty = Array.from({ length: k }, (_, a) => D.reduce((s, r, i) => s + r[a] * y[i], 0));
  const b = inv.map((row) => row.reduce((s, v, j) => s + v * Xty[j], 0));
  const rss = y.reduce((s, yi, i) => s + (yi - D[i].reduce((t, v, j) => t + v * b[j], 0)) ** 2, 0);
  const s2 = rss / (n - k);
  const se = b.map((_, j) => Math.sqrt(inv[j][j] * s2));
  return { b, se, p: b.map((bj, j) => tTwoSidedP(bj / se[j], n - k)) };
}

describe('FEM scan kernel', () => {
  it('equals a direct OLS fit for every SNP and covariate; collinear SNPs are NA', async () => {
    const { backend } = await selectBackend('ts');
    const r = rng(7);
    const n = 60;
    const q0 = 4;
    const W = new Float64Array(n * q0);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      W[i * q0] = 1;
      W[i * q0 + 1] = normal(r);
      W[i * q0 + 2] = Math.floor(r() * 3);
      W[i * q0 + 3] = Math.floor(r() * 3);
      y[i] = 2 + 0.5 * W[i * q0 + 1] + 0.3 * W[i * q0 + 3] + normal(r);
    }
    const count = 6;
    const X = new Float64Array(count * n);
    for (let s = 0; s < count; s++) for (let i = 0; i < n; i++) X[s * n + i] = Math.floor(r() * 3);
    for (let i = 0; i < n; i++) X[3 * n + i] = W[i * q0 + 2]; // a copy of a covariate (pseudo-QTN)
    X.fill(1, 4 * n, 5 * n); // monomorphic
    const model = fitFemModel(y, W, n, q0);
    const out = allocRows(count);
    const covP = new Float64Array(count * (q0 - 1));
    const tracker = { cols: Int32Array.from([2, 3]), maxAbsT: new Float64Array(2).fill(-Infinity), collinearRows: 0 };
    await femScanBlock(model, backend, X, count, out, allocScratch(count, q0), { covP, tracker });
    const rowsW = Array.from({ length: n }, (_, i) => Array.from(W.subarray(i * q0, (i + 1) * q0)));
    let worst = 0;
    const minP = [Infinity, Infinity];
    for (let s = 0; s < count; s++) {
      if (s === 3 || s === 4) {
        expect(out.collinear[s]).toBe(1);
        expect(Number.isNaN(out.p[s])).toBe(true);
        const red = ols(rowsW, Array.from(y));
        for (let a = 1; a < q0; a++) expect(Math.abs(covP[s * (q0 - 1) + a - 1] / red.p[a] - 1)).toBeLessThan(1e-10);
        continue;
      }
      const D = rowsW.map((row, i) => [...row, X[s * n + i]]);
      const ref = ols(D, Array.from(y));
      worst = Math.max(worst, Math.abs(out.beta[s] / ref.b[q0] - 1), Math.abs(out.se[s] / ref.se[q0] - 1), Math.abs(out.p[s] / ref.p[q0] - 1));
      expect(Math.abs(Math.exp(out.logp[s]) / ref.p[q0] - 1)).toBeLessThan(1e-10);
      for (let a = 1; a < q0; a++) worst = Math.max(worst, Math.abs(covP[s * (q0 - 1) + a - 1] / ref.p[a] - 1));
      minP[0] = Math.min(minP[0], ref.p[2]);
      minP[1] = Math.min(minP[1], ref.p[3]);
    }
    expect(worst).toBeLessThan(1e-10);
    expect(tracker.collinearRows).toBe(2);
    // The tracker's max |t| gives the smallest covariate p over the non-collinear rows.
    expect(Math.abs(markerModelP(model, tracker.maxAbsT[0]) / minP[0] - 1)).toBeLessThan(1e-10);
    expect(Math.abs(markerModelP(model, tracker.maxAbsT[1]) / minP[1] - 1)).toBeLessThan(1e-10);
    expect(Math.abs(reducedCovariateP(model, 3) / ols(rowsW, Array.from(y)).p[3] - 1)).toBeLessThan(1e-10);
  });

  it('pseudo-inverse: inverse when full rank, Moore–Penrose on a rank-deficient matrix', () => {
    const A = Float64Array.from([4, 2, 0, 2, 3, 1, 0, 1, 2]);
    const { inverse, rank } = symmetricPseudoInverse(A, 3);
    expect(rank).toBe(3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += A[i * 3 + k] * inverse[k * 3 + j];
        expect(Math.abs(s - (i === j ? 1 : 0))).toBeLessThan(1e-14);
      }
    // Rank 1: v vᵀ with v = (1, 2); pinv = v vᵀ / |v|⁴.
    const B = Float64Array.from([1, 2, 2, 4]);
    const pb = symmetricPseudoInverse(B, 2);
    expect(pb.rank).toBe(1);
    [1, 2, 2, 4].forEach((v, i) => expect(Math.abs(pb.inverse[i] - v / 25)).toBeLessThan(1e-15));
  });
});

class MemorySource implements GenotypeSource {
  readonly format = 'numeric' as const;
  readonly label = 'memory';
  readonly sampleIds = null;
  readonly snps: SnpMeta[];
  constructor(
    readonly nSamples: number,
    private readonly rows: number[][],
  ) {
    this.snps = rows.map((_, i) => ({ chr: '1', rs: `s${i}`, pos: i * 100, cm: -9, a1: 'A', a0: 'B' }));
  }
  async *blocks(opts: BlockOptions): AsyncGenerator<GenoBlock> {
    const start = opts.start ?? 0;
    const end = opts.end ?? this.rows.length;
    for (let s = start; s < end; s++) yield { indices: Int32Array.of(s), count: 1, n: this.nSamples, data: Float64Array.from(this.rows[s]) };
  }
  async close(): Promise<void> {}
}

describe('imputation (genotype cache)', () => {
  it('rMVP Major: most frequent truncated genotype over all samples, ties to the smallest', () => {
    const f = (v: number[]) => majorGenotype(Float64Array.from(v), 0, v.length);
    expect(f([0, 1, 2])).toBe(0);
    expect(f([1, 1, 2, 2, 0])).toBe(1);
    expect(f([2, 2, 0, 0, 1])).toBe(0);
    expect(f([2, 2, 1, NaN, NaN, NaN])).toBe(2);
    expect(f([1.7, 1.2, 0.4, 2])).toBe(1);
  });

  it('fills missing calls by policy; major counts samples outside the analysed set', async () => {
    const NA = NaN;
    // Sample 3 is not analysed; over all samples 2 is the major genotype, over the analysed ones 0 is.
    const src = new MemorySource(5, [
      [0, NA, 2, 2, 2],
      [1, 0.5, NA, 1, 2],
    ]);
    const analysed = Int32Array.from([0, 1, 2, 4]);
    const major = await AnalysedGenotypes.load(src, analysed, 'major');
    expect(Array.from(major.row(0))).toEqual([0, 2, 2, 2]);
    expect(major.nMiss[0]).toBe(1);
    expect(major.af[0]).toBeCloseTo(4 / 6, 15);
    expect(Array.from(major.row(1))).toEqual([1, 0.5, 1, 2]); // dense row (fractional dosage); major of {1,0,1,2} truncated
    const middle = await AnalysedGenotypes.load(src, analysed, 'middle');
    expect(Array.from(middle.row(0))).toEqual([0, 1, 2, 2]);
    const mean = await AnalysedGenotypes.load(src, analysed, 'mean');
    expect(Array.from(mean.row(0))).toEqual([0, 4 / 3, 2, 2]);
    expect(mean.afAll[0]).toBeCloseTo(6 / 8, 15);
    const sel = major.select(Int32Array.from([1, 0]));
    expect(Array.from(sel.row(1))).toEqual([0, 2, 2, 2]);
  });
});
