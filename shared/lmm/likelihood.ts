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
 * Cost: O(n·V²) per evaluation for V = q + 1 variables; no allocation per evaluation. The O(n·V²) part, the
 * weighted-Gram accumulation, runs in WebAssembly SIMD when available ({@link WasmGram}, `gram-wasm.ts`; 3–7×
 * faster) and otherwise in a generated JavaScript kernel; `GWASGRID_GRAM=js` forces the latter.
 */
import { createWasmGram, gramChoiceFromEnv, type GramChoice, type WasmGram } from './gram-wasm.js';

/** Number of entries of a packed symmetric V × V matrix. */
export const packedSize = (v: number) => (v * (v + 1)) / 2;
/** Index of (a, b), a ≤ b, in a packed upper triangle stored row by row. */
const pidx = (v: number, a: number, b: number): number => (a <= b ? a * v - (a * (a - 1)) / 2 + (b - a) : pidx(v, b, a));

/**
 * A JavaScript Gram kernel: for λ and the k-major products prod[k·np + j], writes G₀ (and G₁, G₂ up to its
 * order) into g0/g1/g2 and Σd, Σd², log|H| (when built with the log) into sums[0..2].
 */
export type AccumulateKernel = (
  n: number,
  lambda: number,
  s: Float64Array,
  prod: Float64Array,
  g0: Float64Array,
  g1: Float64Array,
  g2: Float64Array,
  sums: Float64Array,
) => void;

const kernels = new Map<string, AccumulateKernel>();

/**
 * The weighted-Gram accumulation is the hot loop of the whole scan (≈ 50 calls per SNP). It is generated once
 * per (number of products, derivative order) with the products unrolled into scalar accumulators, which V8
 * keeps in registers; the generic array-indexed loop was 3–4× slower. This is the fallback path (and the
 * reference of the WebAssembly one, `gram-wasm.ts`, in tests and benchmarks).
 */
export function accumulator(np: number, order: 0 | 1 | 2, withLog: boolean): AccumulateKernel {
  const key = `${np}:${order}:${withLog ? 1 : 0}`;
  let k = kernels.get(key);
  if (k) return k;
  const idx = Array.from({ length: np }, (_, j) => j);
  const decl = [
    ...idx.map((j) => `a${j} = 0`),
    ...(order >= 1 ? idx.map((j) => `b${j} = 0`) : []),
    ...(order >= 2 ? idx.map((j) => `c${j} = 0`) : []),
  ].join(', ');
  const body = [
    'const h = lambda * s[k] + 1;',
    'const d = 1 / h;',
    'sd += d;',
    order >= 1 ? 'const dd = d * d; sd2 += dd;' : '',
    order >= 2 ? 'const ddd = dd * d;' : '',
    // log|H| as the log of products of 8 factors: one Math.log per 8 eigenvalues (8× fewer logs; a factor is at
    // most 1 + 1e5·s_max, so 8 of them cannot overflow for any kinship with s_max < 1e30).
    withLog ? 'ph *= h; if ((k & 7) === 7) { ldh += Math.log(ph); ph = 1; }' : '',
    ...idx.map((j) => `const p${j} = prod[o + ${j}];`),
    ...idx.map((j) => `a${j} += d * p${j};`),
    ...(order >= 1 ? idx.map((j) => `b${j} += dd * p${j};`) : []),
    ...(order >= 2 ? idx.map((j) => `c${j} += ddd * p${j};`) : []),
  ].join('\n');
  const store = [
    ...idx.map((j) => `g0[${j}] = a${j};`),
    ...(order >= 1 ? idx.map((j) => `g1[${j}] = b${j};`) : []),
    ...(order >= 2 ? idx.map((j) => `g2[${j}] = c${j};`) : []),
  ].join('\n');
  const src = `let sd = 0, sd2 = 0, ldh = 0, ph = 1, ${decl};
for (let k = 0, o = 0; k < n; k++, o += ${np}) {
${body}
}
${store}
sums[0] = sd; sums[1] = sd2; sums[2] = ldh + Math.log(ph);`;
  k = new Function('n', 'lambda', 's', 'prod', 'g0', 'g1', 'g2', 'sums', src) as AccumulateKernel;
  kernels.set(key, k);
  return k;
}

/** Options of {@link LmmLikelihood}. */
export interface LmmLikelihoodOptions {
  /** Gram accumulation path (default: the `GWASGRID_GRAM` environment variable, else `auto`). */
  gram?: GramChoice;
}

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
  /** The wasm Gram accumulator, or null on the JavaScript path. */
  private readonly wasm: WasmGram | null;
  /** Which path accumulates: `js`, or the wasm build (`relaxed` or `simd`). */
  readonly gramPath: 'js' | 'relaxed' | 'simd';
  /** JavaScript path: per-k products v_a v_b, k-major: prod[k·np + pidx(a,b)] (empty on the wasm path). */
  private readonly prod: Float64Array;
  private readonly g0: Float64Array;
  private readonly g1: Float64Array;
  private readonly g2: Float64Array;
  private readonly unit: Float64Array;
  private readonly sums = new Float64Array(3);
  private readonly kernels: AccumulateKernel[];
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

  /**
   * `s`: the n eigenvalues (the wasm path copies them here; do not change them afterwards); q fixed effects.
   */
  constructor(
    readonly s: Float64Array,
    q: number,
    options: LmmLikelihoodOptions = {},
  ) {
    this.n = s.length;
    this.q = q;
    this.V = q + 1;
    this.np = packedSize(this.V);
    this.wasm = createWasmGram(s, this.V, options.gram ?? gramChoiceFromEnv());
    if (this.wasm) {
      this.gramPath = this.wasm.variant;
      this.prod = new Float64Array(0);
      this.g0 = this.wasm.g0;
      this.g1 = this.wasm.g1;
      this.g2 = this.wasm.g2;
    } else {
      this.gramPath = 'js';
      this.prod = new Float64Array(this.n * this.np);
      this.g0 = new Float64Array(this.np);
      this.g1 = new Float64Array(this.np);
      this.g2 = new Float64Array(this.np);
    }
    this.unit = new Float64Array(this.np);
    this.chol = new Float64Array(q * q);
    this.tmpQ = new Float64Array(q);
    this.tmpQ2 = new Float64Array(q);
    this.tmpQ3 = new Float64Array(q);
    this.ainvG1 = new Float64Array(q * q);
    this.kernels = this.wasm
      ? []
      : [0, 1, 2].flatMap((o) => [accumulator(this.np, o as 0 | 1 | 2, false), accumulator(this.np, o as 0 | 1 | 2, true)]);
  }

  /**
   * Sets the rotated variables: `cols[j]` is Uᵀv_j (length n) for j < q, then Uᵀy last.
   * Returns false when XᵀX is singular (e.g. a constant SNP beside the intercept). Both paths form XᵀX with
   * the same sums in the same order, so this decision does not depend on the path.
   */
  setVariables(cols: ReadonlyArray<Float64Array>): boolean {
    if (this.wasm) this.wasm.setVariables(cols, this.unit);
    else this.jsProducts(cols);
    const ld = this.cholesky(this.unit);
    this.logDetXtX = ld;
    return Number.isFinite(ld);
  }

  /** JavaScript path of {@link setVariables}: the k-major products and XᵀX. */
  private jsProducts(cols: ReadonlyArray<Float64Array>): void {
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
  }

  /**
   * Accumulates G₀ (order ≥ 0), G₁ (order ≥ 1), G₂ (order ≥ 2) and the traces at λ. log|H| = Σ log(λs_k + 1)
   * depends on λ only, not on the SNP, so it is cached per λ (the λ bounds are evaluated for every SNP and
   * the log pass costs three times a Gram pass).
   */
  private accumulate(lambda: number, order: 0 | 1 | 2, withLogDet: boolean): void {
    const cached = withLogDet ? this.logDetCache.get(lambda) : undefined;
    const log = withLogDet && cached === undefined;
    if (this.wasm) this.wasm.accumulate(lambda, order, log, this.sums);
    else this.kernels[order * 2 + (log ? 1 : 0)](this.n, lambda, this.s, this.prod, this.g0, this.g1, this.g2, this.sums);
    this.sumD = this.sums[0];
    this.sumD2 = this.sums[1];
    if (withLogDet) this.logDetH = cached === undefined ? this.sums[2] : cached;
  }

  private readonly logDetCache = new Map<number, number>();

  /** Precomputes log|H| at λ values every SNP will visit (the search bounds). */
  cacheLogDet(lambdas: readonly number[]): void {
    for (const l of lambdas) {
      let t = 0;
      for (let k = 0; k < this.n; k++) t += Math.log(l * this.s[k] + 1);
      this.logDetCache.set(l, t);
    }
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

  // Projected quantities at the last accumulated λ (set by `project`).
  private Pyy = NaN;
  private PPyy = NaN;
  private PPPyy = NaN;
  private trP = NaN;
  private trPP = NaN;
  private logDetA = NaN;

  /**
   * The projected quantities at the last accumulated λ. `order` 0 gives yᵀPy and log|A|; 1 adds yᵀPPy and
   * tr P; 2 adds yᵀPPPy and tr PP. Results go to fields (no allocation in the hot path).
   */
  private project(order: 0 | 1 | 2): void {
    const { q, V, g0, g1, g2, tmpQ: beta, tmpQ2: u, ainvG1 } = this;
    const y = q;
    this.PPyy = this.PPPyy = this.trP = this.trPP = NaN;
    const logDetA = this.cholesky(g0);
    this.logDetA = logDetA;
    if (!Number.isFinite(logDetA)) {
      this.Pyy = NaN;
      return;
    }
    for (let i = 0; i < q; i++) beta[i] = g0[pidx(V, i, y)];
    this.cholSolve(beta);
    let Pyy = g0[pidx(V, y, y)];
    for (let i = 0; i < q; i++) Pyy -= g0[pidx(V, i, y)] * beta[i];
    this.Pyy = Pyy;
    if (order === 0) return;
    this.PPyy = this.quad(g1, beta);
    // A⁻¹G₁[X,X], column by column.
    let trAinvG1 = 0;
    for (let j = 0; j < q; j++) {
      for (let i = 0; i < q; i++) u[i] = g1[pidx(V, i, j)];
      this.cholSolve(u);
      for (let i = 0; i < q; i++) ainvG1[i * q + j] = u[i];
      trAinvG1 += u[j];
    }
    this.trP = this.sumD - trAinvG1;
    if (order === 1) return;
    // u = G₁[X,·]ρ; yᵀPPPy = ρᵀG₂ρ − uᵀA⁻¹u.
    for (let i = 0; i < q; i++) {
      let s = g1[pidx(V, i, y)];
      for (let j = 0; j < q; j++) s -= g1[pidx(V, i, j)] * beta[j];
      u[i] = s;
    }
    let uAinvU = 0;
    const w = this.tmpQ3;
    w.set(u);
    this.cholSolve(w);
    for (let i = 0; i < q; i++) uAinvU += u[i] * w[i];
    this.PPPyy = this.quad(g2, beta) - uAinvU;
    let trAinvG2 = 0;
    for (let j = 0; j < q; j++) {
      for (let i = 0; i < q; i++) u[i] = g2[pidx(V, i, j)];
      this.cholSolve(u);
      trAinvG2 += u[j];
    }
    let trSq = 0;
    for (let i = 0; i < q; i++) for (let j = 0; j < q; j++) trSq += ainvG1[i * q + j] * ainvG1[j * q + i];
    this.trPP = this.sumD2 - 2 * trAinvG2 + trSq;
  }

  /** ρᵀGρ with ρ = [−β; 1] over [X, y]. */
  private quad(g: Float64Array, beta: Float64Array): number {
    const { q, V } = this;
    let s = g[pidx(V, q, q)];
    for (let i = 0; i < q; i++) {
      s -= 2 * beta[i] * g[pidx(V, i, q)];
      for (let j = 0; j < q; j++) s += beta[i] * beta[j] * g[pidx(V, i, j)];
    }
    return s;
  }

  /** REML log-likelihood ℓ_R(λ) (GEMMA clamps yᵀPy below at 1e-8; so do we). */
  remlF(lambda: number): number {
    this.accumulate(lambda, 0, true);
    this.project(0);
    const { Pyy, logDetA } = this;
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
    this.project(0);
    const { Pyy } = this;
    const n = this.n;
    return 0.5 * n * (Math.log(n) - Math.log(2 * Math.PI) - 1) - 0.5 * this.logDetH - 0.5 * n * Math.log(Pyy);
  }

  /** dℓ_R/dλ. */
  remlD1(lambda: number): number {
    this.accumulate(lambda, 1, false);
    this.project(1);
    const { Pyy, PPyy, trP } = this;
    const df = this.n - this.q;
    const trPK = (df - trP) / lambda;
    const yPKPy = (Pyy - PPyy) / lambda;
    return -0.5 * trPK + (0.5 * df * yPKPy) / Pyy;
  }

  /** dℓ/dλ (ML). */
  mlD1(lambda: number): number {
    this.accumulate(lambda, 1, false);
    this.project(1);
    const { Pyy, PPyy } = this;
    const n = this.n;
    const trHiK = (n - this.sumD) / lambda;
    const yPKPy = (Pyy - PPyy) / lambda;
    return -0.5 * trHiK + (0.5 * n * yPKPy) / Pyy;
  }

  /**
   * dℓ_R/dλ and dℓ/dλ at each λ of a grid, from one accumulation per point (the REML and ML searches share
   * their grid; this saves a fifth of the per-SNP work).
   */
  gridD1(lambdas: Float64Array, reml: Float64Array | null, ml: Float64Array | null): void {
    const n = this.n;
    const df = n - this.q;
    for (let i = 0; i < lambdas.length; i++) {
      const lambda = lambdas[i];
      this.accumulate(lambda, 1, false);
      this.project(1);
      const { Pyy, PPyy, trP } = this;
      const yPKPy = (Pyy - PPyy) / lambda;
      if (reml) reml[i] = -0.5 * ((df - trP) / lambda) + (0.5 * df * yPKPy) / Pyy;
      if (ml) ml[i] = -0.5 * ((n - this.sumD) / lambda) + (0.5 * n * yPKPy) / Pyy;
    }
  }

  /** First and second derivatives of ℓ_R. */
  remlD12(lambda: number, out: Derivs): Derivs {
    this.accumulate(lambda, 2, false);
    this.project(2);
    const { Pyy, PPyy, PPPyy, trP, trPP } = this;
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
    this.project(2);
    const { Pyy, PPyy, PPPyy } = this;
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
    this.project(0);
    const { Pyy } = this;
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
