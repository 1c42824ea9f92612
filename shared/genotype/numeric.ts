/**
 * Numeric genotype matrices with a separate map, as GAPIT and rMVP read them:
 *
 * - **GAPIT layout** (`GD`, e.g. GAPIT's tutorial `mdp_numeric.txt`): a header `taxa SNP1 SNP2 …`, then one row
 *   per individual: the taxon name and one value per SNP.
 * - **rMVP layout** (`*.geno.desc`-free text export, `MVP.Data(fileNum=…)`): no header, one row per SNP, one
 *   column per individual; individual names from `--numeric-ind FILE` (one per line), else `1..n`.
 *
 * The layout is detected from the first line: a non-numeric first token means a GAPIT header.
 * Values are dosages 0..2 (fractional allowed); `NA`, `NaN`, `-9` and empty are missing. What the number counts
 * is whatever the producing tool chose (GAPIT: the second allele of the HapMap `alleles` column…), so allele
 * labels come from the map's REF/ALT columns when it has them, and are `.` otherwise.
 *
 * Map (`SNP Chromosome Position [REF ALT …]`, header optional, GAPIT `GM` / rMVP `.map`): one row per SNP in
 * the matrix's SNP order. SNP names must match the GAPIT header in order; a count mismatch is refused.
 *
 * The matrix is held in memory SNP-major (m × n float64: 8·m·n bytes; 281 × 3093 is 7 MB, 2000 × 50,000 is
 * 800 MB), since the GAPIT layout can only be transposed by reading it whole.
 */
import { BlockCollector } from './blocks.js';
import { InputError } from '../errors.js';
import { readText, splitLines, wsTokens } from '../io/lines.js';
import type { BlockOptions, GenoBlock, GenotypeSource, SampleId, SnpMeta } from './types.js';

const MISSING = new Set(['NA', 'NaN', 'nan', 'na', '-9', '', '.']);

function parseDosage(tok: string, file: string, line: number, what: () => string): number {
  if (tok.length === 1) {
    const d = tok.charCodeAt(0) - 48;
    if (d >= 0 && d <= 2) return d;
  }
  if (MISSING.has(tok)) return NaN;
  const v = Number(tok);
  if (!Number.isFinite(v) || v < 0 || v > 2) {
    throw new InputError(
      'INPUT_FORMAT',
      `genotype "${tok}" for ${what()} is not a dosage in [0, 2] or NA`,
      { file, line },
      'code genotypes as 0/1/2 (copies of one allele), NA for missing',
    );
  }
  return v;
}

/** Reads a GAPIT/rMVP map: name, chromosome, position (header optional), optional REF/ALT columns. */
export async function readNumericMap(path: string): Promise<SnpMeta[]> {
  const lines = splitLines(await readText(path));
  const snps: SnpMeta[] = [];
  let headerSeen = false;
  let refCol = -1;
  let altCol = -1;
  for (let i = 0; i < lines.length; i++) {
    const t = wsTokens(lines[i]);
    if (t.length === 0) continue;
    if (t.length < 3) {
      throw new InputError(
        'INPUT_FORMAT',
        `expected SNP, chromosome and position; found ${t.length} column(s)`,
        { file: path, line: i + 1 },
      );
    }
    if (!headerSeen && snps.length === 0 && !Number.isFinite(Number(t[2]))) {
      headerSeen = true;
      const up = t.map((x) => x.toUpperCase());
      refCol = up.indexOf('REF');
      altCol = up.indexOf('ALT');
      continue;
    }
    const pos = Number(t[2]);
    if (!Number.isFinite(pos)) {
      throw new InputError(
        'INPUT_FORMAT',
        `position "${t[2]}" of SNP ${t[0]} is not a number`,
        { file: path, line: i + 1 },
        'positions must be whole numbers',
      );
    }
    // rMVP counts the ALT allele; label it allele1.
    const a1 = altCol >= 0 && t[altCol] !== undefined ? t[altCol] : '.';
    const a0 = refCol >= 0 && t[refCol] !== undefined ? t[refCol] : '.';
    snps.push({ rs: t[0], chr: t[1], pos: Math.trunc(pos), cm: -9, a1, a0 });
  }
  if (snps.length === 0) throw new InputError('NO_DATA', 'map file has no SNPs', { file: path });
  return snps;
}

export interface NumericOptions {
  /** rMVP layout only: file of individual names, one per line. */
  indPath?: string;
}

export class NumericFile implements GenotypeSource {
  readonly format = 'numeric' as const;

  private constructor(
    readonly label: string,
    readonly nSamples: number,
    readonly sampleIds: SampleId[],
    readonly snps: SnpMeta[],
    /** SNP-major m × n dosages, NaN = missing. */
    private readonly matrix: Float64Array,
  ) {}

  static async open(path: string, mapPath: string, opts: NumericOptions = {}): Promise<NumericFile> {
    const snps = await readNumericMap(mapPath);
    const m = snps.length;
    const lines = splitLines(await readText(path));
    let first = 0;
    while (first < lines.length && lines[first].trim() === '') first++;
    if (first === lines.length)
      throw new InputError('NO_DATA', 'numeric genotype file is empty', { file: path });
    const head = wsTokens(lines[first]);
    const gapit = !Number.isFinite(Number(head[0])) && !MISSING.has(head[0]);
    if (gapit) {
      const names = head.slice(1);
      if (names.length !== m) {
        throw new InputError(
          'INPUT_FORMAT',
          `header names ${names.length} SNPs but the map ${mapPath} has ${m}`,
          { file: path, line: first + 1 },
          'the map needs one row per genotype column, in the same order',
        );
      }
      for (let j = 0; j < m; j++) {
        if (names[j] !== snps[j].rs) {
          throw new InputError(
            'INPUT_FORMAT',
            `SNP column ${j + 1} is "${names[j]}" but map row ${j + 1} is "${snps[j].rs}"`,
            { file: path, line: first + 1 },
            'the map must list the SNPs in the order of the genotype columns',
          );
        }
      }
      const rows: string[][] = [];
      const rowLines: number[] = [];
      for (let i = first + 1; i < lines.length; i++) {
        const t = wsTokens(lines[i]);
        if (t.length === 0) continue;
        if (t.length !== m + 1) {
          throw new InputError('INPUT_FORMAT', `has ${t.length - 1} genotypes, expected ${m}`, {
            file: path,
            line: i + 1,
            sample: t[0],
          });
        }
        rows.push(t);
        rowLines.push(i + 1);
      }
      const n = rows.length;
      if (n === 0)
        throw new InputError('NO_DATA', 'numeric genotype file has no individuals', { file: path });
      const ids = uniqueIds(
        rows.map((r) => r[0]),
        rowLines,
        path,
      );
      const matrix = new Float64Array(m * n);
      for (let i = 0; i < n; i++) {
        const t = rows[i];
        for (let j = 0; j < m; j++) {
          matrix[j * n + i] = parseDosage(t[j + 1], path, rowLines[i], () => `${t[0]} at ${snps[j].rs}`);
        }
      }
      return new NumericFile(path, n, ids, snps, matrix);
    }
    // rMVP layout: SNP rows.
    const dataLines: number[] = [];
    for (let i = first; i < lines.length; i++) if (lines[i].trim() !== '') dataLines.push(i);
    if (dataLines.length !== m) {
      throw new InputError(
        'INPUT_FORMAT',
        `has ${dataLines.length} SNP rows but the map ${mapPath} has ${m}`,
        { file: path },
        'the map needs one row per genotype row, in the same order',
      );
    }
    const n = wsTokens(lines[dataLines[0]]).length;
    const matrix = new Float64Array(m * n);
    for (let j = 0; j < m; j++) {
      const t = wsTokens(lines[dataLines[j]]);
      if (t.length !== n) {
        throw new InputError('INPUT_FORMAT', `has ${t.length} genotypes, the first row has ${n}`, {
          file: path,
          line: dataLines[j] + 1,
        });
      }
      for (let i = 0; i < n; i++)
        matrix[j * n + i] = parseDosage(
          t[i],
          path,
          dataLines[j] + 1,
          () => `SNP ${snps[j].rs}, individual ${i + 1}`,
        );
    }
    let names: string[];
    if (opts.indPath) {
      const indLines = splitLines(await readText(opts.indPath));
      names = indLines.map((l) => l.trim()).filter((l) => l !== '');
      if (names.length !== n) {
        throw new InputError(
          'INPUT_FORMAT',
          `lists ${names.length} individuals but ${path} has ${n} columns`,
          { file: opts.indPath },
        );
      }
    } else names = Array.from({ length: n }, (_, i) => String(i + 1));
    const ids = uniqueIds(
      names,
      names.map((_, i) => i + 1),
      opts.indPath ?? path,
    );
    return new NumericFile(path, n, ids, snps, matrix);
  }

  async *blocks(opts: BlockOptions): AsyncGenerator<GenoBlock> {
    const b = new BlockCollector(opts, this.snps.length, this.nSamples);
    const { keep, n, data } = b;
    const N = this.nSamples;
    for (let s = b.start; s < b.end; s++) {
      if (!b.wants(s)) continue;
      const src = s * N;
      const off = b.offset;
      if (keep) for (let j = 0; j < n; j++) data[off + j] = this.matrix[src + keep[j]];
      else data.set(this.matrix.subarray(src, src + N), off);
      const full = b.add(s);
      if (full) yield full;
    }
    const last = b.flush();
    if (last) yield last;
  }

  async close(): Promise<void> {}
}

function uniqueIds(names: string[], lines: number[], file: string): SampleId[] {
  const seen = new Map<string, number>();
  return names.map((name, i) => {
    const prev = seen.get(name);
    if (prev !== undefined) {
      throw new InputError(
        'INPUT_FORMAT',
        `duplicate individual "${name}" (first on line ${prev})`,
        { file, line: lines[i], sample: name },
        'each individual may appear once',
      );
    }
    seen.set(name, lines[i]);
    return { fid: name, iid: name };
  });
}
