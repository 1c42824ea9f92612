/**
 * A distributed MLM scan's output line with the full-precision values of its result row attached (job spec
 * `row_values`, proto/gwasgrid/v1/distributed.proto): the GEMMA `.assoc.txt` line, then
 * `\t<beta>\t<se>\t<log10 p>` before the newline. The GEMMA columns carry 7 significant digits; plink2, GAPIT and
 * rMVP files print up to 15 and T = beta/se, and λGC is the median of χ² of the exact p-values, so the
 * coordinator needs the doubles themselves to write what the single-process run writes.
 *
 * Numbers are written as JavaScript's shortest round-trip decimal (`String(x)`, `-0` kept), so parsing them back
 * gives the same double, bit for bit; NaN and ±Infinity as `NaN`, `Infinity`, `-Infinity`.
 */
import type { MlmRowValues } from './rows.js';

const num = (x: number) => (Object.is(x, -0) ? '-0' : String(x));

/** `line` (ending in a newline) with the values appended before the newline. */
export function withRowValues(line: string, v: MlmRowValues): string {
  return `${line.slice(0, -1)}\t${num(v.beta)}\t${num(v.se)}\t${num(v.log10p)}\n`;
}

/** A field of {@link withRowValues} back to its double; undefined when it is not one. */
function parseNum(s: string): number | undefined {
  if (s === 'NaN') return NaN;
  const x = Number(s);
  return s === '' || Number.isNaN(x) ? undefined : x;
}

/**
 * Splits a line of {@link withRowValues} (newline included or not) into the GEMMA line (with its newline) and the
 * values; null when the line does not end in three numeric fields.
 */
export function splitRowValues(line: string): { line: string; values: MlmRowValues } | null {
  const body = line.endsWith('\n') ? line.slice(0, -1) : line;
  const c = body.lastIndexOf('\t');
  const b = c > 0 ? body.lastIndexOf('\t', c - 1) : -1;
  const a = b > 0 ? body.lastIndexOf('\t', b - 1) : -1;
  if (a <= 0) return null;
  const beta = parseNum(body.slice(a + 1, b));
  const se = parseNum(body.slice(b + 1, c));
  const log10p = parseNum(body.slice(c + 1));
  if (beta === undefined || se === undefined || log10p === undefined) return null;
  return { line: `${body.slice(0, a)}\n`, values: { beta, se, log10p } };
}
