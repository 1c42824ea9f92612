/**
 * The compressed mixed model y = Xβ + Zu + e, u ~ N(0, σ²_a KW), e ~ N(0, σ²_e I) of one compression level, in
 * the two spectral forms GAPIT uses (FARMCPU_CMLM.md §2.3, §2.5):
 *
 * - **REML spectrum** ({@link remlSpectrum}), EMMA's `emma.eigen.R.w.Z` / `.wo.Z`: the non-zero eigenvalues λ of
 *   S·ZKWZᵀ·S (S = I − X(XᵀX)⁻¹Xᵀ), GAPIT keeping the t − q of largest modulus, and the projections η of y.
 *   With Z (t < n) it is computed in the t-dimensional column space of SZ: A = ZᵀSZ = W diag(a) Wᵀ gives the
 *   orthonormal basis B = SZ·W₊·diag(a₊^-½), and S·ZKWZᵀ·S = B·C·Bᵀ with C = diag(a₊^½)W₊ᵀ·KW·W₊diag(a₊^½),
 *   so two t × t eigenproblems replace GAPIT's n × n QR; η = Gᵀ diag(a₊^-½) W₊ᵀ ZᵀSy, and the squared norm
 *   of Sy left over (η₂) is yᵀSy − Σ η². Without Z (every phenotyped individual alone in its group) the n × n
 *   matrix S(K + I)S is decomposed as EMMA does (its n − q largest eigenvalues, minus 1).
 * - **Scan basis** ({@link scanBasis}), EMMA's `emma.eigen.L.w.Z`: ZKWZᵀ = E·diag(μ)·Eᵀ with E = Z·D^-½·G (n × t,
 *   orthonormal; D = ZᵀZ the group sizes, D^½·KW·D^½ = G diag(μ) Gᵀ), negative μ set to 0 as GAPIT does. Then
 *   H = ZKWZᵀ + δI has H⁻¹ = E diag(1/(μ+δ)) Eᵀ + (I − EEᵀ)/δ: rank t plus an analytic identity part, so a SNP
 *   costs O(n·t) to rotate instead of O(n²). Without Z, E holds all n eigenvectors of K.
 *
 * Eigen-solves go through the linalg backend (LAPACK dsyevd natively). Complexity: O(t³ + n·t·q) per level with
 * Z, O(n³) without.
 */
import type { LinalgBackend } from '../linalg/backend.js';
import { NumericError } from '../errors.js';
import type { Compression } from './compress.js';
import type { RemlSpectrum } from './emma.js';

/** Fixed effects and phenotype of the phenotyped individuals (row-major X, n × q). */
export interface Design {
  n: number;
  q: number;
  X: Float64Array;
  y: Float64Array;
}

/** Inverse of a small symmetric positive-definite matrix (Gauss–Jordan with partial pivoting). */
export function invertSmall(A: Float64Array, q: number): Float64Array {
  const M = Float64Array.from(A);
  const inv = new Float64Array(q * q);
  for (let i = 0; i < q; i++) inv[i * q + i] = 1;
  for (let c = 0; c < q; c++) {
    let piv = c;
    for (let r = c + 1; r < q; r++) if (Math.abs(M[r * q + c]) > Math.abs(M[piv * q + c])) piv = r;
    if (M[piv * q + c] === 0) {
      throw new NumericError(
        'the covariate matrix is singular (a covariate is constant, duplicated or a combination of others)',
        'remove redundant covariate columns',
      );
    }
    if (piv !== c) {
      for (let k = 0; k < q; k++) {
        [M[c * q + k], M[piv * q + k]] = [M[piv * q + k], M[c * q + k]];
        [inv[c * q + k], inv[piv * q + k]] = [inv[piv * q + k], inv[c * q + k]];
      }
    }
    const d = M[c * q + c];
    for (let k = 0; k < q; k++) {
      M[c * q + k] /= d;
      inv[c * q + k] /= d;
    }
    for (let r = 0; r < q; r++) {
      if (r === c) continue;
      const f = M[r * q + c];
      if (f === 0) continue;
      for (let k = 0; k < q; k++) {
        M[r * q + k] -= f * M[c * q + k];
        inv[r * q + k] -= f * inv[c * q + k];
      }
    }
  }
  return inv;
}

/** XᵀX (q × q), Xᵀy, (XᵀX)⁻¹ and the OLS pieces of the design. */
export function olsPieces(d: Design) {
  const { n, q, X, y } = d;
  const XtX = new Float64Array(q * q);
  const Xty = new Float64Array(q);
  let yty = 0;
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < q; a++) {
      const xa = X[i * q + a];
      Xty[a] += xa * y[i];
      for (let b = 0; b < q; b++) XtX[a * q + b] += xa * X[i * q + b];
    }
    yty += y[i] * y[i];
  }
  const iXtX = invertSmall(XtX, q);
  const beta = new Float64Array(q);
  for (let a = 0; a < q; a++) for (let b = 0; b < q; b++) beta[a] += iXtX[a * q + b] * Xty[b];
  let yPy = yty;
  for (let a = 0; a < q; a++) yPy -= beta[a] * Xty[a];
  return { XtX, Xty, iXtX, beta, yty, yPy };
}

/** Symmetrises a row-major n × n matrix in place (average of the two triangles). */
function symmetrise(A: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (A[i * n + j] + A[j * n + i]);
      A[i * n + j] = v;
      A[j * n + i] = v;
    }
  }
}

/** K_ind[a, b] = KW[group(a), group(b)] over the phenotyped individuals (n × n). */
export function individualKinship(c: Compression): Float64Array {
  const n = c.groupOf.length;
  const out = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    const ra = c.groupOf[a] * c.t;
    for (let b = 0; b < n; b++) out[a * n + b] = c.KW[ra + c.groupOf[b]];
  }
  return out;
}

/** Whether GAPIT drops Z for this level (Z square: every phenotyped individual alone in its group). */
export function isUncompressed(c: Compression): boolean {
  return c.t === c.groupOf.length;
}

/** EMMA's REML spectrum of one compression level (see the module comment). */
export async function remlSpectrum(c: Compression, d: Design, backend: LinalgBackend): Promise<RemlSpectrum> {
  const { n, q, X, y } = d;
  const ols = olsPieces(d);
  if (isUncompressed(c)) {
    // S (K + I) S, decomposed whole (emma.eigen.R.wo.Z).
    const A = individualKinship(c);
    for (let i = 0; i < n; i++) A[i * n + i] += 1;
    const P = new Float64Array(n * q); // X (XᵀX)⁻¹
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < q; a++) {
        let s = 0;
        for (let b = 0; b < q; b++) s += X[i * q + b] * ols.iXtX[b * q + a];
        P[i * q + a] = s;
      }
    }
    // T = A − P (Xᵀ A); then S A S = T − (T X) Pᵀ.
    const XtA = new Float64Array(q * n);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < q; a++) {
        const xa = X[i * q + a];
        if (xa === 0) continue;
        for (let j = 0; j < n; j++) XtA[a * n + j] += xa * A[i * n + j];
      }
    }
    for (let i = 0; i < n; i++) for (let a = 0; a < q; a++) {
      const p = P[i * q + a];
      for (let j = 0; j < n; j++) A[i * n + j] -= p * XtA[a * n + j];
    }
    const TX = new Float64Array(n * q);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const v = A[i * n + j];
      for (let a = 0; a < q; a++) TX[i * q + a] += v * X[j * q + a];
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let a = 0; a < q; a++) s += TX[i * q + a] * P[j * q + a];
      A[i * n + j] -= s;
    }
    symmetrise(A, n);
    const { values, vectors } = await backend.syev(n, A);
    const k = n - q;
    const lambda = new Float64Array(k);
    const eta = new Float64Array(k);
    for (let r = 0; r < k; r++) {
      const col = n - 1 - r;
      lambda[r] = values[col] - 1;
      let s = 0;
      for (let i = 0; i < n; i++) s += vectors[i * n + col] * y[i];
      eta[r] = s;
    }
    return { n, q, lambda, eta, eta2sq: 0, r: 0 };
  }
  const t = c.t;
  const g = c.groupOf;
  // Group sums: ZᵀX (t × q), Zᵀy, sizes.
  const ZtX = new Float64Array(t * q);
  const Zty = new Float64Array(t);
  const D = new Float64Array(t);
  for (let i = 0; i < n; i++) {
    const k = g[i];
    D[k] += 1;
    Zty[k] += y[i];
    for (let a = 0; a < q; a++) ZtX[k * q + a] += X[i * q + a];
  }
  // A = ZᵀZ − ZᵀX (XᵀX)⁻¹ XᵀZ.
  const M = new Float64Array(t * q); // ZᵀX (XᵀX)⁻¹
  for (let k = 0; k < t; k++) for (let a = 0; a < q; a++) {
    let s = 0;
    for (let b = 0; b < q; b++) s += ZtX[k * q + b] * ols.iXtX[b * q + a];
    M[k * q + a] = s;
  }
  const A = new Float64Array(t * t);
  for (let k = 0; k < t; k++) {
    for (let l = 0; l < t; l++) {
      let s = 0;
      for (let a = 0; a < q; a++) s += M[k * q + a] * ZtX[l * q + a];
      A[k * t + l] = (k === l ? D[k] : 0) - s;
    }
  }
  symmetrise(A, t);
  const ea = await backend.syev(t, A);
  let amax = 0;
  for (let k = 0; k < t; k++) amax = Math.max(amax, Math.abs(ea.values[k]));
  const keepA: number[] = [];
  for (let k = t - 1; k >= 0; k--) if (ea.values[k] > 1e-10 * amax) keepA.push(k);
  const r = keepA.length;
  // F = W₊ diag(a₊^-½) (t × r); R = diag(a₊^½) W₊ᵀ.
  const F = new Float64Array(t * r);
  const Rt = new Float64Array(t * r); // Rᵀ = W₊ diag(a₊^½)
  for (let c2 = 0; c2 < r; c2++) {
    const col = keepA[c2];
    const a = ea.values[col];
    const sa = Math.sqrt(a);
    for (let k = 0; k < t; k++) {
      const w = ea.vectors[k * t + col];
      F[k * r + c2] = w / sa;
      Rt[k * r + c2] = w * sa;
    }
  }
  // C = R KW Rᵀ (r × r).
  const KR = new Float64Array(t * r);
  await backend.gemm(t, r, t, c.KW, Rt, KR, 0);
  const R = new Float64Array(r * t);
  for (let k = 0; k < t; k++) for (let a = 0; a < r; a++) R[a * t + k] = Rt[k * r + a];
  const C = new Float64Array(r * r);
  await backend.gemm(r, r, t, R, KR, C, 0);
  symmetrise(C, r);
  const ec = await backend.syev(r, C);
  // ZᵀSy = Zᵀy − ZᵀX β_ols; v = Fᵀ ZᵀSy.
  const ZtSy = new Float64Array(t);
  for (let k = 0; k < t; k++) {
    let s = Zty[k];
    for (let a = 0; a < q; a++) s -= ZtX[k * q + a] * ols.beta[a];
    ZtSy[k] = s;
  }
  const v = new Float64Array(r);
  for (let c2 = 0; c2 < r; c2++) {
    let s = 0;
    for (let k = 0; k < t; k++) s += F[k * r + c2] * ZtSy[k];
    v[c2] = s;
  }
  // Eigenpairs by decreasing modulus (R's non-symmetric eigen order); GAPIT keeps t − q of them.
  const idx = Array.from({ length: r }, (_, k) => k).sort((x, z) => Math.abs(ec.values[z]) - Math.abs(ec.values[x]) || z - x);
  const kk = Math.min(r, t - q);
  const lambda = new Float64Array(kk);
  const eta = new Float64Array(kk);
  let sumEta = 0;
  for (let k = 0; k < kk; k++) {
    const col = idx[k];
    lambda[k] = ec.values[col];
    let s = 0;
    for (let a = 0; a < r; a++) s += ec.vectors[a * r + col] * v[a];
    eta[k] = s;
    sumEta += s * s;
  }
  return { n, q, lambda, eta, eta2sq: ols.yPy - sumEta, r: n - q - kk };
}

/** The P3D scan basis of a level: H⁻¹ = E diag(w) Eᵀ + (I − EEᵀ)/δ with w = 1/(max(μ, 0) + δ). */
export interface ScanBasis {
  n: number;
  /** Columns of E (rank). */
  rank: number;
  /** n × rank, row-major, orthonormal columns. */
  E: Float64Array;
  /** Eigenvalues of ZKWZᵀ on those columns, negatives set to 0. */
  mu: Float64Array;
}

/** {@link ScanBasis} of a compression level (see the module comment). */
export async function scanBasis(c: Compression, backend: LinalgBackend): Promise<ScanBasis> {
  const n = c.groupOf.length;
  if (isUncompressed(c)) {
    const K = individualKinship(c);
    symmetrise(K, n);
    const { values, vectors } = await backend.syev(n, K);
    const mu = new Float64Array(n);
    for (let k = 0; k < n; k++) mu[k] = Math.max(values[k], 0);
    return { n, rank: n, E: vectors, mu };
  }
  const t = c.t;
  const D = new Float64Array(t);
  for (const k of c.groupOf) D[k] += 1;
  const S = new Float64Array(t * t);
  for (let a = 0; a < t; a++) for (let b = 0; b < t; b++) S[a * t + b] = Math.sqrt(D[a]) * c.KW[a * t + b] * Math.sqrt(D[b]);
  symmetrise(S, t);
  const { values, vectors } = await backend.syev(t, S);
  const mu = new Float64Array(t);
  for (let k = 0; k < t; k++) mu[k] = Math.max(values[k], 0);
  const E = new Float64Array(n * t);
  for (let i = 0; i < n; i++) {
    const k = c.groupOf[i];
    const s = 1 / Math.sqrt(D[k]);
    for (let j = 0; j < t; j++) E[i * t + j] = vectors[k * t + j] * s;
  }
  return { n, rank: t, E, mu };
}
