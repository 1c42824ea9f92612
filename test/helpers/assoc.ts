/**
 * Reading association tables by column name and comparing them with named tolerances, reporting the worst
 * deviation per column (so every golden test prints how close it came).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface Table {
  header: string[];
  rows: string[][];
  col(name: string): number;
}

export function readTsv(path: string): Table {
  let buf = readFileSync(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const lines = buf.toString('utf8').split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0].replace(/^#/, '').split(/\t/);
  const rows = lines.slice(1).map((l) => l.split(/\t/));
  return {
    header,
    rows,
    col(name: string) {
      const i = header.indexOf(name);
      if (i < 0) throw new Error(`${path}: no column ${name} (have ${header.join(',')})`);
      return i;
    },
  };
}

export interface Deviation {
  column: string;
  worst: number;
  at: string;
  ours: string;
  ref: string;
  compared: number;
}

/** Parses a GEMMA-style number, including our extended exponents like 1.0e-400, as log10. */
export function log10Of(s: string): number {
  const m = /^(-?\d*\.?\d+)(?:e([+-]?\d+))?$/i.exec(s.trim());
  if (!m) return NaN;
  const mant = Number(m[1]);
  const ex = m[2] ? Number(m[2]) : 0;
  return Math.log10(Math.abs(mant)) + ex;
}

export type Metric = 'rel' | 'log10p' | 'relOrLog10p' | 'exact';

/**
 * Worst deviation of `column` between two tables matched row by row on `key`, skipping rows where `skip`
 * says so (e.g. λ at a bound). For `relOrLog10p` the deviation is min(relative, |Δlog10|).
 */
export function worstDeviation(
  ours: Table,
  ref: Table,
  column: string,
  metric: Metric,
  key = 'rs',
  skip?: (refRow: string[], ourRow: string[]) => boolean,
): Deviation {
  const ki = ours.col(key);
  const rk = ref.col(key);
  const oi = ours.col(column);
  const ri = ref.col(column);
  const byKey = new Map<string, string[]>();
  for (const r of ours.rows) byKey.set(r[ki], r);
  let worst = 0;
  let at = '';
  let o = '';
  let rv = '';
  let compared = 0;
  for (const r of ref.rows) {
    const mine = byKey.get(r[rk]);
    if (!mine) throw new Error(`row ${r[rk]} missing from our output`);
    if (skip?.(r, mine)) continue;
    const a = mine[oi];
    const b = r[ri];
    let d: number;
    if (metric === 'exact') d = a === b ? 0 : Infinity;
    else {
      const x = Number(a);
      const y = Number(b);
      const rel = x === y ? 0 : Math.abs(x - y) / Math.max(Math.abs(y), 1e-300);
      const dl = Math.abs(log10Of(a) - log10Of(b));
      if (metric === 'rel') d = rel;
      else if (metric === 'log10p') d = dl;
      else d = Math.min(rel, dl);
      if (Number.isNaN(d)) d = a === b ? 0 : Infinity;
    }
    compared++;
    if (d > worst) {
      worst = d;
      at = r[rk];
      o = a;
      rv = b;
    }
  }
  return { column, worst, at, ours: o, ref: rv, compared };
}

export function describe(d: Deviation): string {
  return `${d.column}: worst ${d.worst.toExponential(2)} over ${d.compared} rows${d.at ? ` (at ${d.at}: ours ${d.ours}, ref ${d.ref})` : ''}`;
}
