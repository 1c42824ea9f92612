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
      throw new InputError('INPUT_FORMAT', 'expected at least 2 columns (rs bp [chr [cM]])', { file: path, line: i + 1 });
    }
    const pos = t[1] === 'NA' ? -9 : Number(t[1]);
    if (!Number.isFinite(pos)) {
      throw new InputError('INPUT_FORMAT', `position "${t[1]}" is not a number or NA`, { file: path, line: i + 1 });
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
      const t = tokens(line);
      if (t.length < 4) {
        throw new InputError('INPUT_FORMAT', `expected rs, allele1, allele0 and dosages; found ${t.length} fields`, {
          file: path,
          line: lineNo,
        });
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
    if (snps.length === 0) throw new InputError('NO_DATA', 'BIMBAM file has no SNPs', { file: path });
    return new BimbamFile(path, n, snps);
  }

  async *blocks(opts: BlockOptions): AsyncGenerator<GenoBlock> {
    const start = opts.start ?? 0;
    const end = Math.min(opts.end ?? this.snps.length, this.snps.length);
    const keep = opts.keep ?? null;
    const n = keep ? keep.length : this.nSamples;
    const bs = Math.max(1, opts.blockSize);
    const mask = opts.snpMask ?? null;
    const data = new Float64Array(bs * n);
    const indices = new Int32Array(bs);
    let count = 0;
    let snp = -1;
    for await (const { line, lineNo } of streamLines(this.label)) {
      if (line.trim() === '') continue;
      snp++;
      if (snp < start) continue;
      if (snp >= end) break;
      if (mask && !mask[snp]) continue;
      const t = tokens(line);
      const row = count * n;
      for (let j = 0; j < n; j++) {
        const tok = t[3 + (keep ? keep[j] : j)];
        let v: number;
        if (tok === 'NA') v = NaN;
        else {
          v = Number(tok);
          if (!Number.isFinite(v)) {
            throw new InputError('INPUT_FORMAT', `dosage "${tok}" is not a number or NA`, {
              file: this.label,
              line: lineNo,
              snp: t[0],
            });
          }
        }
        data[row + j] = v;
      }
      indices[count++] = snp;
      if (count === bs) {
        yield { indices: indices.subarray(0, count), count, n, data: data.subarray(0, count * n) };
        count = 0;
      }
    }
    if (count > 0) yield { indices: indices.subarray(0, count), count, n, data: data.subarray(0, count * n) };
  }

  async close(): Promise<void> {}
}
