/**
 * R's `uniroot` root finder, step for step: Brent's zeroin (Brent 1973, "Algorithms for minimization without
 * derivatives", ch. 4; the netlib `zeroin` that R's `R_zeroin2` implements). GAPIT (CMLM, EMMA REML) and rMVP
 * (FarmCPU's EMMA bin choice) refine likelihood roots with it at its default tolerance ε^¼ ≈ 1.2e-4, so
 * reproducing their variance components to 1e-8 needs its exact iterates, not just any root finder.
 */

/** R's .Machine$double.eps^0.25, uniroot's default tolerance. */
export const UNIROOT_TOL = Math.pow(2.220446049250313e-16, 0.25);

/**
 * R's `uniroot(f, lower = a, upper = b)` with its defaults: Brent's zeroin (R `R_zeroin2`, given f(a), f(b)),
 * tol = ε^¼, at most 1000 iterations. Returns the root estimate b. `fa`, `fb` must have opposite signs.
 */
export function uniroot(f: (x: number) => number, ax: number, bx: number, tol = UNIROOT_TOL, maxIter = 1000): number {
  const EPSILON = 2.220446049250313e-16;
  let fa = f(ax);
  let fb = f(bx);
  let a = ax;
  let b = bx;
  let c = a;
  let fc = fa;
  if (fa === 0) return a;
  if (fb === 0) return b;
  let maxit = maxIter + 1;
  while (maxit--) {
    const prevStep = b - a;
    if (Math.abs(fc) < Math.abs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const tolAct = 2 * EPSILON * Math.abs(b) + tol / 2;
    let newStep = (c - b) / 2;
    if (Math.abs(newStep) <= tolAct || fb === 0) return b;
    if (Math.abs(prevStep) >= tolAct && Math.abs(fa) > Math.abs(fb)) {
      let p: number;
      let q: number;
      const cb = c - b;
      if (a === c) {
        const t1 = fb / fa;
        p = cb * t1;
        q = 1.0 - t1;
      } else {
        q = fa / fc;
        const t1 = fb / fc;
        const t2 = fb / fa;
        p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0));
        q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0);
      }
      if (p > 0) q = -q;
      else p = -p;
      if (p < 0.75 * cb * q - Math.abs(tolAct * q) / 2 && p < Math.abs((prevStep * q) / 2)) newStep = p / q;
    }
    if (Math.abs(newStep) < tolAct) newStep = newStep > 0 ? tolAct : -tolAct;
    a = b;
    fa = fb;
    b += newStep;
    fb = f(b);
    if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
      c = a;
      fc = fa;
    }
  }
  return b;
}
