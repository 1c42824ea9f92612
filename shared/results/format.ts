/**
 * Number formatting that reproduces C/C++ printf conventions (the reference tools are C++), so our text
 * outputs read like GEMMA's: `%e` with 6 decimals (`1.234568e-02`), fixed (`0.443`), and `%g`-style
 * shortest forms for the kinship text. Non-finite values print as `NA`.
 */

/** Pads JavaScript's exponent ("e-2") to C's two-digit minimum ("e-02"). */
function cExponent(s: string): string {
  const i = s.indexOf('e');
  if (i < 0) return s;
  const sign = s[i + 1];
  const digits = s.slice(i + 2);
  return `${s.slice(0, i)}e${sign}${digits.length < 2 ? '0' + digits : digits}`;
}

/**
 * JavaScript rounds exact decimal ties away from zero ("pick the larger n"); glibc's printf rounds them to even
 * (the current IEEE rounding mode). A tie needs the double's exact decimal expansion to end in a 5 right after
 * the last printed digit, e.g. af = 35/560 = 0.0625 printed with 3 decimals is 0.062 in C, 0.063 in JS.
 * `long` is the value printed with many more digits (JS prints the exact expansion); if it shows such a tie,
 * we round the short form to even.
 */
function tieToEven(short: string, long: string, keep: number): string {
  const tail = long.slice(keep).replace('.', '');
  if (!/^50*$/.test(tail)) return short;
  // Exact tie: the short form was rounded up (away from zero); round down instead if the kept digit is odd.
  const truncated = long.slice(0, keep);
  const lastDigit = Number(truncated[truncated.length - 1]);
  return lastDigit % 2 === 0 ? truncated : short;
}

/** C `%.{digits}e`. */
export function formatE(x: number, digits = 6): string {
  if (!Number.isFinite(x)) return 'NA';
  let s = x.toExponential(digits);
  const long = x.toExponential(100);
  const mant = long.slice(0, long.indexOf('e'));
  const keep = digits === 0 ? 1 : mant.indexOf('.') + 1 + digits;
  if (/^50*$/.test(mant.slice(keep).replace('.', ''))) {
    const r = tieToEven(s.slice(0, s.indexOf('e')), mant, keep);
    s = r + long.slice(long.indexOf('e'));
  }
  s = cExponent(s);
  return Object.is(x, -0) ? '-' + s : s;
}

/** C `%.{digits}f`. */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return 'NA';
  const short = x.toFixed(digits);
  if (Math.abs(x) >= 1e21 || Math.abs(x) < 1e-15) return short;
  const long = x.toFixed(Math.min(100, digits + 70));
  const keep = long.indexOf('.') + 1 + digits;
  return tieToEven(short, long, keep);
}

/**
 * C++ ostream default notation with `precision` significant digits (like `%g`: exponent form when the
 * exponent is < −4 or ≥ precision, trailing zeros dropped). Exact decimal ties (which need a value with a
 * short exact binary expansion, e.g. 0.5 at precision 0) are not rounded to even here; kinship entries never
 * hit them in practice and this runs millions of times per matrix.
 */
export function formatG(x: number, precision: number): string {
  if (!Number.isFinite(x)) return 'NA';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const ax = Math.abs(x);
  if (ax >= 1e-4 && ax < 1e15) {
    // toPrecision uses fixed notation here; it may still switch to exponent form when rounding reaches
    // 10^precision, which the general path below handles.
    const f = x.toPrecision(precision);
    if (!f.includes('e')) {
      const intDigits = f.replace('-', '').indexOf('.');
      if (intDigits <= precision) return f.includes('.') ? stripZeros(f) : f;
    }
  }
  const e = x.toExponential(precision - 1);
  const k = e.indexOf('e');
  const realExp = Number(e.slice(k + 1));
  if (realExp < -4 || realExp >= precision) return cExponent(`${stripZeros(e.slice(0, k))}e${e.slice(k + 1)}`);
  return stripZeros(x.toFixed(Math.max(0, precision - 1 - realExp)));
}

function stripZeros(s: string): string {
  if (!s.includes('.')) return s;
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48) end--;
  if (s.charCodeAt(end - 1) === 46) end--;
  return s.slice(0, end);
}

/**
 * A p-value in `%.6e`, extended past double range: when p underflows (or is below 1e-300) the mantissa and
 * exponent come from log10 p, so a p of 10^-1234.5 prints as `3.162278e-1235` rather than 0.
 */
export function formatP(p: number, log10p: number): string {
  if (Number.isNaN(p) && Number.isNaN(log10p)) return 'NA';
  if (p >= 1e-300 || !Number.isFinite(log10p)) return formatE(p);
  let ex = Math.floor(log10p);
  let mant = Math.pow(10, log10p - ex);
  // Keep the mantissa in [1, 10) after rounding to 6 decimals.
  if (Number(mant.toFixed(6)) >= 10) {
    mant /= 10;
    ex += 1;
  }
  const exStr = String(Math.abs(ex)).padStart(2, '0');
  return `${mant.toFixed(6)}e${ex < 0 ? '-' : '+'}${exStr}`;
}
