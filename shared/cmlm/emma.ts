/**
 * EMMA REML (Kang et al. 2008, Genetics 178:1709) as GAPIT's `GAPIT.emma.REMLE` runs it, including its grid,
 * edge rules and root refinement with R's `uniroot` — reproduced step by step (Brent's zeroin as in R's
 * `R_zeroin2`, tol = .Machine$double.eps^0.25, maxiter 1000), because uniroot's tolerance (~1.2e-4 in log δ)
 * is visible in the variance components at the 1e-5 level.
 *
 * Model: y = Xβ + Zu + e, u ~ N(0, σ²_a K), e ~ N(0, σ²_e I), δ = σ²_e/σ²_a. In the spectral form EMMA uses,
 * the REML log-likelihood of log δ is
 *   ℓ(δ) = ½·[ (n−q)·(log((n−q)/2π) − 1 − log(Σ_k η_k²/(λ_k+δ) + η₂/δ)) − (Σ_k log(λ_k+δ) + r·log δ) ]
 * with λ_k the non-zero eigenvalues of S·ZKZᵀ·S (S = I − X(XᵀX)⁻¹Xᵀ), η_k the projections of y on their
 * eigenvectors, η₂ the squared norm of Sy outside them and r the number of those remaining directions
 * (no Z: r = 0, η₂ = 0). See {@link remlSpectrum} for how they are obtained. GAPIT reports −2ℓ as "REML".
 *
 * Search (GAPIT): ℓ′ on the grid log δ = −10, −9.8, …, 10; the left edge is a candidate if δ·ℓ′ < 1e-10 there,
 * the right edge if δ·ℓ′ > −1e-10 at the **second-to-last** grid point; every grid interval where ℓ′ goes from
 * positive to negative is refined by uniroot. The candidate with the largest ℓ wins (first on ties; NaN ℓ are
 * skipped). σ²_a = (Σ η²/(λ+δ) + η₂/δ)/(n−q), σ²_e = δ·σ²_a.
 * Complexity: O(101·k) for the grid plus O(k) per uniroot step, k = #eigenvalues.
 */

export { uniroot, UNIROOT_TOL } from '../stats/uniroot.js';
import { uniroot } from '../stats/uniroot.js';

/** What the REML needs from the eigen-analysis of one compressed model. */
export interface RemlSpectrum {
  /** Number of phenotyped individuals. */
  n: number;
  /** Number of fixed-effect columns. */
  q: number;
  /** Eigenvalues λ_k (k = 1..t−q kept, GAPIT's order: decreasing modulus). */
  lambda: Float64Array;
  /** Projections η_k of y on the corresponding eigenvectors. */
  eta: Float64Array;
  /** Squared norm of Sy in the remaining directions (0 without Z). */
  eta2sq: number;
  /** Number of remaining (δ-only) directions, n − t (0 without Z). */
  r: number;
}

export interface RemlFit {
  /** −2 × the EMMA REML log-likelihood (GAPIT's "REML"). */
  m2ll: number;
  delta: number;
  vg: number;
  ve: number;
  logDelta: number;
}

/** EMMA's REML log-likelihood ℓ(log δ) (emma.delta.REML.LL.w.Z / .wo.Z). */
export function remlLL(s: RemlSpectrum, logDelta: number): number {
  const nq = s.n - s.q;
  const delta = Math.exp(logDelta);
  let sEta = 0;
  let sLog = 0;
  for (let k = 0; k < s.lambda.length; k++) {
    const ld = s.lambda[k] + delta;
    sEta += (s.eta[k] * s.eta[k]) / ld;
    sLog += Math.log(ld);
  }
  return 0.5 * (nq * (Math.log(nq / (2 * Math.PI)) - 1 - Math.log(sEta + s.eta2sq / delta)) - (sLog + s.r * logDelta));
}

/** dℓ/d δ up to the factor δ... exactly EMMA's emma.delta.REML.dLL (the function uniroot is given). */
export function remlDLL(s: RemlSpectrum, logDelta: number): number {
  const nq = s.n - s.q;
  const delta = Math.exp(logDelta);
  let s2 = 0;
  let s1 = 0;
  let sInv = 0;
  for (let k = 0; k < s.lambda.length; k++) {
    const ld = s.lambda[k] + delta;
    const e2 = s.eta[k] * s.eta[k];
    s2 += e2 / (ld * ld);
    s1 += e2 / ld;
    sInv += 1 / ld;
  }
  return 0.5 * ((nq * (s2 + s.eta2sq / (delta * delta))) / (s1 + s.eta2sq / delta) - (sInv + s.r / delta));
}

/** GAPIT.emma.REMLE: grid, edges, uniroot refinement, best candidate. NaN fields when nothing qualifies. */
export function emmaReml(s: RemlSpectrum, ngrids = 100, llim = -10, ulim = 10, esp = 1e-10): RemlFit {
  const m = ngrids + 1;
  const logdelta = new Float64Array(m);
  const dLL = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    logdelta[i] = (i / ngrids) * (ulim - llim) + llim;
    dLL[i] = Math.exp(logdelta[i]) * remlDLL(s, logdelta[i]);
  }
  const cand: number[] = [];
  const candLL: number[] = [];
  if (dLL[0] < esp) {
    cand.push(llim);
    candLL.push(remlLL(s, llim));
  }
  if (dLL[m - 2] > 0 - esp) {
    cand.push(ulim);
    candLL.push(remlLL(s, ulim));
  }
  for (let i = 0; i < m - 1; i++) {
    if (dLL[i] * dLL[i + 1] < 0 && dLL[i] > 0 && dLL[i + 1] < 0) {
      const root = uniroot((x) => remlDLL(s, x), logdelta[i], logdelta[i + 1]);
      cand.push(root);
      candLL.push(remlLL(s, root));
    }
  }
  let best = -1;
  for (let k = 0; k < cand.length; k++) {
    if (candLL[k] === candLL[k] && (best < 0 || candLL[k] > candLL[best])) best = k;
  }
  if (best < 0) return { m2ll: NaN, delta: NaN, vg: NaN, ve: NaN, logDelta: NaN };
  const logDelta = cand[best];
  const delta = Math.exp(logDelta);
  let sEta = 0;
  for (let k = 0; k < s.lambda.length; k++) sEta += (s.eta[k] * s.eta[k]) / (s.lambda[k] + delta);
  const vg = (sEta + s.eta2sq / delta) / (s.n - s.q);
  return { m2ll: -2 * candLL[best], delta, vg, ve: vg * delta, logDelta };
}
