/**
 * Number text for the writers of other tools' formats: plink2's 6-significant-digit `%g` style and R's default
 * `as.character`/`write.csv` style (15 significant digits, fixed or scientific by width). p-values come as log10
 * so that tails below 1e-300 print as a number, never as 0.
 */
import { formatG } from '../format.js';

/** plink2-style (`%g`, 6 significant digits); NaN/∞ → "NA". */
export function g6(x: number): string {
  return Number.isFinite(x) ? formatG(x, 6) : 'NA';
}

/** A p-value from its log10, `%g`-like with `digits` significant digits, extended below 1e-300. */
export function pFromLog10(log10p: number, digits: number, fmt: (x: number) => string): string {
  if (Number.isNaN(log10p)) return 'NA';
  const p = Math.pow(10, log10p);
  if (p >= 1e-300) return fmt(p);
  let ex = Math.floor(log10p);
  let mant = Math.pow(10, log10p - ex);
  if (Number(mant.toPrecision(digits)) >= 10) {
    mant /= 10;
    ex += 1;
  }
  const m = String(Number(mant.toPrecision(digits)));
  return `${m}e-${String(-ex).padStart(2, '0')}`;
}

/**
 * R's default number printing (15 significant digits, `scipen = 0`): the shorter of fixed and scientific
 * notation, fixed on a tie; trailing zeros dropped; exponents with at least two digits (`1e-05`). NaN → "NA".
 */
export function rNum(x: number): string {
  if (Number.isNaN(x)) return 'NA';
  if (x === Infinity) return 'Inf';
  if (x === -Infinity) return '-Inf';
  if (x === 0) return '0';
  const sig = Number(x.toPrecision(15));
  // Scientific form with the fewest digits that still round-trips at 15 significant digits.
  const e = sig.toExponential();
  const k = e.indexOf('e');
  const exp = Number(e.slice(k + 1));
  const sci = `${e.slice(0, k)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const mantDigits = e.slice(0, k).replace('-', '').replace('.', '').length;
  const decimals = Math.max(0, mantDigits - 1 - exp);
  const fixed = decimals > 0 ? sig.toFixed(decimals) : sig.toFixed(0);
  return fixed.length <= sci.length ? fixed : sci;
}
