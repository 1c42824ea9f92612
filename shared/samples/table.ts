/**
 * Phenotype and covariate tables in the two styles users bring:
 * - GEMMA/BIMBAM style: no header, one row per genotype sample in genotype order, one column per variable.
 * - PLINK style: a header starting `FID IID` (or `#FID IID`, or plink2's `#IID`), rows joined by ID.
 * - GAPIT/rMVP style: a header starting `Taxa` (any case), then trait names; rows joined by the taxon name,
 *   which is matched against the sample ID (IID) of the genotypes. `NaN` is missing, as GAPIT writes it.
 * The style is detected from the first line.
 */
import { InputError } from '../errors.js';
import { readText, splitLines, wsTokens } from '../io/lines.js';
import type { SampleId } from '../genotype/types.js';

export interface Table {
  file: string;
  style: 'gemma' | 'plink';
  /** Row IDs (PLINK style); null for GEMMA style. With `#IID` headers fid is set equal to iid. */
  ids: SampleId[] | null;
  /** Whether IDs are IID-only (`#IID` or `Taxa` header). */
  iidOnly: boolean;
  /** Column names (PLINK style header), or null. */
  names: string[] | null;
  /** Columns of values, NaN = missing. */
  columns: Float64Array[];
  /** 1-based line number of each row (for messages). */
  lines: number[];
}

export interface TableOptions {
  /** Extra tokens that mean "missing" besides NA/nan/empty. Phenotypes: ["-9"]. */
  missing: readonly string[];
  what: 'phenotype' | 'covariate';
}

const ALWAYS_MISSING = new Set(['NA', 'na', 'NaN', 'nan', '.', '']);

function parseValue(tok: string, missing: ReadonlySet<string>): number | null {
  if (ALWAYS_MISSING.has(tok) || missing.has(tok)) return NaN;
  const v = Number(tok);
  return Number.isFinite(v) ? v : null;
}

/** Reads a phenotype or covariate table, detecting its style. */
export async function readTable(file: string, opts: TableOptions): Promise<Table> {
  const lines = splitLines(await readText(file));
  const missing = new Set(opts.missing);
  let first = 0;
  while (first < lines.length && lines[first].trim() === '') first++;
  if (first === lines.length) {
    throw new InputError(
      'NO_DATA',
      `${opts.what} file is empty`,
      { file },
      `give a ${opts.what} file with a "FID IID name…" header and one row per sample, or one row per genotype sample without a header`,
    );
  }
  const head = wsTokens(lines[first]);
  const h0 = head[0].replace(/^#/, '').toUpperCase();
  const h1 = (head[1] ?? '').toUpperCase();
  const plinkFidIid = h0 === 'FID' && h1 === 'IID';
  const plinkIid = head[0].toUpperCase() === '#IID' || h0 === 'TAXA';
  if (plinkFidIid || plinkIid) {
    const skip = plinkFidIid ? 2 : 1;
    const names = head.slice(skip);
    if (names.length === 0) {
      throw new InputError('INPUT_FORMAT', `header has no ${opts.what} columns after the IDs`, { file, line: first + 1 });
    }
    const columns = names.map(() => [] as number[]);
    const ids: SampleId[] = [];
    const rowLines: number[] = [];
    const seen = new Map<string, number>();
    for (let i = first + 1; i < lines.length; i++) {
      if (lines[i].trim() === '') continue;
      const t = wsTokens(lines[i]);
      if (t.length !== skip + names.length) {
        throw new InputError(
          'INPUT_FORMAT',
          `has ${t.length} columns but the header has ${skip + names.length}`,
          { file, line: i + 1 },
          'every row needs the ID column(s) and one value per header name (use NA for missing)',
        );
      }
      const id = plinkFidIid ? { fid: t[0], iid: t[1] } : { fid: t[0], iid: t[0] };
      const key = `${id.fid}\u0000${id.iid}`;
      if (seen.has(key)) {
        throw new InputError(
          'INPUT_FORMAT',
          `duplicate sample "${plinkFidIid ? `${id.fid} ${id.iid}` : id.iid}" (first on line ${seen.get(key)})`,
          { file, line: i + 1, sample: id.iid },
          'each sample may appear once',
        );
      }
      seen.set(key, i + 1);
      ids.push(id);
      rowLines.push(i + 1);
      for (let c = 0; c < names.length; c++) {
        const v = parseValue(t[skip + c], missing);
        if (v === null) {
          throw new InputError(
            'INPUT_FORMAT',
            `${opts.what} "${names[c]}" has non-numeric value "${t[skip + c]}"`,
            { file, line: i + 1, sample: id.iid },
            'use numbers, and NA for missing values',
          );
        }
        columns[c].push(v);
      }
    }
    return {
      file,
      style: 'plink',
      ids,
      iidOnly: plinkIid,
      names,
      columns: columns.map((c) => Float64Array.from(c)),
      lines: rowLines,
    };
  }
  // GEMMA style: every token numeric or missing.
  let width = -1;
  const rows: number[][] = [];
  const rowLines: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const t = wsTokens(lines[i]);
    if (width < 0) width = t.length;
    else if (t.length !== width) {
      throw new InputError(
        'INPUT_FORMAT',
        `has ${t.length} columns but line ${rowLines[0]} has ${width}`,
        { file, line: i + 1 },
        'every row needs the same number of columns (use NA for missing values)',
      );
    }
    const row = t.map((tok, c) => {
      const v = parseValue(tok, missing);
      if (v === null) {
        throw new InputError(
          'INPUT_FORMAT',
          `column ${c + 1} has non-numeric value "${tok}"`,
          { file, line: i + 1 },
          i === first
            ? 'if this line is a header, start it with "FID IID" (PLINK style); otherwise use numbers and NA'
            : 'use numbers, and NA for missing values',
        );
      }
      return v;
    });
    rows.push(row);
    rowLines.push(i + 1);
  }
  const columns: Float64Array[] = [];
  for (let c = 0; c < width; c++) columns.push(Float64Array.from(rows, (r) => r[c]));
  return { file, style: 'gemma', ids: null, iidOnly: false, names: null, columns, lines: rowLines };
}
