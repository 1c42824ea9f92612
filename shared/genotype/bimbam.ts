/**
 * BIMBAM mean-genotype files, as GEMMA reads them (GEMMA manual §4.1.1; Guan & Stephens 2008):
 * one line per SNP, `rs, allele1, allele0, d_1, …, d_n`, separated by commas and/or white space, where d_i is
 * the expected count of allele1 (0..2, non-integer for imputed calls) and `NA` is missing. Plain or gzip.
 * Positions come from the optional annotation file (`rs bp chr [cM]`, `NA` allowed); SNPs absent from it get
 * chr = "-9" and pos = -9, as in GEMMA.
 *
 * The file has no sample IDs: its columns are in the order of the phenotype file. It is streamed line by line
 * (one pass to index, one per analysis pass), so memory stays O(n × block).
 */
import { BlockCollector } from './blocks.js';
import { InputError } from '../errors.js';
import { readText, splitLines, streamLines, tokens } from '../io/lines.js';
import type { BlockOptions, GenoBlock, GenotypeSource, SnpMeta } from './types.js';

interface AnnoEntry {
  pos: number;
  chr: string;
  cm: number;
}

/** Reads a BIMBAM annotation file into a map from rs to position. */
export async function readAnno(path: string): Promise<Map<string, AnnoEntry>> {
  const map = new Map<string, AnnoEntry>();
  const lines = splitLines(await readText(path));
  lines.forEach((line, i) => {
    const t = tokens(line);
    if (t.length === 0) return;
    if (t.length < 2) {
      throw new InputError('INPUT_FORMAT', 'expected at least 2 columns (rs bp [chr [cM]])', { file: path, line: i + 1 }, 'an annotation line is "rs bp chr [cM]"');
    }
    const pos = t[1] === 'NA' ? -9 : Number(t[1]);
    if (!Number.isFinite(pos)) {
      throw new InputError('INPUT_FORMAT', `position "${t[1]}" is not a number or NA`, { file: path, line: i + 1 }, 'an annotation line is "rs bp chr [cM]" with bp a whole number or NA');
    }
    const chr = t.length > 2 && t[2] !== 'NA' ? t[2] : '-9';
    const cm = t.length > 3 && t[3] !== 'NA' ? Number(t[3]) : -9;
    map.set(t[0], { pos: Math.trunc(pos), chr, cm: Number.isFinite(cm) ? cm : -9 });
  });
  return map;
}

export class BimbamFile implements GenotypeSource {
  readonly format = 'bimbam' as const;
  readonly sampleIds = null;

  private constructor(
    readonly label: string,
    readonly nSamples: number,
    readonly snps: SnpMeta[],
  ) {}

  /** Indexes the file (SNP names, alleles, column count) and joins the annotation. */
  static async open(path: string, annoPath?: string): Promise<BimbamFile> {
    const anno = annoPath ? await readAnno(annoPath) : new Map<string, AnnoEntry>();
    const snps: SnpMeta[] = [];
    let n = -1;
    for await (const { line, lineNo } of streamLines(path)) {
      if (line.trim() === '') continue;
      const t = headAndCount(line);
      if (t.length < 4) {
        throw new InputError(
          'INPUT_FORMAT',
          `expected rs, allele1, allele0 and dosages; found ${t.length} fields`,
          { file: path, line: lineNo },
          'a BIMBAM mean-genotype line is "rs, allele1, allele0, d1, …, dn"',
        );
      }
      if (n < 0) n = t.length - 3;
      else if (t.length - 3 !== n) {
        throw new InputError(
          'INPUT_FORMAT',
          `has ${t.length - 3} dosages but the first line has ${n}`,
          { file: path, line: lineNo, snp: t[0] },
          'every line needs one dosage per sample',
        );
      }
      const a = anno.get(t[0]);
      snps.push({ rs: t[0], a1: t[1], a0: t[2], chr: a ? a.chr : '-9', pos: a ? a.pos : -9, cm: a ? a.cm : -9 });
    }
    if (snps.length === 0) {
      throw new InputError('NO_DATA', 'BIMBAM file has no SNPs', { file: path }, 'give the mean-genotype file: one line "rs, allele1, allele0, dosages…" per SNP');
    }
    // SNPs absent from the annotation get chr/ps -9 (GEMMA); an annotation naming none of them is the wrong file.
    if (annoPath && anno.size > 0 && !snps.some((s) => anno.has(s.rs))) {
      throw new InputError(
        'INPUT_MISMATCH',
        `none of the ${snps.length} SNPs of ${path} is in the annotation (first SNP: ${snps[0].rs}, first annotated: ${anno.keys().next().value})`,
        { file: annoPath },
        'give the annotation file of this genotype file (columns: rs bp chr), with the same SNP names',
      );
    }
    return new BimbamFile(path, n, snps);
  }

  async *blocks(opts: BlockOptions): AsyncGenerator<GenoBlock> {
    const b = new BlockCollector(opts, this.snps.length, this.nSamples);
    const { keep, start, end } = b;
    // Output column of each genotype column (-1 = not kept).
    const outCol = new Int32Array(this.nSamples);
    if (keep) {
      outCol.fill(-1);
      keep.forEach((g, j) => (outCol[g] = j));
    } else for (let i = 0; i < this.nSamples; i++) outCol[i] = i;
    let snp = -1;
    for await (const { line, lineNo } of streamLines(this.label)) {
      if (line.trim() === '') continue;
      snp++;
      if (snp < start) continue;
      if (snp >= end) break;
      if (!b.wants(snp)) continue;
      parseDosages(line, this.nSamples, outCol, b.data, b.offset, this.label, lineNo);
      const full = b.add(snp);
      if (full) yield full;
    }
    const last = b.flush();
    if (last) yield last;
  }

  async close(): Promise<void> {}
}

const isSep = (c: number) => c === 32 || c === 44 || c === 9 || c === 13;

/**
 * Parses the dosages of one BIMBAM line (after rs, allele1, allele0) into `out[off + outCol[i]]` for kept
 * columns, in one pass over the characters: the common one-character values 0/1/2 need no number parsing,
 * `NA` is NaN, anything else goes through Number() and must be finite.
 */
function parseDosages(
  line: string,
  nSamples: number,
  outCol: Int32Array,
  out: Float64Array,
  off: number,
  file: string,
  lineNo: number,
): void {
  const len = line.length;
  let pos = 0;
  let tok = 0;
  while (pos < len) {
    while (pos < len && isSep(line.charCodeAt(pos))) pos++;
    if (pos >= len) break;
    const a = pos;
    while (pos < len && !isSep(line.charCodeAt(pos))) pos++;
    const i = tok - 3;
    tok++;
    if (i < 0) continue;
    if (i >= nSamples) break;
    const j = outCol[i];
    if (j < 0) continue;
    let v: number;
    if (pos - a === 1) {
      const d = line.charCodeAt(a) - 48;
      v = d >= 0 && d <= 9 ? d : NaN;
      if (!(d >= 0 && d <= 9)) throwBad(line.slice(a, pos), file, lineNo, line);
    } else {
      const t = line.slice(a, pos);
      if (t === 'NA') v = NaN;
      else {
        v = Number(t);
        if (!Number.isFinite(v)) throwBad(t, file, lineNo, line);
      }
    }
    out[off + j] = v;
  }
  if (tok - 3 < nSamples) {
    throw new InputError('INPUT_FORMAT', `has ${Math.max(0, tok - 3)} dosages, expected ${nSamples}`, { file, line: lineNo }, 'every line needs one dosage per sample');
  }
}

function throwBad(tok: string, file: string, lineNo: number, line: string): never {
  throw new InputError(
    'INPUT_FORMAT',
    `dosage "${tok}" is not a number or NA`,
    { file, line: lineNo, snp: tokens(line)[0] },
    'BIMBAM dosages are numbers from 0 to 2 (expected copies of allele1), NA for missing',
  );
}

/** The first three tokens of a line and the total number of tokens (as `length`), without splitting it all. */
function headAndCount(line: string): { 0: string; 1: string; 2: string; length: number } {
  const head: string[] = [];
  let count = 0;
  let pos = 0;
  const len = line.length;
  while (pos < len) {
    while (pos < len && isSep(line.charCodeAt(pos))) pos++;
    if (pos >= len) break;
    const a = pos;
    while (pos < len && !isSep(line.charCodeAt(pos))) pos++;
    if (count < 3) head.push(line.slice(a, pos));
    count++;
  }
  return { 0: head[0], 1: head[1], 2: head[2], length: count };
}
