/**
 * Streaming reader of association results for plotting: chromosome, position, SNP id and −log10 p of every
 * row, from any of the result tables our users have, recognised by their header (columns matched by name,
 * never by position — see ../shared/docs/FORMATS.md):
 *   - GEMMA / gwasgrid `.assoc.txt` (`chr rs ps … p_wald p_lrt p_score`; `-lm` files too; FarmCPU output
 *     uses the same columns with `p_wald`): default p column = the first of p_wald, p_lrt, p_score present;
 *   - plink2 `.glm.linear` / `.glm.logistic` (`#CHROM POS ID … P`, or `NEG_LOG10_P`/`LOG10_P` with `log10`):
 *     only `TEST = ADD` rows when a TEST column is present (covariate rows are not SNP tests);
 *   - GAPIT results CSV (`SNP, Chr, Pos, P.value, …`; also the older `Chromosome, Position`);
 *   - rMVP CSV (`"SNP","CHROM","POS",…,"<trait>.<method>"`; the p-value is the last column; older files
 *     `Chrom, BP`);
 *   - any other table with recognisable id/chromosome/position/p columns (SNP|rs|ID|MarkerName,
 *     CHR|Chr|CHROM|Chromosome, BP|POS|Pos|ps|Position, P|p|pval|p_value|P.value) — e.g. the tab-separated
 *     FarmCPU references in ../shared/data.
 * Delimiter: tab if the header has one, else comma (CSV, with "quoted" fields), else runs of spaces.
 *
 * Missing-data policy: a p-value of NA (also `NaN`, `nan`, `-nan`, `.`, empty) is skipped and counted; a
 * p-value of exactly 0 is kept as −log10 p = +Infinity (it counts for λGC and QQ ranks, but cannot be drawn:
 * counted); p-values written below the double range (`3.2e-1235`, as gwasgrid prints them) are read exactly
 * in log space. A row without a usable chromosome or position (`-9`, `NA`, `0`, as GEMMA and PLINK write
 * unknown positions) keeps its p-value (QQ, λGC, the Bonferroni count) but is not placed on a Manhattan plot.
 * Malformed rows (wrong field count, p outside [0, 1], text that is not a number) are InputErrors naming the
 * file and line. Cost: one pass, O(rows) memory in typed arrays; SNP ids are kept only for rows the caller
 * asks for (`keepId`), so a 10⁷-row file does not hold 10⁷ strings.
 */
import { InputError, UsageError } from '../../errors.js';
import { streamLines } from '../../io/lines.js';

export type ResultsFormat = 'gemma' | 'plink2' | 'gapit' | 'rmvp' | 'table';

export const FORMAT_NAMES: Record<ResultsFormat, string> = {
  gemma: 'GEMMA/gwasgrid .assoc.txt',
  plink2: 'plink2 --glm',
  gapit: 'GAPIT results CSV',
  rmvp: 'rMVP results CSV',
  table: 'results table',
};

export interface ResultsTable {
  file: string;
  format: ResultsFormat;
  /** The column the p-values came from. */
  pColumn: string;
  /** Chromosome names in genome order (1, 2, …, 10, …, X, Y, XY, MT, then others alphabetically). */
  chrNames: string[];
  /** Per row: index into chrNames, or −1 when the chromosome or position is unknown. */
  chr: Int32Array;
  /** Per row: base-pair position (NaN when unknown). */
  pos: Float64Array;
  /** Per row: −log10 p (+Infinity for p = 0). Only rows with a p-value are stored. */
  nlp: Float64Array;
  /** Rows stored (SNPs with a p-value). */
  n: number;
  /** Rows skipped because the p-value is NA. */
  nNa: number;
  /** Stored rows without chromosome/position (not placed on a Manhattan plot). */
  nNoPosition: number;
  /** Stored rows with p = 0 exactly. */
  nZero: number;
  /** SNP ids of the rows `keepId` accepted, by row index. */
  ids: Map<number, string>;
}

export interface ReadOptions {
  /** Column holding the p-values (exact header name; case-insensitive match accepted). */
  pCol?: string;
  /** Whether to keep the SNP id of a row, given its −log10 p and the number of rows stored before it. */
  keepId?: (nlp: number, rowsBefore: number) => boolean;
}

const NA_TOKENS = new Set(['', 'na', 'nan', '-nan', '+nan', '.', 'null', 'none']);
const GEMMA_P = ['p_wald', 'p_lrt', 'p_score'];
const ALIASES = {
  id: ['snp', 'rs', 'id', 'markername', 'marker', 'snpid', 'variant_id', 'rsid'],
  chr: ['chr', 'chrom', '#chrom', 'chromosome', 'chrom', 'ch'],
  pos: ['ps', 'pos', 'bp', 'position', 'base_pair_location', 'bp_hg19'],
  p: ['p', 'p.value', 'pval', 'p_value', 'pvalue', 'p-value', 'p_wald'],
};
const NEG_LOG10_COLUMNS = new Set(['neg_log10_p', 'log10_p', 'log10p', 'mlog10p']);

/** Splits one CSV line (RFC 4180 quotes, `""` inside quotes). */
function splitCsv(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else q = false;
      } else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

type Splitter = (line: string) => string[];

function splitterFor(header: string): Splitter {
  if (header.includes('\t')) return (l) => l.split('\t');
  if (header.includes(',')) return splitCsv;
  return (l) => l.trim().split(/ +/);
}

/**
 * −log10 of a p-value given as text. Exact below the double range ("3.162278e-1235" → 1234.5). Returns
 * NaN for NA-like text, +Infinity for 0, and null for text that is not a number.
 */
export function parseNegLog10P(text: string): number | null {
  const v = Number(text);
  if (v > 0) return 0 - Math.log10(v);
  const s = text.trim();
  if (Number.isNaN(v) || s === '') return NA_TOKENS.has(s.toLowerCase()) ? NaN : null;
  if (v === 0) {
    const m = /^\+?(\d*\.?\d+)[eE]([+-]?\d+)$/.exec(s);
    if (m && Number(m[1]) > 0) return -(Math.log10(Number(m[1])) + Number(m[2]));
    return Infinity;
  }
  return -Math.log10(v); // negative: NaN, rejected by the caller
}

/** Genome-order sort key of a chromosome name: numbers first, then X, Y, XY, MT, then the rest by name. */
export function chromosomeOrder(a: string, b: string): number {
  const key = (c: string): [number, number, string] => {
    const s = c.replace(/^chr/i, '');
    if (/^\d+$/.test(s)) return [0, Number(s), s];
    const special = ['X', 'Y', 'XY', 'MT'].indexOf(s.toUpperCase() === 'M' ? 'MT' : s.toUpperCase());
    return special >= 0 ? [1, special, s] : [2, 0, s];
  };
  const ka = key(a);
  const kb = key(b);
  return ka[0] - kb[0] || ka[1] - kb[1] || (ka[2] < kb[2] ? -1 : ka[2] > kb[2] ? 1 : 0);
}

/** The chromosome as plots label it: without a `chr` prefix. */
export function chromosomeLabel(name: string): string {
  return name.replace(/^chr/i, '');
}

interface Layout {
  format: ResultsFormat;
  id: number;
  chr: number;
  pos: number;
  p: number;
  pName: string;
  /** The p column already holds −log10 p (plink2 `log10`). */
  negLog10: boolean;
  /** Index of plink2's TEST column (rows other than ADD are skipped), or −1. */
  test: number;
  nFields: number;
}

function findCol(cols: string[], names: string[]): number {
  const lower = cols.map((c) => c.toLowerCase());
  for (const n of names) {
    const i = lower.indexOf(n);
    if (i >= 0) return i;
  }
  return -1;
}

function layoutOf(file: string, cols: string[], pCol: string | undefined): Layout {
  const has = (c: string) => cols.includes(c);
  let format: ResultsFormat;
  let p = -1;
  let test = -1;
  if (has('chr') && has('rs') && has('ps')) {
    format = 'gemma';
    p = cols.findIndex((c) => GEMMA_P.includes(c));
  } else if (cols[0] === '#CHROM' && has('ID') && has('POS')) {
    format = 'plink2';
    p = findCol(cols, ['p', 'neg_log10_p', 'log10_p']);
    test = cols.indexOf('TEST');
  } else if (has('SNP') && (has('Chr') || has('Chromosome')) && (has('Pos') || has('Position')) && has('P.value')) {
    format = 'gapit';
    p = cols.indexOf('P.value');
  } else if (has('SNP') && (has('CHROM') || has('Chrom')) && (has('POS') || has('BP'))) {
    format = 'rmvp';
    const last = cols.length - 1;
    const known = ['snp', 'chrom', 'pos', 'bp', 'a1', 'a2', 'ref', 'alt', 'maf', 'effect', 'se'];
    if (!known.includes(cols[last].toLowerCase())) p = last;
  } else {
    format = 'table';
    p = findCol(cols, ALIASES.p);
  }
  if (pCol !== undefined) {
    p = cols.indexOf(pCol);
    if (p < 0) p = cols.findIndex((c) => c.toLowerCase() === pCol.toLowerCase());
    if (p < 0) {
      throw new UsageError(
        `--p-col ${pCol}: ${file} has no such column`,
        `name one of its columns: ${cols.join(', ')}`,
      );
    }
  }
  const id = findCol(cols, ALIASES.id);
  const chr = findCol(cols, ALIASES.chr);
  const pos = findCol(cols, ALIASES.pos);
  const missing = [id < 0 ? 'SNP id' : '', chr < 0 ? 'chromosome' : '', pos < 0 ? 'position' : '', p < 0 ? 'p-value' : '']
    .filter((x) => x)
    .join(', ');
  if (missing) {
    throw new InputError(
      'INPUT_FORMAT',
      `not a results table I recognise: no ${missing} column in the header (${cols.join(' ')})`,
      { file, line: 1 },
      'give a GEMMA .assoc.txt, plink2 .glm.linear, GAPIT or rMVP results CSV, or a table with SNP, CHR, BP and P columns; name the p-value column with --p-col',
    );
  }
  return {
    format,
    id,
    chr,
    pos,
    p,
    pName: cols[p],
    negLog10: NEG_LOG10_COLUMNS.has(cols[p].toLowerCase()),
    test,
    nFields: cols.length,
  };
}

class Growable {
  data: Float64Array;
  length = 0;
  constructor(cap = 1 << 14) {
    this.data = new Float64Array(cap);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** Reads a results file (plain or gzip) in one streaming pass. See the module comment for formats and NA rules. */
export async function readResults(file: string, opts: ReadOptions = {}): Promise<ResultsTable> {
  const keepId = opts.keepId ?? (() => true);
  let layout: Layout | null = null;
  let split: Splitter = (l) => l.split('\t');
  const chrIndex = new Map<string, number>();
  const chrTmp: number[] = [];
  const pos = new Growable();
  const nlp = new Growable();
  const ids = new Map<number, string>();
  let nNa = 0;
  let nNoPosition = 0;
  let nZero = 0;
  const bad = (lineNo: number, msg: string, fix: string): never => {
    throw new InputError('INPUT_FORMAT', msg, { file, line: lineNo }, fix);
  };
  for await (const { line, lineNo } of streamLines(file)) {
    if (layout === null) {
      if (line.trim() === '') continue;
      split = splitterFor(line);
      layout = layoutOf(
        file,
        split(line).map((c) => c.trim()),
        opts.pCol,
      );
      continue;
    }
    if (line.length === 0 || (line.length < 3 && line.trim() === '')) continue;
    const f = split(line);
    if (f.length !== layout.nFields) {
      bad(
        lineNo,
        `has ${f.length} fields but the header has ${layout.nFields}`,
        'the file is truncated or was edited; re-run the analysis that wrote it',
      );
    }
    if (layout.test >= 0 && f[layout.test].trim() !== 'ADD') continue;
    const pText = f[layout.p];
    let v: number | null;
    if (layout.negLog10) {
      const t = pText.trim();
      v = NA_TOKENS.has(t.toLowerCase()) ? NaN : t === '' || Number.isNaN(Number(t)) ? null : Number(t);
      if (v !== null && v < 0) v = -1;
    } else v = parseNegLog10P(pText);
    if (v === null) bad(lineNo, `${layout.pName} "${pText}" is not a number`, 'p-values must be numbers in [0, 1] or NA');
    if (Number.isNaN(v)) {
      nNa++;
      continue;
    }
    if (v! < 0) {
      // p slightly above 1 from rounding in other tools is 1; anything else is not a p-value
      if (v! > -1e-6 && !layout.negLog10) v = 0;
      else bad(lineNo, `${layout.pName} "${pText}" is not a p-value`, 'p-values must be in [0, 1] (or NA)');
    }
    const chrText = f[layout.chr].trim();
    const posVal = Number(f[layout.pos]);
    let ci = -1;
    if (posVal > 0) {
      const k = chrIndex.get(chrText);
      if (k !== undefined) ci = k;
      else if (chrText !== '' && chrText !== '0' && !NA_TOKENS.has(chrText.toLowerCase())) {
        ci = chrIndex.size;
        chrIndex.set(chrText, ci);
      }
    }
    if (ci < 0) nNoPosition++;
    const row = nlp.length;
    if (v === Infinity) nZero++;
    if (keepId(v!, row)) ids.set(row, f[layout.id].trim());
    chrTmp.push(ci);
    pos.push(ci >= 0 ? posVal : NaN);
    nlp.push(v!);
  }
  if (layout === null) {
    throw new InputError('NO_DATA', 'is empty (no header line)', { file }, 'give the results file the analysis wrote');
  }
  const names = [...chrIndex.keys()].sort(chromosomeOrder);
  const remap = new Int32Array(chrIndex.size);
  names.forEach((name, i) => (remap[chrIndex.get(name)!] = i));
  const chr = new Int32Array(chrTmp.length);
  for (let i = 0; i < chrTmp.length; i++) chr[i] = chrTmp[i] >= 0 ? remap[chrTmp[i]] : -1;
  return {
    file,
    format: layout.format,
    pColumn: layout.pName,
    chrNames: names,
    chr,
    pos: pos.view(),
    nlp: nlp.view(),
    n: nlp.length,
    nNa,
    nNoPosition,
    nZero,
    ids,
  };
}
