/**
 * λ optimisation exactly as GEMMA 0.98.5 does it (src/lmm.cpp, CalcLambda), so that per-SNP λ and every
 * statistic derived from it match GEMMA's output digit for digit where the problem is well conditioned:
 *
 * 1. Split [λ_min, λ_max] into `nRegion` intervals equally spaced in log λ; keep those where the derivative
 *    changes sign (d(lo)·d(hi) ≤ 0).
 * 2. In each, bracket the root with Brent–Dekker (Brent 1973, "Algorithms for Minimization without
 *    Derivatives", ch. 4) until the bracket is within 10% relative width, then polish with Newton's method
 *    until a step is below 1e-5 relative, and take the iterate *before* that step (GEMMA's choice).
 * 3. Keep the best likelihood among the roots and the two end points. With no sign change, the better end.
 *
 * If Newton leaves the interval or fails to converge, the result is NaN, as in GEMMA (the SNP becomes NA).
 */
import type { Derivs } from './likelihood.js';

export interface Objective {
  f(lambda: number): number;
  d1(lambda: number): number;
  d12(lambda: number, out: Derivs): Derivs;
}

export interface LambdaOptions {
  lMin: number;
  lMax: number;
  nRegion: number;
}

export const GEMMA_LAMBDA: LambdaOptions = { lMin: 1e-5, lMax: 1e5, nRegion: 10 };

export interface LambdaResult {
  lambda: number;
  logl: number;
}

const EPS = 2.220446049250313e-16;

/** Brent–Dekker root bracketing on [lo, hi] until |hi−lo| < 0.1·min(|lo|,|hi|); returns the last iterate. */
function brentBracket(
  fn: (x: number) => number,
  lo: number,
  hi: number,
  maxIter: number,
  fLo: number,
  fHi: number,
): { root: number; iters: number } {
  let a = lo;
  let b = hi;
  // The end points are grid points whose derivative the caller already has.
  let fa = fLo;
  let fb = fHi;
  let c = b;
  let fc = fb;
  let d = b - a;
  let e = b - a;
  let root = 0.5 * (lo + hi);
  let xLo = lo;
  let xHi = hi;
  if (!Number.isFinite(fa) || !Number.isFinite(fb)) return { root, iters: 0 };
  let iter = 0;
  for (;;) {
    iter++;
    // One Brent step.
    let acEqual = false;
    if ((fb < 0 && fc < 0) || (fb > 0 && fc > 0)) {
      acEqual = true;
      c = a;
      fc = fa;
      d = b - a;
      e = b - a;
    }
    if (Math.abs(fc) < Math.abs(fb)) {
      acEqual = true;
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const tol = 0.5 * EPS * Math.abs(b);
    const m = 0.5 * (c - b);
    let converged = false;
    if (fb === 0) {
      root = b;
      xLo = b;
      xHi = b;
      converged = true;
    } else if (Math.abs(m) <= tol) {
      root = b;
      xLo = Math.min(b, c);
      xHi = Math.max(b, c);
      converged = true;
    } else {
      if (Math.abs(e) < tol || Math.abs(fa) <= Math.abs(fb)) {
        d = m;
        e = m;
      } else {
        let p: number;
        let q: number;
        const s = fb / fa;
        if (acEqual) {
          p = 2 * m * s;
          q = 1 - s;
        } else {
          const qq = fa / fc;
          const r = fb / fc;
          p = s * (2 * m * qq * (qq - r) - (b - a) * (r - 1));
          q = (qq - 1) * (r - 1) * (s - 1);
        }
        if (p > 0) q = -q;
        else p = -p;
        if (2 * p < Math.min(3 * m * q - Math.abs(tol * q), Math.abs(e * q))) {
          e = d;
          d = p / q;
        } else {
          d = m;
          e = m;
        }
      }
      a = b;
      fa = fb;
      b += Math.abs(d) > tol ? d : m > 0 ? tol : -tol;
      fb = fn(b);
      if (!Number.isFinite(fb)) return { root, iters: iter };
      root = b;
      const cc = (fb < 0 && fc < 0) || (fb > 0 && fc > 0) ? a : c;
      xLo = Math.min(b, cc);
      xHi = Math.max(b, cc);
    }
    // Interval test with epsabs 0, epsrel 0.1.
    const minAbs = (xLo > 0 && xHi > 0) || (xLo < 0 && xHi < 0) ? Math.min(Math.abs(xLo), Math.abs(xHi)) : 0;
    const done = converged || Math.abs(xHi - xLo) < 0.1 * minAbs;
    if (done || iter >= maxIter) return { root, iters: iter };
  }
}

/** The λ grid of GEMMA's search: nRegion + 1 points equally spaced in log λ. */
export function lambdaGrid(opts: LambdaOptions = GEMMA_LAMBDA): Float64Array {
  const key = `${opts.lMin}:${opts.lMax}:${opts.nRegion}`;
  let g = grids.get(key);
  if (!g) {
    const { lMin, lMax, nRegion } = opts;
    const step = Math.log(lMax / lMin) / nRegion;
    g = Float64Array.from({ length: nRegion + 1 }, (_, i) => lMin * Math.exp(step * i));
    grids.set(key, g);
  }
  return g;
}

/** Grids by options (every SNP uses the same one; callers must not modify it). */
const grids = new Map<string, Float64Array>();

/**
 * Maximises an objective over λ with GEMMA's grid + Brent + Newton procedure. `gridDev`, when given, holds
 * the derivative at the points of {@link lambdaGrid} (computed by the caller, e.g. shared between REML and ML).
 */
export function optimiseLambda(obj: Objective, opts: LambdaOptions = GEMMA_LAMBDA, gridDev?: Float64Array): LambdaResult {
  const { lMin, lMax, nRegion } = opts;
  const grid = lambdaGrid(opts);
  let dev = gridDev;
  if (!dev) {
    dev = new Float64Array(nRegion + 1);
    for (let i = 0; i <= nRegion; i++) dev[i] = obj.d1(grid[i]);
  }
  const brackets: number[] = [];
  for (let i = 0; i < nRegion; i++) {
    if (dev[i] * dev[i + 1] <= 0) brackets.push(i);
  }
  if (brackets.length === 0) {
    const fl = obj.f(lMin);
    const fh = obj.f(lMax);
    return fl >= fh ? { lambda: lMin, logl: fl } : { lambda: lMax, logl: fh };
  }
  const derivs: Derivs = { f: 0, d1: 0, d2: 0 };
  let best: LambdaResult = { lambda: NaN, logl: NaN };
  const maxIter = 100;
  let iter = 0;
  for (let bi = 0; bi < brackets.length; bi++) {
    const g = brackets[bi];
    const br = brentBracket((x) => obj.d1(x), grid[g], grid[g + 1], maxIter - iter, dev[g], dev[g + 1]);
    iter = 0;
    // Newton on the derivative from Brent's point.
    let l = br.root;
    obj.d12(l, derivs);
    let lPrev = l;
    let converged = false;
    let failed = false;
    do {
      iter++;
      if (derivs.d2 === 0) {
        failed = true;
        break;
      }
      const next = l - derivs.d1 / derivs.d2;
      obj.d12(next, derivs);
      if (!Number.isFinite(derivs.d1) || !Number.isFinite(derivs.d2)) {
        failed = true;
        break;
      }
      lPrev = l;
      l = next;
      if (Math.abs(l - lPrev) < 1e-5 * Math.abs(l) || l === lPrev) {
        converged = true;
        break;
      }
    } while (iter < maxIter && l > lMin && l < lMax);
    if (failed || !converged) return { lambda: NaN, logl: NaN };
    let lam = lPrev;
    if (lam < lMin) lam = lMin;
    if (lam > lMax) lam = lMax;
    const f = obj.f(lam);
    if (bi === 0 || best.logl < f) best = { lambda: lam, logl: f };
  }
  const fl = obj.f(lMin);
  const fh = obj.f(lMax);
  if (fl > best.logl) best = { lambda: lMin, logl: fl };
  if (fh > best.logl) best = { lambda: lMax, logl: fh };
  return best;
}

/** Adapters from {@link LmmLikelihood} to the two objectives. */
export function remlObjective(lik: {
  remlF(l: number): number;
  remlD1(l: number): number;
  remlD12(l: number, o: Derivs): Derivs;
}): Objective {
  return { f: (l) => lik.remlF(l), d1: (l) => lik.remlD1(l), d12: (l, o) => lik.remlD12(l, o) };
}

export function mlObjective(lik: {
  mlF(l: number): number;
  mlD1(l: number): number;
  mlD12(l: number, o: Derivs): Derivs;
}): Objective {
  return { f: (l) => lik.mlF(l), d1: (l) => lik.mlD1(l), d12: (l, o) => lik.mlD12(l, o) };
}
