/**
 * Output formats of an association scan (`--format`), their file names, and one entry point that opens the
 * writers of the requested formats. File names, for output prefix PREFIX and (multi-trait runs only) trait T:
 *   gemma  → PREFIX[.T].assoc.txt        (GEMMA .assoc.txt, ../assoc.ts; the default)
 *   plink2 → PREFIX[.T].glm.linear       (plink2 --glm columns, plink2.ts)
 *   gapit  → PREFIX[.T].GWAS_Results.csv (GAPIT results CSV, gapit.ts)
 *   rmvp   → PREFIX[.T].<METHOD>.csv     (rMVP CSV, rmvp.ts; e.g. PREFIX.MLM.csv)
 */
import { UsageError } from '../../errors.js';
import type { ResultWriter, WriterContext } from './types.js';
import { Plink2Writer } from './plink2.js';
import { GapitWriter } from './gapit.js';
import { RmvpWriter } from './rmvp.js';

export const OUTPUT_FORMATS = ['gemma', 'plink2', 'gapit', 'rmvp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Parses `--format` values (repeated or comma-separated), without duplicates, in the order given. */
export function parseFormats(values: string | string[] | undefined): OutputFormat[] {
  const list = (Array.isArray(values) ? values : values === undefined ? ['gemma'] : [values]).flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase());
  const out: OutputFormat[] = [];
  for (const v of list) {
    if (!(OUTPUT_FORMATS as readonly string[]).includes(v)) {
      throw new UsageError(`--format ${v} is not a known format`, `choose from ${OUTPUT_FORMATS.join(', ')} (several: --format gemma,plink2)`);
    }
    if (!out.includes(v as OutputFormat)) out.push(v as OutputFormat);
  }
  return out.length ? out : ['gemma'];
}

export function outputPath(base: string, format: OutputFormat, method: WriterContext['method']): string {
  switch (format) {
    case 'gemma':
      return `${base}.assoc.txt`;
    case 'plink2':
      return `${base}.glm.linear`;
    case 'gapit':
      return `${base}.GWAS_Results.csv`;
    case 'rmvp':
      return `${base}.${method}.csv`;
  }
}

/** Writers for the non-GEMMA formats (the GEMMA text is written from the scan's own lines). */
export function openWriters(base: string, formats: OutputFormat[], ctx: WriterContext): ResultWriter[] {
  const out: ResultWriter[] = [];
  for (const f of formats) {
    const path = outputPath(base, f, ctx.method);
    if (f === 'plink2') out.push(new Plink2Writer(path));
    else if (f === 'gapit') out.push(new GapitWriter(path));
    else if (f === 'rmvp') out.push(new RmvpWriter(path, ctx));
  }
  return out;
}

/** A file-name-safe version of a trait name. */
export function traitFileKey(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}
