/**
 * P3D / EMMAX marker test of GAPIT's CMLM (`GAPIT.EMMAxP3D` with SNP.P3D = TRUE; FARMCPU_CMLM.md §2.5), on the
 * low-rank form of H = ZKWZᵀ + δI (see model.ts): δ and σ²_a come from the chosen compression level's REML and
 * are not re-estimated per marker.
 *
 * For a marker x (missing values already imputed as 1, GAPIT's "Middle"), with e = Eᵀx and w = 1/(μ + δ):
 *   xᵀH⁻¹x = Σ w e² + (xᵀx − Σ e²)/δ,  XᵀH⁻¹x and yᵀH⁻¹x alike,
 *   B22 = xᵀH⁻¹x − (XᵀH⁻¹x)ᵀ(XᵀH⁻¹X)⁻¹(XᵀH⁻¹x),  β̂ = (yᵀH⁻¹x − (XᵀH⁻¹x)ᵀ(XᵀH⁻¹X)⁻¹XᵀH⁻¹y)/B22,
 *   t = β̂/√(σ²_a/B22),  p = 2·Pr(T_{n−q−1} > |t|).
 * This is GAPIT's partitioned-inverse GLS on U'x, U'X, U'y with U Uᵀ = H⁻¹, without forming U.
 * A monomorphic marker gets p = 1 and no effect; a marker whose B22 is not positive (collinear with X) gets
 * p = 1 (GAPIT turns its NA p into 1). With no kinship (g = 1, GAPIT's GLM) H = I and σ²_a is replaced by the
 * null model's residual variance (GAPIT's quirk, spec §2.6).
 * Complexity: O(rank·q + n·q) per marker after the rotation e = Eᵀx (O(n·rank), done in blocks by GEMM).
 */
import { logTTwoSidedP } from '../stats/distributions.js';
import { invertSmall, olsPieces, type Design, type ScanBasis } from './model.js';

export interface P3dResult {
  beta: number;
  se: number;
  /** log10 of the two-sided p-value (0 for p = 1). */
  log10p: number;
}

export const MONOMORPHIC: P3dResult = Object.freeze({ beta: NaN, se: NaN, log10p: 0 });

export class P3dScanner {
  readonly df: number;
  private readonly w: Float64Array;
  private readonly EtX: Float64Array;
  private readonly Ety: Float64Array;
  private readonly iXHX: Float64Array;
  private readonly XHy: Float64Array;
  private readonly invDelta: number;
  private readonly complement: boolean;
  private readonly Xx: Float64Array;
  private readonly XHx: Float64Array;
  private readonly EtXe: Float64Array;

  /**
   * @param basis the level's scan basis (rank 0 for the no-kinship GLM case)
   * @param delta δ = σ²_e/σ²_a (1 for the GLM case)
   * @param vg σ²_a (the null residual variance for the GLM case)
   */
  constructor(
    readonly basis: ScanBasis,
    readonly design: Design,
    readonly delta: number,
    readonly vg: number,
  ) {
    const { n, q, X, y } = design;
    const r = basis.rank;
    this.df = n - q - 1;
    this.invDelta = 1 / delta;
    this.complement = r < n;
    this.w = new Float64Array(r);
    for (let k = 0; k < r; k++) this.w[k] = 1 / (basis.mu[k] + delta);
    this.EtX = new Float64Array(r * q);
    this.Ety = new Float64Array(r);
    const E = basis.E;
    for (let i = 0; i < n; i++) {
      const yi = y[i];
      for (let k = 0; k < r; k++) {
        const v = E[i * r + k];
        this.Ety[k] += v * yi;
        for (let a = 0; a < q; a++) this.EtX[k * q + a] += v * X[i * q + a];
      }
    }
    const ols = olsPieces(design);
    const XHX = new Float64Array(q * q);
    this.XHy = new Float64Array(q);
    for (let a = 0; a < q; a++) {
      for (let b = 0; b < q; b++) {
        let s = 0;
        let s0 = 0;
        for (let k = 0; k < r; k++) {
          const p = this.EtX[k * q + a] * this.EtX[k * q + b];
          s += this.w[k] * p;
          s0 += p;
        }
        XHX[a * q + b] = s + (this.complement ? (ols.XtX[a * q + b] - s0) * this.invDelta : 0);
      }
      let s = 0;
      let s0 = 0;
      for (let k = 0; k < r; k++) {
        const p = this.EtX[k * q + a] * this.Ety[k];
        s += this.w[k] * p;
        s0 += p;
      }
      this.XHy[a] = s + (this.complement ? (ols.Xty[a] - s0) * this.invDelta : 0);
    }
    this.iXHX = invertSmall(XHX, q);
    this.Xx = new Float64Array(q);
    this.XHx = new Float64Array(q);
    this.EtXe = new Float64Array(q);
  }

  /** Tests marker x (n values from `xOff`) given its rotation e = Eᵀx (rank values from `eOff`). */
  test(x: Float64Array, xOff: number, e: Float64Array, eOff: number): P3dResult {
    const { n, q, X, y } = this.design;
    const r = this.basis.rank;
    const { w, EtX, Ety, Xx, XHx, EtXe, iXHX, XHy } = this;
    let xx = 0;
    let yx = 0;
    Xx.fill(0);
    for (let i = 0; i < n; i++) {
      const v = x[xOff + i];
      xx += v * v;
      yx += y[i] * v;
      for (let a = 0; a < q; a++) Xx[a] += X[i * q + a] * v;
    }
    let xHx = 0;
    let ee = 0;
    let yHx = 0;
    let ye = 0;
    EtXe.fill(0);
    XHx.fill(0);
    for (let k = 0; k < r; k++) {
      const ek = e[eOff + k];
      const wk = w[k];
      xHx += wk * ek * ek;
      ee += ek * ek;
      yHx += wk * Ety[k] * ek;
      ye += Ety[k] * ek;
      for (let a = 0; a < q; a++) {
        const p = EtX[k * q + a] * ek;
        XHx[a] += wk * p;
        EtXe[a] += p;
      }
    }
    if (this.complement) {
      const id = this.invDelta;
      xHx += (xx - ee) * id;
      yHx += (yx - ye) * id;
      for (let a = 0; a < q; a++) XHx[a] += (Xx[a] - EtXe[a]) * id;
    }
    let quad = 0;
    let cross = 0;
    for (let a = 0; a < q; a++) {
      let s = 0;
      for (let b = 0; b < q; b++) s += iXHX[a * q + b] * XHx[b];
      quad += XHx[a] * s;
      cross += XHy[a] * s;
    }
    const B22 = xHx - quad;
    if (!(B22 > 0)) return MONOMORPHIC;
    const beta = (yHx - cross) / B22;
    const se = Math.sqrt(this.vg / B22);
    const t = beta / se;
    const lp = logTTwoSidedP(t, this.df);
    if (!(lp === lp)) return { beta, se, log10p: 0 };
    return { beta, se, log10p: lp / Math.LN10 };
  }
}

/**
 * Reference dense P3D test of one marker on H = K_n + δI given as a full eigendecomposition (K_n = V diag(μ) Vᵀ,
 * n × n, negatives set to 0): U = V diag(1/√(μ+δ)), then GLS on Uᵀ[X x] and Uᵀy. O(n²) per marker; used to
 * check {@link P3dScanner}.
 */
export function denseP3d(V: Float64Array, mu: Float64Array, design: Design, delta: number, vg: number, x: Float64Array): P3dResult {
  const { n, q, X, y } = design;
  const p = q + 1;
  const Xt = new Float64Array(n * p);
  const yt = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const s = 1 / Math.sqrt(Math.max(mu[k], 0) + delta);
    let sy = 0;
    const acc = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      const v = V[i * n + k];
      sy += v * y[i];
      for (let a = 0; a < q; a++) acc[a] += v * X[i * q + a];
      acc[q] += v * x[i];
    }
    yt[k] = sy * s;
    for (let a = 0; a < p; a++) Xt[k * p + a] = acc[a] * s;
  }
  const XtX = new Float64Array(p * p);
  const Xty = new Float64Array(p);
  for (let k = 0; k < n; k++) {
    for (let a = 0; a < p; a++) {
      Xty[a] += Xt[k * p + a] * yt[k];
      for (let b = 0; b < p; b++) XtX[a * p + b] += Xt[k * p + a] * Xt[k * p + b];
    }
  }
  const inv = invertSmall(XtX, p);
  let beta = 0;
  for (let b = 0; b < p; b++) beta += inv[q * p + b] * Xty[b];
  const se = Math.sqrt(inv[q * p + q] * vg);
  const lp = logTTwoSidedP(beta / se, n - q - 1);
  return { beta, se, log10p: lp / Math.LN10 };
}
