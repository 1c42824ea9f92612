/**
 * Fixed-effect model (FEM) scan: ordinary least squares y = W·b + x·a + e for every SNP x, with the SNP as the
 * last column, by the partitioned-inverse update (the "FEM" of FarmCPU, Liu et al. 2016 PLoS Genet
 * 12:e1005767; rMVP 1.4.6 `glm_c` in `src/assoc.cpp`; spec ../shared/docs/FARMCPU_CMLM.md §1.3 and §3).
 *
 * Model: W (n × q0) holds the intercept, covariates and (FarmCPU) pseudo-QTN genotypes; (WᵀW)⁻ is its
 * Moore–Penrose inverse (`MASS::ginv`). For a SNP with s = Wᵀx:
 *   B21 = sᵀ(WᵀW)⁻, B22 = xᵀx − B21·s (the residual sum of squares of x on W),
 *   a = (xᵀy − B21·Wᵀy) / B22, b = b₀ − B21ᵀ·a with b₀ = (WᵀW)⁻Wᵀy (the reduced model),
 *   RSS = RSS₀ − a²·B22, σ² = RSS / (n − q0 − 1),
 *   se(a) = √(σ²/B22), se(b_j) = √(((WᵀW)⁻_jj + B21_j²/B22)·σ²), t = estimate/se,
 *   p = 2·Pr(T_{n−q0−1} > |t|) (Student t, accurate far tails via shared/stats).
 * Collinearity (rMVP's rule): B22 < 1e-8 (a monomorphic SNP, a pseudo-QTN itself or an exact copy) → the SNP's
 * estimate, se and p are NA, and the covariates' statistics of that row are the reduced model's with
 * df = n − q0 and σ² = RSS₀/(n − q0).
 *
 * Cost per block of c SNPs: one GEMM X·[W | y] (c·n·(q0+1) flops; FarmCPU reuses cached products instead, see
 * {@link femTestProducts}) and one GEMM S·(WᵀW)⁻ (c·q0²) on the linalg backend, then O(q0) per SNP (O(q0)
 * p-values per SNP only when all covariate p-values are asked for).
 * Missing genotypes must be imputed before the scan (see genotypes.ts).
 */
import type { LinalgBackend } from '../linalg/backend.js';
import { logTTwoSidedP, tTwoSidedP } from '../stats/distributions.js';
import { symmetricPseudoInverse } from './ginv.js';

/** rMVP's collinearity threshold on B22 (`glm_c`). */
export const COLLINEAR_B22 = 1e-8;

export interface FemModel {
  n: number;
  q0: number;
  /** Row-major n × (q0 + 1): [W | y], the right operand of the per-block GEMM. */
  Wy: Float64Array;
  /** (WᵀW)⁻, q0 × q0. */
  iWW: Float64Array;
  /** (q0 + 1) × q0: (WᵀW)⁻ with a zero row appended (so G·iWWpad ignores G's xᵀy column). */
  iWWpad: Float64Array;
  rank: number;
  wy: Float64Array;
  yy: number;
  /** Reduced-model coefficients b₀ = (WᵀW)⁻Wᵀy. */
  beta0: Float64Array;
  /** Reduced-model residual sum of squares yᵀy − b₀ᵀWᵀy. */
  rss0: number;
}

/**
 * Sets up the scan for one covariate matrix: WᵀW, its pseudo-inverse, Wᵀy and the reduced model. O(n·q0²).
 * `W` is row-major n × q0.
 */
export function fitFemModel(y: Float64Array, W: Float64Array, n: number, q0: number): FemModel {
  const WtW = new Float64Array(q0 * q0);
  const wy = new Float64Array(q0);
  let yy = 0;
  for (let i = 0; i < n; i++) {
    const o = i * q0;
    const yi = y[i];
    yy += yi * yi;
    for (let a = 0; a < q0; a++) {
      const wa = W[o + a];
      wy[a] += wa * yi;
      for (let b = a; b < q0; b++) WtW[a * q0 + b] += wa * W[o + b];
    }
  }
  for (let a = 0; a < q0; a++) for (let b = a + 1; b < q0; b++) WtW[b * q0 + a] = WtW[a * q0 + b];
  const { inverse: iWW, rank } = symmetricPseudoInverse(WtW, q0);
  const beta0 = new Float64Array(q0);
  for (let a = 0; a < q0; a++) {
    let s = 0;
    for (let b = 0; b < q0; b++) s += iWW[a * q0 + b] * wy[b];
    beta0[a] = s;
  }
  let fit = 0;
  for (let a = 0; a < q0; a++) fit += beta0[a] * wy[a];
  const Wy = new Float64Array(n * (q0 + 1));
  for (let i = 0; i < n; i++) {
    Wy.set(W.subarray(i * q0, (i + 1) * q0), i * (q0 + 1));
    Wy[i * (q0 + 1) + q0] = y[i];
  }
  const iWWpad = new Float64Array((q0 + 1) * q0);
  iWWpad.set(iWW);
  return { n, q0, Wy, iWW, iWWpad, rank, wy, yy, beta0, rss0: yy - fit };
}

/** Per-SNP results of a block, written by {@link femScanBlock} at index 0..count−1. */
export interface FemRows {
  beta: Float64Array;
  se: Float64Array;
  t: Float64Array;
  p: Float64Array;
  /** Natural log of p (finite far below 1e-300). */
  logp: Float64Array;
  /** 1 where the SNP is collinear with W (B22 < 1e-8): estimate, se, t and p are NaN. */
  collinear: Uint8Array;
}

export function allocRows(count: number): FemRows {
  return {
    beta: new Float64Array(count),
    se: new Float64Array(count),
    t: new Float64Array(count),
    p: new Float64Array(count),
    logp: new Float64Array(count),
    collinear: new Uint8Array(count),
  };
}

/**
 * Covariate statistics to accumulate over the scanned rows (FarmCPU's "reward" needs, for each pseudo-QTN
 * column, its smallest p over all SNP rows, i.e. its largest |t| over the non-collinear rows).
 */
export interface CovariateTracker {
  /** W column indices to follow. */
  cols: Int32Array;
  /** Largest |t| of each followed column over non-collinear rows (start at 0 or −Infinity). */
  maxAbsT: Float64Array;
  /** Number of collinear rows seen (their covariate statistics are the reduced model's). */
  collinearRows: number;
}

export interface FemScratch {
  G: Float64Array;
  B21: Float64Array;
  xx: Float64Array;
}

export function allocScratch(maxCount: number, q0: number): FemScratch {
  return { G: new Float64Array(maxCount * (q0 + 1)), B21: new Float64Array(maxCount * q0), xx: new Float64Array(maxCount) };
}

/** Options of {@link femScanBlock}. */
export interface FemBlockOptions {
  tracker?: CovariateTracker;
  /**
   * When given (count × (q0 − 1), row-major), receives the two-sided p of every W column except the first
   * (the intercept), per SNP; collinear rows get the reduced model's p (df n − q0).
   */
  covP?: Float64Array;
}

/**
 * Tests `count` SNPs: `X` is row-major count × n (imputed dosages). Results go to `out[0..count)`.
 * Allocation-free given `scratch` from {@link allocScratch} with maxCount ≥ count.
 */
export async function femScanBlock(
  model: FemModel,
  backend: LinalgBackend,
  X: Float64Array,
  count: number,
  out: FemRows,
  scratch: FemScratch,
  opts: FemBlockOptions = {},
): Promise<void> {
  const { n, q0 } = model;
  const G = scratch.G.subarray(0, count * (q0 + 1));
  await backend.gemm(count, q0 + 1, n, X.subarray(0, count * n), model.Wy, G, 0);
  const xx = scratch.xx;
  for (let r = 0; r < count; r++) {
    const xo = r * n;
    let v = 0;
    for (let i = 0; i < n; i++) v += X[xo + i] * X[xo + i];
    xx[r] = v;
  }
  await femTestProducts(model, backend, G, xx, count, out, scratch, opts);
}

/**
 * The per-SNP tests from the SNPs' products with the model: row r of `G` (count × (q0 + 1)) is
 * [Wᵀx_r, yᵀx_r] and `xx[r]` = x_rᵀx_r. Callers that cache products across models (FarmCPU keeps Xᵀg for
 * every pseudo-QTN g) assemble G themselves. One GEMM G·[(WᵀW)⁻; 0] on the backend, then O(q0) per SNP.
 */
export async function femTestProducts(
  model: FemModel,
  backend: LinalgBackend,
  G: Float64Array,
  xx: Float64Array,
  count: number,
  out: FemRows,
  scratch: FemScratch,
  opts: FemBlockOptions = {},
): Promise<void> {
  const { n, q0 } = model;
  const q1 = q0 + 1;
  const B21 = scratch.B21.subarray(0, count * q0);
  await backend.gemm(count, q0, q1, G.subarray(0, count * q1), model.iWWpad, B21, 0);
  const df = n - q0 - 1;
  const dfRed = n - q0;
  const { beta0, iWW, rss0, wy } = model;
  const tracker = opts.tracker;
  const covP = opts.covP;
  for (let r = 0; r < count; r++) {
    const go = r * q1;
    const bo = r * q0;
    const xy = G[go + q0];
    let t2 = 0;
    let bwy = 0;
    for (let a = 0; a < q0; a++) {
      const b = B21[bo + a];
      t2 += b * G[go + a];
      bwy += b * wy[a];
    }
    const B22 = xx[r] - t2;
    if (!(B22 >= COLLINEAR_B22)) {
      out.collinear[r] = 1;
      out.beta[r] = NaN;
      out.se[r] = NaN;
      out.t[r] = NaN;
      out.p[r] = NaN;
      out.logp[r] = NaN;
      if (tracker) tracker.collinearRows++;
      if (covP) {
        const s2 = rss0 / dfRed;
        for (let a = 1; a < q0; a++) covP[r * (q0 - 1) + a - 1] = tTwoSidedP(beta0[a] / Math.sqrt(iWW[a * q0 + a] * s2), dfRed);
      }
      continue;
    }
    out.collinear[r] = 0;
    const est = (xy - bwy) / B22;
    const s2 = (rss0 - est * est * B22) / df;
    const se = Math.sqrt(s2 / B22);
    const t = est / se;
    out.beta[r] = est;
    out.se[r] = se;
    out.t[r] = t;
    const p = tTwoSidedP(t, df);
    out.p[r] = p;
    out.logp[r] = p > 1e-300 ? Math.log(p) : logTTwoSidedP(t, df);
    if (tracker) {
      const cols = tracker.cols;
      for (let k = 0; k < cols.length; k++) {
        const a = cols[k];
        const b = B21[bo + a];
        const bj = beta0[a] - b * est;
        const tj = Math.abs(bj / Math.sqrt((iWW[a * q0 + a] + (b * b) / B22) * s2));
        if (tj > tracker.maxAbsT[k]) tracker.maxAbsT[k] = tj;
      }
    }
    if (covP) {
      for (let a = 1; a < q0; a++) {
        const b = B21[bo + a];
        const bj = beta0[a] - b * est;
        covP[r * (q0 - 1) + a - 1] = tTwoSidedP(bj / Math.sqrt((iWW[a * q0 + a] + (b * b) / B22) * s2), df);
      }
    }
  }
}

/**
 * Reduced-model (no SNP) statistics of W column `a`: estimate b₀_a, and its p with df n − q0 and
 * σ² = RSS₀/(n − q0) — what rMVP reports for every covariate in a collinear row.
 */
export function reducedCovariateP(model: FemModel, a: number): number {
  const dfRed = model.n - model.q0;
  const s2 = model.rss0 / dfRed;
  return tTwoSidedP(model.beta0[a] / Math.sqrt(model.iWW[a * model.q0 + a] * s2), dfRed);
}

/** Two-sided p of |t| = `absT` on the SNP model's df n − q0 − 1 (turns a tracker's max |t| into a min p). */
export function markerModelP(model: FemModel, absT: number): number {
  return tTwoSidedP(absT, model.n - model.q0 - 1);
}
