/**
 * Per-SNP mixed-model tests, GEMMA `-lmm 1..4` semantics (Zhou & Stephens 2012; GEMMA 0.98.5 src/lmm.cpp):
 * with X = [W, x] and everything rotated by Uᵀ,
 * - Wald (1, 4): λ re-estimated by REML for this SNP (l_remle); β = xᵀP_W y / xᵀP_W x,
 *   se = √(yᵀP_X y / (df · xᵀP_W x)), F = (yᵀP_W y − yᵀP_X y)·df / yᵀP_X y ~ F(1, df), df = n − c − 1;
 * - LRT (2, 4): λ re-estimated by ML (l_mle), p = P(χ²₁ > 2(ℓ₁ − ℓ₀)) with ℓ₀ the null ML log-likelihood;
 * - score (3, 4): at the null ML λ, F = n·(xᵀP_W y)² / (yᵀP_W y · xᵀP_W x) ~ F(1, df).
 * `logl_H1` is the REML log-likelihood for -lmm 1 and the ML one otherwise (GEMMA overwrites it).
 * A SNP that cannot be fitted (singular X, failed optimisation) gives NaN fields, never an exception.
 * p-values keep their log10 so that tails below 1e-300 are reported instead of 0.
 *
 * Cost per SNP: O(n·(c+2)²) per likelihood evaluation, about 25–40 evaluations.
 */
import { LmmLikelihood } from './likelihood.js';
import { lambdaGrid, mlObjective, optimiseLambda, remlObjective } from './optimize.js';
import type { NullModel } from './null.js';
import { logFUpperTail, logChisqUpperTail } from '../stats/distributions.js';

export type LmmMode = 1 | 2 | 3 | 4;

export interface LmmRow {
  beta: number;
  se: number;
  loglH1: number;
  lRemle: number;
  lMle: number;
  /** log10 of the p-values (NaN when not computed or not defined). */
  log10pWald: number;
  log10pLrt: number;
  log10pScore: number;
}

const LN10 = Math.log(10);

export class LmmScanner {
  private readonly lik: LmmLikelihood;
  private readonly cols: Float64Array[];
  private readonly df: number;
  private readonly grid: Float64Array;
  private readonly remlGrid: Float64Array;
  private readonly mlGrid: Float64Array;

  constructor(
    readonly model: NullModel,
    readonly mode: LmmMode,
  ) {
    this.lik = new LmmLikelihood(model.eigenvalues, model.c + 1);
    this.lik.cacheLogDet([model.lambdaOptions.lMin, model.lambdaOptions.lMax]);
    this.cols = [...model.UtW, new Float64Array(0), model.Uty];
    this.df = model.n - model.c - 1;
    this.grid = lambdaGrid(model.lambdaOptions);
    this.remlGrid = new Float64Array(this.grid.length);
    this.mlGrid = new Float64Array(this.grid.length);
  }

  /** Tests one SNP from its rotated genotype Uᵀx (length n). */
  test(utx: Float64Array): LmmRow {
    const { model, mode, lik, df } = this;
    const c = model.c;
    const row: LmmRow = {
      beta: NaN,
      se: NaN,
      loglH1: NaN,
      lRemle: NaN,
      lMle: NaN,
      log10pWald: NaN,
      log10pLrt: NaN,
      log10pScore: NaN,
    };
    this.cols[c] = utx;
    if (!lik.setVariables(this.cols)) return row;
    const n = model.n;
    if (mode === 3 || mode === 4) {
      const p = this.projections(model.lMle);
      row.beta = p.Pxy / p.Pxx;
      const tau = df / p.Pxyy;
      row.se = Math.sqrt(1 / (tau * p.Pxx));
      const F = (n * p.Pxy * p.Pxy) / (p.Pyy * p.Pxx);
      row.log10pScore = logFUpperTail(F, 1, df) / LN10;
    }
    const wantReml = mode === 1 || mode === 4;
    const wantMl = mode === 2 || mode === 4;
    if (wantReml || wantMl) lik.gridD1(this.grid, wantReml ? this.remlGrid : null, wantMl ? this.mlGrid : null);
    if (wantReml) {
      const r = optimiseLambda(remlObjective(lik), model.lambdaOptions, this.remlGrid);
      row.lRemle = r.lambda;
      row.loglH1 = r.logl;
      if (Number.isFinite(r.logl)) {
        const p = this.projections(r.lambda);
        row.beta = p.Pxy / p.Pxx;
        const tau = df / p.Pxyy;
        row.se = Math.sqrt(1 / (tau * p.Pxx));
        const F = (p.Pyy - p.Pxyy) * tau;
        row.log10pWald = logFUpperTail(F, 1, df) / LN10;
      }
    }
    if (wantMl) {
      const r = optimiseLambda(mlObjective(lik), model.lambdaOptions, this.mlGrid);
      row.lMle = r.lambda;
      row.loglH1 = r.logl;
      const stat = 2 * (r.logl - model.loglMle);
      row.log10pLrt = Number.isFinite(stat) ? logChisqUpperTail(stat, 1) / LN10 : NaN;
    }
    if (mode === 4 && !Number.isFinite(row.loglH1)) {
      row.log10pWald = NaN;
      row.log10pLrt = NaN;
    }
    return row;
  }

  /** xᵀP_W x, xᵀP_W y, yᵀP_W y and yᵀP_[W,x] y at λ. */
  private projections(lambda: number): { Pxx: number; Pxy: number; Pyy: number; Pxyy: number } {
    const lik = this.lik;
    const g = lik.gram0(lambda);
    const c = this.model.c;
    const x = c;
    const y = c + 1;
    // Project x and y on W by solving the c × c system (Cholesky, small).
    const A = new Float64Array(c * c);
    for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) A[i * c + j] = g[lik.index(i, j)];
    const bx = new Float64Array(c);
    const by = new Float64Array(c);
    for (let i = 0; i < c; i++) {
      bx[i] = g[lik.index(i, x)];
      by[i] = g[lik.index(i, y)];
    }
    const sx = solveSpd(A, c, bx);
    const sy = solveSpd(A, c, by);
    let Pxx = g[lik.index(x, x)];
    let Pxy = g[lik.index(x, y)];
    let Pyy = g[lik.index(y, y)];
    for (let i = 0; i < c; i++) {
      Pxx -= bx[i] * sx[i];
      Pxy -= bx[i] * sy[i];
      Pyy -= by[i] * sy[i];
    }
    const Pxyy = Pyy - (Pxy * Pxy) / Pxx;
    return { Pxx, Pxy, Pyy, Pxyy };
  }
}

/** Solves A z = b for small SPD A (row-major c × c) by Cholesky; returns z (NaN if not PD). */
export function solveSpd(A: Float64Array, c: number, b: Float64Array): Float64Array {
  const L = new Float64Array(c * c);
  for (let i = 0; i < c; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * c + j];
      for (let k = 0; k < j; k++) s -= L[i * c + k] * L[j * c + k];
      if (i === j) {
        if (!(s > 0)) return new Float64Array(c).fill(NaN);
        L[i * c + i] = Math.sqrt(s);
      } else L[i * c + j] = s / L[j * c + j];
    }
  }
  const z = Float64Array.from(b);
  for (let i = 0; i < c; i++) {
    let s = z[i];
    for (let k = 0; k < i; k++) s -= L[i * c + k] * z[k];
    z[i] = s / L[i * c + i];
  }
  for (let i = c - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < c; k++) s -= L[k * c + i] * z[k];
    z[i] = s / L[i * c + i];
  }
  return z;
}
