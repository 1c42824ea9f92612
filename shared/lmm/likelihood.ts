/**
 * Likelihoods of the linear mixed model in the eigen-rotated basis, and their first two derivatives in λ.
 *
 * Model (Zhou & Stephens 2012, Nat Genet 44:821, and its supplement §3): y = Xb + g + e, g ~ N(0, λτ⁻¹K),
 * e ~ N(0, τ⁻¹I). With K = U diag(s) Uᵀ and everything rotated by Uᵀ, the covariance is τ⁻¹H with
 * H = diag(λs_k + 1), so every quantity is a weighted sum over the n eigen-indices k with weights
 * δ_k = 1/(λs_k + 1) (and δ², δ³ for derivatives).
 *
 * For the variables v = [X (q columns), y] we form the weighted Gram matrices
 *   G_r(λ) = Σ_k δ_k^{r+1} v_k v_kᵀ,  r = 0, 1, 2,
 * from which (with A = G₀[X,X], β = A⁻¹G₀[X,y], ρ = [−β; 1]):
 *   yᵀPy   = G₀[y,y] − G₀[y,X]β,         yᵀPPy = ρᵀG₁ρ,
 *   yᵀPPPy = ρᵀG₂ρ − (G₁[X,·]ρ)ᵀA⁻¹(G₁[X,·]ρ),
 *   tr P   = Σδ − tr(A⁻¹G₁[X,X]),        tr PP = Σδ² − 2tr(A⁻¹G₂[X,X]) + tr((A⁻¹G₁[X,X])²),
 * where P = H⁻¹ − H⁻¹X(XᵀH⁻¹X)⁻¹XᵀH⁻¹. The log-likelihoods, profiled over τ and b, are
 *   ML:   ℓ(λ) = n/2·(log n − log 2π − 1) − ½Σlog(λs_k+1) − n/2·log yᵀPy
 *   REML: ℓ_R(λ) = d/2·(log d − log 2π − 1) − ½Σlog(λs_k+1) − ½(log|XᵀH⁻¹X| − log|XᵀX|) − d/2·log yᵀPy,
 * d = n − q, and the derivatives follow from d(yᵀPy)/dλ = −yᵀPKPy with λ·yᵀPKPy = yᵀPy − yᵀPPy (GEMMA's
 * identities), so they agree with GEMMA 0.98.5 (src/lmm.cpp LogL_f/LogRL_f and their dev1/dev2) to rounding.
 *
 * Cost: O(n·V²) per evaluation for V = q + 1 variables; no allocation per evaluation.
 */

/** Number of entries of a packed symmetric V × V matrix. */
export const packedSize = (v: number) => (v * (v + 1)) / 2;
/** Index of (a, b), a ≤ b, in a packed upper triangle stored row by row. */
const pidx = (v: number, a: number, b: number): number => (a <= b ? a * v - (a * (a - 1)) / 2 + (b - a) : pidx(v, b, a));

export interface Derivs {
  f: number;
  d1: number;
  d2: number;
}

/**
 * One likelihood problem: eigenvalues s and the rotated variables v (q fixed-effect columns then y).
 * `setVariables` swaps in new columns (per SNP) without reallocating.
 */
export class LmmLikelihood {
  readonly n: number;
  readonly V: number;
  readonly q: number;
  private readonly np: number;
  /** Per-k products v_a v_b, k-major: prod[k·np + pidx(a,b)]. */
  private readonly prod: Float64Array;
  private readonly g0: Float64Array;
  private readonly g1: Float64Array;
  private readonly g2: Float64Array;
  private readonly unit: Float64Array;
  private sumD = 0;
  private sumD2 = 0;
  private logDetH = 0;
  private logDetXtX = 0;
  // Scratch for the q × q algebra.
  private readonly chol: Float64Array;
  private readonly tmpQ: Float64Array;
  private readonly tmpQ2: Float64Array;
  private readonly tmpQ3: Float64Array;
  private readonly ainvG1: Float64Array;

  constructor(
    readonly s: Float64Array,
    q: number,
  ) {
    this.n = s.length;
    this.q = q;
    this.V = q + 1;
    this.np = packedSize(this.V);
    this.prod = new Float64Array(this.n * this.np);
    this.g0 = new Float64Array(this.np);
    this.g1 = new Float64Array(this.np);
    this.g2 = new Float64Array(this.np);
    this.unit = new Float64Array(this.np);
    this.chol = new Float64Array(q * q);
    this.tmpQ = new Float64Array(q);
    this.tmpQ2 = new Float64Array(q);
    this.tmpQ3 = new Float64Array(q);
    this.ainvG1 = new Float64Array(q * q);
  }

  /**
   * Sets the rotated variables: `cols[j]` is Uᵀv_j (length n) for j < q, then Uᵀy last.
   * Returns false when XᵀX is singular (e.g. a constant SNP beside the intercept).
   */
  setVariables(cols: ReadonlyArray<Float64Array>): boolean {
    const { n, V, np, prod, unit } = this;
    unit.fill(0);
    let p = 0;
    for (let a = 0; a < V; a++) {
      const va = cols[a];
      for (let b = a; b < V; b++) {
        const vb = cols[b];
        let acc = 0;
        for (let k = 0, o = p; k < n; k++, o += np) {
          const v = va[k] * vb[k];
          prod[o] = v;
          acc += v;
        }
        unit[p] = acc;
        p++;
      }
    }
    const ld = this.cholesky(unit);
    this.logDetXtX = ld;
    return Number.isFinite(ld);
  }

  /** Accumulates G₀ (order ≥ 0), G₁ (order ≥ 1), G₂ (order ≥ 2) and the traces at λ. */
  private accumulate(lambda: number, order: 0 | 1 | 2, withLogDet: boolean): void {
    const { n, np, prod, s, g0, g1, g2 } = this;
    g0.fill(0);
    let sd = 0;
    let sd2 = 0;
    let ldh = 0;
    if (order === 0) {
      for (let k = 0, o = 0; k < n; k++, o += np) {
        const h = lambda * s[k] + 1;
        const d = 1 / h;
        sd += d;
        if (withLogDet) ldh += Math.log(h);
        for (let j = 0; j < np; j++) g0[j] += d * prod[o + j];
      }
    } else if (order === 1) {
      g1.fill(0);
      for (let k = 0, o = 0; k < n; k++, o += np) {
        const h = lambda * s[k] + 1;
        const d = 1 / h;
        const dd = d * d;
        sd += d;
        sd2 += dd;
        if (withLogDet) ldh += Math.log(h);
        for (let j = 0; j < np; j++) {
          const v = prod[o + j];
          g0[j] += d * v;
          g1[j] += dd * v;
        }
      }
    } else {
      g1.fill(0);
      g2.fill(0);
      for (let k = 0, o = 0; k < n; k++, o += np) {
        const h = lambda * s[k] + 1;
        const d = 1 / h;
        const dd = d * d;
        const ddd = dd * d;
        sd += d;
        sd2 += dd;
        if (withLogDet) ldh += Math.log(h);
        for (let j = 0; j < np; j++) {
          const v = prod[o + j];
          g0[j] += d * v;
          g1[j] += dd * v;
          g2[j] += ddd * v;
        }
      }
    }
    this.sumD = sd;
    this.sumD2 = sd2;
    this.logDetH = ldh;
  }

  /** Cholesky of the X-block of a packed Gram matrix into `chol`; returns log det, or NaN if not PD. */
  private cholesky(g: Float64Array): number {
    const { q, V, chol } = this;
    let logdet = 0;
    for (let i = 0; i < q; i++) {
      for (let j = 0; j <= i; j++) {
        let sum = g[pidx(V, j, i)];
        for (let k = 0; k < j; k++) sum -= chol[i * q + k] * chol[j * q + k];
        if (i === j) {
          if (!(sum > 0)) return NaN;
          const r = Math.sqrt(sum);
          chol[i * q + i] = r;
          logdet += 2 * Math.log(r);
        } else {
          chol[i * q + j] = sum / chol[j * q + j];
        }
      }
    }
    return logdet;
  }

  /** Solves A x = b in place using `chol` (A = LLᵀ). */
  private cholSolve(x: Float64Array): void {
    const { q, chol } = this;
    for (let i = 0; i < q; i++) {
      let s = x[i];
      for (let k = 0; k < i; k++) s -= chol[i * q + k] * x[k];
      x[i] = s / chol[i * q + i];
    }
    for (let i = q - 1; i >= 0; i--) {
      let s = x[i];
      for (let k = i + 1; k < q; k++) s -= chol[k * q + i] * x[k];
      x[i] = s / chol[i * q + i];
    }
  }

  /**
   * The projected quantities at the last accumulated λ. `order` 0 gives yᵀPy and log|A|; 1 adds yᵀPPy and
   * tr P; 2 adds yᵀPPPy and tr PP.
   */
  private projected(order: 0 | 1 | 2): {
    Pyy: number;
    PPyy: number;
    PPPyy: number;
    trP: number;
    trPP: number;
    logDetA: number;
  } {
    const { q, V, g0, g1, g2, tmpQ: beta, tmpQ2: u, ainvG1 } = this;
    const y = q;
    const logDetA = this.cholesky(g0);
    if (!Number.isFinite(logDetA)) return { Pyy: NaN, PPyy: NaN, PPPyy: NaN, trP: NaN, trPP: NaN, logDetA: NaN };
    for (let i = 0; i < q; i++) beta[i] = g0[pidx(V, i, y)];
    this.cholSolve(beta);
    let Pyy = g0[pidx(V, y, y)];
    for (let i = 0; i < q; i++) Pyy -= g0[pidx(V, i, y)] * beta[i];
    if (order === 0) return { Pyy, PPyy: NaN, PPPyy: NaN, trP: NaN, trPP: NaN, logDetA };
    // ρ = [−β; 1]; ρᵀG₁ρ.
    const quad = (g: Float64Array) => {
      let s = g[pidx(V, y, y)];
      for (let i = 0; i < q; i++) {
        s -= 2 * beta[i] * g[pidx(V, i, y)];
        for (let j = 0; j < q; j++) s += beta[i] * beta[j] * g[pidx(V, i, j)];
      }
      return s;
    };
    const PPyy = quad(g1);
    // A⁻¹G₁[X,X], column by column.
    let trAinvG1 = 0;
    for (let j = 0; j < q; j++) {
      for (let i = 0; i < q; i++) u[i] = g1[pidx(V, i, j)];
      this.cholSolve(u);
      for (let i = 0; i < q; i++) ainvG1[i * q + j] = u[i];
      trAinvG1 += u[j];
    }
    const trP = this.sumD - trAinvG1;
    if (order === 1) return { Pyy, PPyy, PPPyy: NaN, trP, trPP: NaN, logDetA };
    // u = G₁[X,·]ρ; yᵀPPPy = ρᵀG₂ρ − uᵀA⁻¹u.
    for (let i = 0; i < q; i++) {
      let s = g1[pidx(V, i, y)];
      for (let j = 0; j < q; j++) s -= g1[pidx(V, i, j)] * beta[j];
      u[i] = s;
    }
    let uAinvU = 0;
    {
      const w = this.tmpQ3;
      w.set(u);
      this.cholSolve(w);
      for (let i = 0; i < q; i++) uAinvU += u[i] * w[i];
    }
    const PPPyy = quad(g2) - uAinvU;
    let trAinvG2 = 0;
    for (let j = 0; j < q; j++) {
      for (let i = 0; i < q; i++) u[i] = g2[pidx(V, i, j)];
      this.cholSolve(u);
      trAinvG2 += u[j];
    }
    let trSq = 0;
    for (let i = 0; i < q; i++) for (let j = 0; j < q; j++) trSq += ainvG1[i * q + j] * ainvG1[j * q + i];
    const trPP = this.sumD2 - 2 * trAinvG2 + trSq;
    return { Pyy, PPyy, PPPyy, trP, trPP, logDetA };
  }

  /** REML log-likelihood ℓ_R(λ) (GEMMA clamps yᵀPy below at 1e-8; so do we). */
  remlF(lambda: number): number {
    this.accumulate(lambda, 0, true);
    const { Pyy, logDetA } = this.projected(0);
    const df = this.n - this.q;
    const pyy = Pyy < 1e-8 ? 1e-8 : Pyy;
    return (
      0.5 * df * (Math.log(df) - Math.log(2 * Math.PI) - 1) -
      0.5 * this.logDetH -
      0.5 * (logDetA - this.logDetXtX) -
      0.5 * df * Math.log(pyy)
    );
  }

  /** ML log-likelihood ℓ(λ). */
  mlF(lambda: number): number {
    this.accumulate(lambda, 0, true);
    const { Pyy } = this.projected(0);
    const n = this.n;
    return 0.5 * n * (Math.log(n) - Math.log(2 * Math.PI) - 1) - 0.5 * this.logDetH - 0.5 * n * Math.log(Pyy);
  }

  /** dℓ_R/dλ. */
  remlD1(lambda: number): number {
    this.accumulate(lambda, 1, false);
    const { Pyy, PPyy, trP } = this.projected(1);
    const df = this.n - this.q;
    const trPK = (df - trP) / lambda;
    const yPKPy = (Pyy - PPyy) / lambda;
    return -0.5 * trPK + (0.5 * df * yPKPy) / Pyy;
  }

  /** dℓ/dλ (ML). */
  mlD1(lambda: number): number {
    this.accumulate(lambda, 1, false);
    const { Pyy, PPyy } = this.projected(1);
    const n = this.n;
    const trHiK = (n - this.sumD) / lambda;
    const yPKPy = (Pyy - PPyy) / lambda;
    return -0.5 * trHiK + (0.5 * n * yPKPy) / Pyy;
  }

  /** First and second derivatives of ℓ_R. */
  remlD12(lambda: number, out: Derivs): Derivs {
    this.accumulate(lambda, 2, false);
    const { Pyy, PPyy, PPPyy, trP, trPP } = this.projected(2);
    const df = this.n - this.q;
    const l2 = lambda * lambda;
    const trPK = (df - trP) / lambda;
    const trPKPK = (df + trPP - 2 * trP) / l2;
    const yPKPy = (Pyy - PPyy) / lambda;
    const yPKPKPy = (Pyy + PPPyy - 2 * PPyy) / l2;
    out.d1 = -0.5 * trPK + (0.5 * df * yPKPy) / Pyy;
    out.d2 = 0.5 * trPKPK - (0.5 * df * (2 * yPKPKPy * Pyy - yPKPy * yPKPy)) / (Pyy * Pyy);
    return out;
  }

  /** First and second derivatives of ℓ (ML). */
  mlD12(lambda: number, out: Derivs): Derivs {
    this.accumulate(lambda, 2, false);
    const { Pyy, PPyy, PPPyy } = this.projected(2);
    const n = this.n;
    const l2 = lambda * lambda;
    const trHiK = (n - this.sumD) / lambda;
    const trHiKHiK = (n + this.sumD2 - 2 * this.sumD) / l2;
    const yPKPy = (Pyy - PPyy) / lambda;
    const yPKPKPy = (Pyy + PPPyy - 2 * PPyy) / l2;
    out.d1 = -0.5 * trHiK + (0.5 * n * yPKPy) / Pyy;
    out.d2 = 0.5 * trHiKHiK - (0.5 * n * (2 * yPKPKPy * Pyy - yPKPy * yPKPy)) / (Pyy * Pyy);
    return out;
  }

  /**
   * Generalised least squares at λ: β̂ = (XᵀH⁻¹X)⁻¹XᵀH⁻¹y, yᵀPy, and (XᵀH⁻¹X)⁻¹ (row-major q × q).
   * Used for the null-model covariate effects and for the per-SNP Wald/score statistics.
   */
  gls(lambda: number): { beta: Float64Array; Pyy: number; inv: Float64Array } {
    this.accumulate(lambda, 0, false);
    const { q, V, g0 } = this;
    const { Pyy } = this.projected(0);
    const beta = new Float64Array(q);
    for (let i = 0; i < q; i++) beta[i] = g0[pidx(V, i, q)];
    this.cholSolve(beta);
    const inv = new Float64Array(q * q);
    const e = new Float64Array(q);
    for (let j = 0; j < q; j++) {
      e.fill(0);
      e[j] = 1;
      this.cholSolve(e);
      for (let i = 0; i < q; i++) inv[i * q + j] = e[i];
    }
    return { beta, Pyy, inv };
  }

  /** The packed G₀ at the last accumulated λ, for callers that need raw weighted products. */
  gram0(lambda: number): Float64Array {
    this.accumulate(lambda, 0, false);
    return this.g0;
  }

  /** Index helper for {@link gram0}. */
  index(a: number, b: number): number {
    return pidx(this.V, a, b);
  }
}
