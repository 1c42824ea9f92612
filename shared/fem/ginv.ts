/**
 * Small dense symmetric kernels for the fixed-effect model: a cyclic Jacobi eigensolver and the Moore–Penrose
 * pseudo-inverse built on it, as `MASS::ginv` (Venables & Ripley 2002) computes it for a symmetric positive
 * semi-definite matrix: singular values ≤ √ε · (largest) are treated as zero. Sizes here are the covariate
 * count q (≤ a few hundred), so O(q³) per call is negligible next to the scan.
 */

/**
 * Eigendecomposition of a symmetric q × q row-major matrix by cyclic Jacobi rotations (Golub & Van Loan 2013,
 * §8.5). Returns eigenvalues (unsorted) and eigenvectors as columns of a row-major q × q matrix. `a` is not
 * modified. O(q³) per sweep, typically 6–10 sweeps; accurate to a few ulp relative to ‖A‖.
 */
export function jacobiEigen(a: Float64Array, q: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a.subarray(0, q * q));
  const V = new Float64Array(q * q);
  for (let i = 0; i < q; i++) V[i * q + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < q; i++) {
      diag += A[i * q + i] * A[i * q + i];
      for (let j = i + 1; j < q; j++) off += A[i * q + j] * A[i * q + j];
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < q - 1; p++) {
      for (let r = p + 1; r < q; r++) {
        const apr = A[p * q + r];
        if (apr === 0) continue;
        const app = A[p * q + p];
        const arr = A[r * q + r];
        const theta = (arr - app) / (2 * apr);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < q; k++) {
          const akp = A[k * q + p];
          const akr = A[k * q + r];
          A[k * q + p] = c * akp - s * akr;
          A[k * q + r] = s * akp + c * akr;
        }
        for (let k = 0; k < q; k++) {
          const apk = A[p * q + k];
          const ark = A[r * q + k];
          A[p * q + k] = c * apk - s * ark;
          A[r * q + k] = s * apk + c * ark;
        }
        for (let k = 0; k < q; k++) {
          const vkp = V[k * q + p];
          const vkr = V[k * q + r];
          V[k * q + p] = c * vkp - s * vkr;
          V[k * q + r] = s * vkp + c * vkr;
        }
      }
    }
  }
  const values = new Float64Array(q);
  for (let i = 0; i < q; i++) values[i] = A[i * q + i];
  return { values, vectors: V };
}

/**
 * Pseudo-inverse of a symmetric positive semi-definite q × q matrix (`MASS::ginv` semantics: eigenvalues
 * ≤ max(√ε · λ_max, 0) are dropped). Returns the inverse and the numerical rank.
 */
export function symmetricPseudoInverse(a: Float64Array, q: number): { inverse: Float64Array; rank: number } {
  const { values, vectors } = jacobiEigen(a, q);
  let max = 0;
  for (let i = 0; i < q; i++) max = Math.max(max, values[i]);
  const tol = Math.max(Math.sqrt(Number.EPSILON) * max, 0);
  const inv = new Float64Array(q * q);
  let rank = 0;
  for (let k = 0; k < q; k++) {
    const lam = values[k];
    if (!(lam > tol)) continue;
    rank++;
    const w = 1 / lam;
    for (let i = 0; i < q; i++) {
      const vi = vectors[i * q + k] * w;
      if (vi === 0) continue;
      for (let j = 0; j < q; j++) inv[i * q + j] += vi * vectors[j * q + k];
    }
  }
  // Exact symmetry.
  for (let i = 0; i < q; i++) for (let j = i + 1; j < q; j++) inv[j * q + i] = inv[i * q + j];
  return { inverse: inv, rank };
}
