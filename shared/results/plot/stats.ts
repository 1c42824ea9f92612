/**
 * Statistics drawn on the plots: genomic inflation λGC, QQ expected values and the order-statistic
 * confidence band, and the Bonferroni threshold. All take −log10 p values so p-values far below the
 * double range (kept in log space by our writers) are exact.
 */
import { betaQuantile, betaQuantileUpper, chisqQuantile, chisqQuantileUpperLog } from '../../stats/quantiles.js';

/** Median of χ²₁: qchisq(0.5, 1) = 0.4549364231195724. */
export const CHISQ1_MEDIAN = chisqQuantile(0.5, 1);

/** The χ²₁ statistic whose upper tail is p, from −log10 p (Infinity for p = 0). */
export function chisq1FromNegLog10P(nlp: number): number {
  if (nlp === Infinity) return Infinity;
  return chisqQuantileUpperLog(-nlp * Math.LN10, 1);
}

/**
 * Genomic inflation factor λGC = median(χ²₁ quantile of each p) / median(χ²₁) (Devlin & Roeder 1999,
 * Biometrics 55:997), i.e. R's `median(qchisq(p, 1, lower.tail = FALSE)) / qchisq(0.5, 1)`; for an even
 * count the median is the mean of the two middle χ² values, as R's `median`.
 *
 * Input: −log10 p sorted in **descending** order (largest first, i.e. smallest p first), NA already
 * removed; +Infinity (p = 0) allowed. Returns NaN for an empty input. O(1) on the sorted input.
 */
export function lambdaGCSorted(nlpDesc: Float64Array): number {
  const n = nlpDesc.length;
  if (n === 0) return NaN;
  // χ² increases with −log10 p, so the middle of the sorted −log10 p is the middle of the χ² values.
  const mid =
    n % 2 === 1
      ? chisq1FromNegLog10P(nlpDesc[(n - 1) / 2])
      : 0.5 * (chisq1FromNegLog10P(nlpDesc[n / 2 - 1]) + chisq1FromNegLog10P(nlpDesc[n / 2]));
  return mid / CHISQ1_MEDIAN;
}

/** λGC of unsorted −log10 p values (NaN entries are ignored). O(n log n). See {@link lambdaGCSorted}. */
export function lambdaGC(nlp: ArrayLike<number>): number {
  return lambdaGCSorted(sortDescending(nlp));
}

/** The values without NaN, sorted largest first. */
export function sortDescending(nlp: ArrayLike<number>): Float64Array {
  let k = 0;
  const out = new Float64Array(nlp.length);
  for (let i = 0; i < nlp.length; i++) if (!Number.isNaN(nlp[i])) out[k++] = -nlp[i];
  const v = out.subarray(0, k).sort();
  for (let i = 0; i < k; i++) v[i] = -v[i];
  return v;
}

/**
 * Expected −log10 p of the i-th smallest of n uniform p-values (i = 1 … n): −log10(i / (n + 1)), the mean of
 * its Beta(i, n − i + 1) distribution (the plotting position GAPIT uses).
 */
export function expectedNegLog10P(i: number, n: number): number {
  return -Math.log10(i / (n + 1));
}

export interface BandPoint {
  /** Rank (1 = smallest p). */
  rank: number;
  /** Expected −log10 p at this rank. */
  expected: number;
  /** −log10 of the upper quantile of p_(i) (the band's lower edge in −log10 units). */
  lower: number;
  /** −log10 of the lower quantile of p_(i) (the band's upper edge). */
  upper: number;
}

/**
 * Pointwise confidence band of a uniform QQ plot: under the null the i-th smallest of n independent uniform
 * p-values is Beta(i, n − i + 1) (order statistics of the uniform; e.g. Casella & Berger §5.4), so the band at
 * rank i is [qbeta((1 − level)/2), qbeta((1 + level)/2)] of that distribution, in −log10 units.
 *
 * Evaluated at every rank up to 50 and then at ranks spaced by a factor ≈ `step` (enough for a smooth curve on a
 * log scale; the largest rank n is always included). Cost: ~5–20 µs per rank (betaQuantile), a few hundred ranks.
 */
export function qqBand(n: number, level = 0.95, step = 1.03): BandPoint[] {
  const out: BandPoint[] = [];
  if (n < 1) return out;
  const tail = (1 - level) / 2;
  let i = 1;
  while (true) {
    const a = i;
    const b = n - i + 1;
    out.push({
      rank: i,
      expected: expectedNegLog10P(i, n),
      lower: -Math.log10(betaQuantileUpper(tail, a, b)),
      upper: -Math.log10(betaQuantile(tail, a, b)),
    });
    if (i === n) break;
    i = Math.min(n, i < 50 ? i + 1 : Math.max(i + 1, Math.round(i * step)));
  }
  return out;
}

/** −log10 of the Bonferroni threshold alpha / m. */
export function bonferroniNegLog10(alpha: number, m: number): number {
  return -Math.log10(alpha / Math.max(1, m));
}
