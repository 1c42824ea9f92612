/**
 * Invariants of the plain-TypeScript kernels (the reference backend): products against naive loops, and the
 * eigendecomposition by A·V = V·D and VᵀV = I on seeded random and kinship-like (rank-deficient) matrices.
 */
import { describe, expect, it } from 'vitest';
import { tsGemm, tsSyrkT, tsSyev } from '../../shared/linalg/ts.js';
import { doubleCentre } from '../../shared/kinship/kinship.js';
import { kinshipLike, normal, rng } from '../helpers/random.js';

const TOL_PRODUCT = 1e-12;
const TOL_EIGEN = 1e-10;

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: rows * cols }, () => normal(r));
}

function maxRelDiff(a: Float64Array, b: Float64Array): number {
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / Math.max(scale, 1e-300);
}

describe('ts kernels', () => {
  it('gemm matches the naive product for odd sizes, beta 0 and 1', () => {
    for (const [m, n, k] of [
      [1, 1, 1],
      [7, 5, 3],
      [17, 33, 9],
      [6, 4, 13],
    ]) {
      const A = randomMatrix(m, k, m * 100 + k);
      const B = randomMatrix(k, n, n * 7 + 1);
      const C0 = randomMatrix(m, n, 5);
      for (const beta of [0, 1]) {
        const C = Float64Array.from(C0);
        tsGemm(m, n, k, A, B, C, beta);
        const ref = new Float64Array(m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = beta * C0[i * n + j];
            for (let p = 0; p < k; p++) s += A[i * k + p] * B[p * n + j];
            ref[i * n + j] = s;
          }
        expect(maxRelDiff(C, ref)).toBeLessThan(TOL_PRODUCT);
      }
    }
  });

  it('syrkT matches AᵀA and is symmetric', () => {
    for (const [n, k] of [
      [1, 1],
      [5, 3],
      [17, 9],
      [33, 2],
    ]) {
      const A = randomMatrix(k, n, n + k);
      const C = new Float64Array(n * n).fill(1);
      tsSyrkT(n, k, A, C, 1);
      const ref = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 1;
          for (let p = 0; p < k; p++) s += A[p * n + i] * A[p * n + j];
          ref[i * n + j] = s;
        }
      expect(maxRelDiff(C, ref)).toBeLessThan(TOL_PRODUCT);
    }
  });

  for (const [label, make] of [
    ['random symmetric n = 60', () => {
      const n = 60;
      const A = randomMatrix(n, n, 11);
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) A[i * n + j] = A[j * n + i];
      return { n, A };
    }],
    ['double-centred low-rank kinship n = 80 (m = 30)', () => {
      const n = 80;
      const A = kinshipLike(n, 30, 3);
      doubleCentre(A, n);
      return { n, A };
    }],
  ] as const) {
    it(`syev invariants: ${label}`, () => {
      const { n, A } = make();
      const { values, vectors: V } = tsSyev(n, A);
      let norm = 0;
      for (const v of A) norm = Math.max(norm, Math.abs(v));
      let resid = 0;
      let orth = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let av = 0;
          for (let k = 0; k < n; k++) av += A[i * n + k] * V[k * n + j];
          resid = Math.max(resid, Math.abs(av - V[i * n + j] * values[j]));
          let vv = 0;
          for (let k = 0; k < n; k++) vv += V[k * n + i] * V[k * n + j];
          orth = Math.max(orth, Math.abs(vv - (i === j ? 1 : 0)));
        }
      }
      for (let i = 1; i < n; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
      console.log(`[syev ${label}] max|AV−VD|/‖A‖ = ${(resid / norm).toExponential(2)}, max|VᵀV−I| = ${orth.toExponential(2)}`);
      expect(resid / norm).toBeLessThan(TOL_EIGEN);
      expect(orth).toBeLessThan(TOL_EIGEN);
    });
  }
});
