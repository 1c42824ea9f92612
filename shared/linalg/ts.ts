/**
 * Plain TypeScript kernels on Float64Array: the reference backend every other backend is tested against,
 * and the fallback that needs nothing but Node.
 *
 * Runs on the calling thread (the async signatures only satisfy the interface).
 */
import { checkDims, type EigenResult, type LinalgBackend } from './backend.js';

/**
 * `C ← beta·C + Aᵀ·A` with A row-major k × n, C n × n (both triangles written).
 * O(n²·k / 2) multiply-adds; the upper triangle is computed 4 rows at a time, then mirrored.
 */
export function tsSyrkT(n: number, k: number, a: Float64Array, c: Float64Array, beta: number): void {
  checkDims('syrkT', [
    ['A', a, n * k],
    ['C', c, n * n],
  ]);
  if (beta !== 1) {
    for (let i = 0; i < n * n; i++) c[i] = beta === 0 ? 0 : c[i] * beta;
  }
  // Row i of C (upper part, j ≥ i) accumulates Σ_s A[s,i]·A[s,j]; rows of A are contiguous so the inner loop
  // streams A[s, j..n).
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    for (let s = 0; s < k; s++) {
      const row = s * n;
      const a0 = a[row + i];
      const a1 = a[row + i + 1];
      const a2 = a[row + i + 2];
      const a3 = a[row + i + 3];
      for (let j = i; j < n; j++) {
        const v = a[row + j];
        c[r0 + j] += a0 * v;
        c[r1 + j] += a1 * v;
        c[r2 + j] += a2 * v;
        c[r3 + j] += a3 * v;
      }
    }
  }
  for (; i < n; i++) {
    const r0 = i * n;
    for (let s = 0; s < k; s++) {
      const row = s * n;
      const a0 = a[row + i];
      for (let j = i; j < n; j++) c[r0 + j] += a0 * a[row + j];
    }
  }
  // The 4-row tiles also touched a few sub-diagonal entries (j from i, not from the row's own index); the
  // mirror overwrites every strictly-lower entry from the upper triangle, so they do not matter.
  for (let r = 0; r < n; r++) {
    for (let q = r + 1; q < n; q++) c[q * n + r] = c[r * n + q];
  }
}

/**
 * `C ← A·B + beta·C` with A m × k, B k × n, C m × n (row-major). O(m·n·k) multiply-adds, 4 rows of A at a time
 * so each streamed row of B feeds four accumulator rows.
 */
export function tsGemm(
  m: number,
  n: number,
  k: number,
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  beta: number,
): void {
  checkDims('gemm', [
    ['A', a, m * k],
    ['B', b, k * n],
    ['C', c, m * n],
  ]);
  if (beta !== 1) {
    for (let i = 0; i < m * n; i++) c[i] = beta === 0 ? 0 : c[i] * beta;
  }
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const c0 = i * n;
    const c1 = c0 + n;
    const c2 = c1 + n;
    const c3 = c2 + n;
    for (let p = 0; p < k; p++) {
      const a0 = a[i * k + p];
      const a1 = a[(i + 1) * k + p];
      const a2 = a[(i + 2) * k + p];
      const a3 = a[(i + 3) * k + p];
      const bp = p * n;
      for (let j = 0; j < n; j++) {
        const v = b[bp + j];
        c[c0 + j] += a0 * v;
        c[c1 + j] += a1 * v;
        c[c2 + j] += a2 * v;
        c[c3 + j] += a3 * v;
      }
    }
  }
  for (; i < m; i++) {
    const c0 = i * n;
    for (let p = 0; p < k; p++) {
      const a0 = a[i * k + p];
      const bp = p * n;
      for (let j = 0; j < n; j++) c[c0 + j] += a0 * b[bp + j];
    }
  }
}

/**
 * Symmetric eigendecomposition by Householder tridiagonalisation followed by the implicit QL algorithm with
 * Wilkinson-style shifts (Golub & Van Loan, "Matrix Computations", §8.3; Bowdler, Martin, Reinsch & Wilkinson,
 * Numer. Math. 11 (1968)). O(n³).
 *
 * The transform is accumulated transposed (w[j·n + k] = V[k][j], one eigenvector per row) so that every inner
 * loop of the reduction, the accumulation and the QL rotations runs over contiguous memory; the textbook
 * column-oriented loops were 5–6× slower at n = 2000 (cache misses on every element).
 *
 * `a` (n × n row-major, symmetric) is left unchanged. Eigenvalues ascending; eigenvectors as columns.
 */
export function tsSyev(n: number, a: Float64Array): EigenResult {
  checkDims('syev', [['A', a, n * n]]);
  // A is symmetric, so its transpose (the starting W) is A itself.
  const w = Float64Array.from(a.subarray(0, n * n));
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n > 0) {
    tridiagonalise(n, w, d, e);
    ql(n, w, d, e);
  }
  // Rows of w are the eigenvectors: transpose into columns.
  const v = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const row = j * n;
    for (let i = 0; i < n; i++) v[i * n + j] = w[row + i];
  }
  return { values: d, vectors: v };
}

/** Householder reduction to tridiagonal form; on return w holds the accumulated transform, transposed. */
function tridiagonalise(n: number, w: Float64Array, d: Float64Array, e: Float64Array): void {
  for (let j = 0; j < n; j++) d[j] = w[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + i - 1];
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        const row = j * n;
        f = d[j];
        w[i * n + j] = f;
        g = e[j] + w[row + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const x = w[row + k];
          g += x * d[k];
          e[k] += x * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        const row = j * n;
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) w[row + k] -= f * e[k] + g * d[k];
        d[j] = w[row + i - 1];
        w[row + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate transformations.
  for (let i = 0; i < n - 1; i++) {
    const rowI = i * n;
    const rowI1 = (i + 1) * n;
    w[rowI + n - 1] = w[rowI + i];
    w[rowI + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[rowI1 + k] / h;
      for (let j = 0; j <= i; j++) {
        const row = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[rowI1 + k] * w[row + k];
        for (let k = 0; k <= i; k++) w[row + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) w[rowI1 + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j * n + n - 1];
    w[j * n + n - 1] = 0;
  }
  w[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL iterations on the tridiagonal (d, e), applying rotations to rows of w; sorts ascending. */
function ql(n: number, w: Float64Array, d: Float64Array, e: Float64Array): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m === n) m = n - 1;
    if (m > l) {
      let iter = 0;
      do {
        iter++;
        if (iter > 200) throw new Error('syev: QL iteration did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const ri = i * n;
          const ri1 = ri + n;
          for (let k = 0; k < n; k++) {
            const x1 = w[ri1 + k];
            const x0 = w[ri + k];
            w[ri1 + k] = s * x0 + c * x1;
            w[ri + k] = c * x0 - s * x1;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }
  // Selection sort into ascending order, swapping eigenvector rows with the values.
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      const ri = i * n;
      const rk = k * n;
      for (let j = 0; j < n; j++) {
        const t = w[ri + j];
        w[ri + j] = w[rk + j];
        w[rk + j] = t;
      }
    }
  }
}

/** The plain TypeScript backend. */
export const tsBackend: LinalgBackend = {
  name: 'ts',
  detail: 'ts (plain TypeScript, Float64Array, Householder + implicit QL eigensolver)',
  async syrkT(n, k, a, c, beta) {
    tsSyrkT(n, k, a, c, beta);
  },
  async gemm(m, n, k, a, b, c, beta) {
    tsGemm(m, n, k, a, b, c, beta);
  },
  async syev(n, a) {
    return tsSyev(n, a);
  },
};
