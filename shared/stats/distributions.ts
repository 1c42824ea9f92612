/**
 * Tail probabilities of the F, χ², Student-t and normal distributions, plain and in natural-log space,
 * plus the quantile functions (re-exported from `quantiles.ts`) and the special functions they rest on
 * (re-exported from `special.ts`).
 *
 * Why the log forms exist: GWAS p-values routinely fall below 1e-300. GEMMA 0.98.5 evaluates
 *   p_wald  = P(F(1, n−c−1) > F)         (gsl_cdf_fdist_Q)
 *   p_lrt   = P(χ²₁ > 2·Δlogl)            (gsl_cdf_chisq_Q)
 *   p_score = P(F(1, n−c−1) > F_score)   (gsl_cdf_fdist_Q)
 * with GSL, which underflows to 0 in the far tail. The plain functions here agree with the exact values
 * to ≤ 1e-12 relative wherever p > 1e-300 (hence with GSL wherever GSL is itself that accurate), and the
 * log functions keep going (≤ 1e-12 relative in ln p), so the caller can report e.g. "3.1e-5123".
 *
 * Independent implementation; see `special.ts` for the algorithms and references.
 */

import {
  betaIncCore,
  betaPointFromOdds,
  erfcx,
  erf,
  gammaIncCore,
  gammaIncLower,
  logGammaIncLower,
  normalTail,
  LN_SQRT_2PI,
} from './special.js';

export {
  lgamma,
  lbeta,
  erf,
  erfc,
  erfcx,
  logErfc,
  log1pmx,
  stirlingCorrection,
  betaIncReg,
  betaIncRegUpper,
  logBetaIncReg,
  logBetaIncRegUpper,
  gammaIncLower,
  gammaIncUpper,
  logGammaIncLower,
  logGammaIncUpper,
} from './special.js';

export {
  normalQuantile,
  normalQuantileUpper,
  normalQuantileLogUpper,
  chisqQuantile,
  chisqQuantileUpper,
  chisqQuantileUpperLog,
  betaQuantile,
  betaQuantileUpper,
} from './quantiles.js';

// ---------------------------------------------------------------------------------------------------
// F distribution
// ---------------------------------------------------------------------------------------------------

function fTail(f: number, d1: number, d2: number, wantLog: boolean): number {
  if (Number.isNaN(f) || !(d1 > 0 && d2 > 0)) return NaN;
  if (f <= 0) return wantLog ? 0 : 1;
  if (f === Infinity) return wantLog ? -Infinity : 0;
  if (d2 === Infinity) {
    // F → χ²_{d1}/d1
    if (d1 === Infinity) return f < 1 ? (wantLog ? 0 : 1) : wantLog ? -Infinity : 0;
    return chisqTail(d1 * f, d1, wantLog);
  }
  if (d1 === Infinity) {
    // F → d2/χ²_{d2}:  P(F > f) = P(χ²_{d2} < d2/f)
    return wantLog ? logGammaIncLower(0.5 * d2, (0.5 * d2) / f) : gammaIncLower(0.5 * d2, (0.5 * d2) / f);
  }
  const d1f = d1 * f;
  const r = d1f < Infinity ? d1f / d2 : f * (d1 / d2);
  const pt = betaPointFromOdds(r, () => Math.log(f) + Math.log(d1) - Math.log(d2));
  const a = 0.5 * d1;
  const b = 0.5 * d2;
  // λ = a − (a+b)·x written in terms of f: a·(1 − f)·y (exact algebra, no cancellation near f = 1).
  const lam = a * (1 - f) * pt.y;
  return betaIncCore(a, b, pt, true, wantLog, Number.isFinite(lam) ? lam : undefined);
}

/**
 * Upper tail of Snedecor's F distribution: P(F(d1, d2) > f) = I_{d2/(d2+d1·f)}(d2/2, d1/2)
 * (A&S 26.6.2) — GEMMA's p_wald and p_score with d1 = 1, d2 = n − c − 1 (gsl_cdf_fdist_Q).
 *
 * Domain: d1, d2 > 0 (either may be +Infinity: χ² limits); f ≤ 0 → 1, f = +Infinity → 0, NaN → NaN.
 * Accuracy: ≤ 1e-12 relative for p > 1e-300 (measured worst 1.1e-13 over ~1,100 mpmath cases with
 * d1 up to 1e4, d2 up to 1e6; the error grows like |ln p|·2e-16 from exponentiating the log); returns
 * subnormals / 0 below that — use {@link logFUpperTail}.
 * Method: regularised incomplete beta by the continued fraction A&S 26.5.8 / NR §6.4 in its odd
 * contraction (modified Lentz, Lentz 1976; see special.ts) with x = d1·f/(d2 + d1·f),
 * y = d2/(d2 + d1·f), ln x = −log1p(d2/(d1 f)) and ln y = −log1p(d1 f/d2) all formed from f directly
 * (so (d2/2)·ln y stays exact for large d2).
 */
export function fUpperTail(f: number, d1: number, d2: number): number {
  return fTail(f, d1, d2, false);
}

/**
 * Natural log of {@link fUpperTail}: ln P(F(d1, d2) > f), finite far below 1e-300 (e.g. f = 1e4,
 * d1 = 1, d2 = 1e5 gives ≈ −4770). f ≤ 0 → 0, f = +Infinity → −Infinity.
 * Accuracy: ≤ 1e-12 relative in the log everywhere (measured: ≤ 8e-16 where p < 1e-300, ≤ 5e-15 for
 * 1e-300 < p < 0.999, ≤ 1.4e-13 where p ≈ 1 and ln p is the small complement itself).
 * Method as {@link fUpperTail}, summing the log prefactor and the log of the continued fraction.
 */
export function logFUpperTail(f: number, d1: number, d2: number): number {
  return fTail(f, d1, d2, true);
}

// ---------------------------------------------------------------------------------------------------
// χ² distribution
// ---------------------------------------------------------------------------------------------------

function chisqTail(x: number, k: number, wantLog: boolean): number {
  if (Number.isNaN(x) || !(k > 0)) return NaN;
  if (x <= 0) return wantLog ? 0 : 1;
  if (x === Infinity) return wantLog ? -Infinity : 0;
  if (k === Infinity) return NaN;
  if (k === 1) {
    // P(χ²₁ > x) = erfc(√(x/2)) = e^{−x/2}·erfcx(√(x/2)); e^{−x/2} uses x itself, not (√(x/2))².
    const u = Math.sqrt(0.5 * x);
    if (u < 1) return wantLog ? Math.log1p(-erf(u)) : 1 - erf(u);
    return wantLog ? -0.5 * x + Math.log(erfcx(u)) : Math.exp(-0.5 * x) * erfcx(u);
  }
  if (k === 2) return wantLog ? -0.5 * x : Math.exp(-0.5 * x);
  return gammaIncCore(0.5 * k, 0.5 * x, true, wantLog);
}

/**
 * Upper tail of the χ² distribution: P(χ²_k > x) = Q(k/2, x/2) — GEMMA's p_lrt with k = 1
 * (gsl_cdf_chisq_Q).
 *
 * Domain: k > 0 finite (non-integer allowed); x ≤ 0 → 1, x = +Infinity → 0, NaN → NaN.
 * Accuracy: ≤ 1e-12 relative for p > 1e-300 (measured worst 6e-14 for k from 0.5 to 5000).
 * Method: k = 1: erfc(√(x/2)) = e^{−x/2}·erfcx(√(x/2)) (A&S 26.4.4 with 7.1.2; erfcx by Legendre's
 * continued fraction A&S 6.5.31); k = 2: e^{−x/2}; otherwise the regularised upper incomplete gamma
 * Q(k/2, x/2) by series/continued fraction (A&S 6.5.29 / 6.5.31, NR §6.2, Lentz 1976).
 */
export function chisqUpperTail(x: number, k: number): number {
  return chisqTail(x, k, false);
}

/**
 * Natural log of {@link chisqUpperTail}: ln P(χ²_k > x), finite far below 1e-300 (x = 5000, k = 1 gives
 * ≈ −2504.48). Accuracy ≤ 1e-12 relative in the log (measured: ≤ 2e-16 where p < 1e-300, ≤ 4e-15 in
 * between, ≤ 1.7e-13 where p ≈ 1 and ln p is the small complement itself). Method as
 * {@link chisqUpperTail} with the prefactor summed in log space.
 */
export function logChisqUpperTail(x: number, k: number): number {
  return chisqTail(x, k, true);
}

// ---------------------------------------------------------------------------------------------------
// Student t
// ---------------------------------------------------------------------------------------------------

function tTail(t: number, df: number, wantLog: boolean): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  const at = Math.abs(t);
  if (at === 0) return wantLog ? 0 : 1;
  if (at === Infinity) return wantLog ? -Infinity : 0;
  if (df === Infinity) return wantLog ? Math.LN2 + normalTail(at, true) : 2 * normalTail(at, false);
  // P(|T| > t) = P(F(1, df) > t²) = I_{df/(df+t²)}(df/2, 1/2)
  const t2 = at * at;
  const r = t2 < Infinity ? t2 / df : Infinity;
  const pt = betaPointFromOdds(r, () => 2 * Math.log(at) - Math.log(df));
  return betaIncCore(0.5, 0.5 * df, pt, true, wantLog);
}

/**
 * Two-sided Student-t p-value P(|T_df| > |t|) = I_{df/(df+t²)}(df/2, ½) (A&S 26.7.1 / 26.5.27).
 *
 * Domain: df > 0 (+Infinity → normal); t = 0 → 1, |t| = Infinity → 0, NaN → NaN.
 * Accuracy: ≤ 1e-12 relative for p > 1e-300 (measured worst 1.1e-13, df from 1 to 1e7). df = 1 is the
 * Cauchy distribution.
 * Method: as {@link fUpperTail} with d1 = 1, f = t² (NR §6.4, Lentz 1976).
 */
export function tTwoSidedP(t: number, df: number): number {
  return tTail(t, df, false);
}

/**
 * Natural log of {@link tTwoSidedP}; finite far below 1e-300. Accuracy ≤ 1e-12 relative in the log
 * (measured ≤ 3e-16 where p < 1e-300, ≤ 5e-15 elsewhere). Method as {@link tTwoSidedP}.
 */
export function logTTwoSidedP(t: number, df: number): number {
  return tTail(t, df, true);
}

// ---------------------------------------------------------------------------------------------------
// Normal
// ---------------------------------------------------------------------------------------------------

/**
 * Standard normal upper tail Q(z) = P(Z > z) = ½ erfc(z/√2) (A&S 26.2.3 / 7.1.2).
 *
 * Domain: all z (Q(−∞) = 1, Q(∞) = 0, NaN → NaN); underflows below ~1e-308 (z > 37.5) — use
 * {@link logNormalUpperTail}. Accuracy: ≤ 6e-15 relative while normal (measured; worst near z = √2).
 * Method: |z| < √2: ½(1 − erf(z/√2)) by Maclaurin series; z ≥ √2: ½ e^{−z²/2} erfcx(z/√2), with z² as
 * an exact double-double and erfcx from Legendre's continued fraction (A&S 6.5.31, Lentz 1976);
 * z ≤ −√2: 1 − Q(−z).
 */
export function normalUpperTail(z: number): number {
  return normalTail(z, false);
}

/**
 * ln Q(z) = ln P(Z > z), finite for all finite z (z = 100 gives ≈ −5005.52). Accuracy ≤ 4e-15 relative
 * (measured).
 * Method as {@link normalUpperTail}: −z²/2 + ln(½ erfcx(z/√2)) for z ≥ √2; log1p(−Q(−z)) for z ≤ −√2.
 */
export function logNormalUpperTail(z: number): number {
  return normalTail(z, true);
}

/**
 * ln φ(z) = −z²/2 − ln √(2π), the log standard normal density (A&S 26.2.1). All z (−Infinity at ±Infinity);
 * accurate to a few ulp (the rounding of z² is relative, so also for large |z|).
 */
export function logNormalDensity(z: number): number {
  return -0.5 * z * z - LN_SQRT_2PI;
}

// ---------------------------------------------------------------------------------------------------
// Reporting helpers
// ---------------------------------------------------------------------------------------------------

/** log10(p) from the natural log ln p (= ln p / ln 10, within 1 ulp). Works far below 1e-308. */
export function log10P(logp: number): number {
  return logp / Math.LN10;
}

/** −log10(p) from the natural log ln p — the usual Manhattan-plot ordinate. */
export function negLog10P(logp: number): number {
  return -logp / Math.LN10;
}

/**
 * Format a p-value given by its natural log in scientific notation with `digits` significant digits,
 * also beyond the double range: formatPFromLog(−5000·ln 10) === "1.00e-5000". Values ≥ 1e-300 use
 * Number#toExponential on exp(ln p); smaller ones split log10 p into exponent and mantissa (mantissa
 * accurate to ~|log10 p|·1e-16 relative). NaN → "NaN", −Infinity → "0", ln p ≥ 0 → "1".
 */
export function formatPFromLog(logp: number, digits = 3): string {
  if (Number.isNaN(logp)) return 'NaN';
  if (logp === -Infinity) return '0';
  if (logp >= 0) return '1';
  const l10 = logp / Math.LN10;
  if (l10 > -300) return Math.exp(logp).toExponential(digits - 1);
  let e = Math.floor(l10);
  let ms = Math.pow(10, l10 - e).toFixed(digits - 1);
  if (parseFloat(ms) >= 10) {
    e += 1;
    ms = (1).toFixed(digits - 1);
  }
  return `${ms}e${e}`;
}
