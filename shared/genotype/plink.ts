/**
 * PLINK 1 binary filesets (.bed/.bim/.fam), SNP-major.
 *
 * Format (PLINK 1.9 documentation, "bed"): 3 magic bytes `6c 1b 01` (the third byte 01 = SNP-major), then for
 * each SNP ⌈n/4⌉ bytes, 2 bits per sample from the least significant bits: 00 = homozygous A1, 01 = missing,
 * 10 = heterozygous, 11 = homozygous A2. We return the count of A1 (2, NaN, 1, 0), GEMMA's convention.
 *
 * Any SNP range is read by byte offset (3 + i·⌈n/4⌉), so a worker reads only its partition; memory is
 * O(n × block).
 */
import { promises as fsp } from 'node:fs';
import { InputError } from '../errors.js';
import { openOrThrow, readText, splitLines, wsTokens } from '../io/lines.js';
import type { BlockOptions, GenoBlock, GenotypeSource, SampleId, SnpMeta } from './types.js';

export interface FamRecord extends SampleId {
  father: string;
  mother: string;
  sex: string;
  /** Columns 6.. as raw strings (phenotypes). */
  phenos: string[];
}

/** Reads a .fam file; rejects short lines and duplicate FID/IID pairs, naming the line. */
export async function readFam(path: string): Promise<FamRecord[]> {
  const lines = splitLines(await readText(path));
  const out: FamRecord[] = [];
  const seen = new Map<string, number>();
  lines.forEach((line, i) => {
    if (line.trim() === '') {
      throw new InputError('INPUT_FORMAT', 'empty line in .fam file', { file: path, line: i + 1 }, 'remove blank lines');
    }
    const t = wsTokens(line);
    if (t.length < 6) {
      throw new InputError(
        'INPUT_FORMAT',
        `expected at least 6 columns (FID IID father mother sex phenotype), found ${t.length}`,
        { file: path, line: i + 1 },
        'a .fam line is "FID IID father mother sex phenotype" (use 0 for unknown parents/sex and -9 or NA for a missing phenotype)',
      );
    }
    const key = `${t[0]}\u0000${t[1]}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      throw new InputError(
        'INPUT_FORMAT',
        `duplicate sample ID "${t[0]} ${t[1]}" (first on line ${prev})`,
        { file: path, line: i + 1, sample: t[1] },
        'every FID/IID pair must be unique; rename or remove the duplicate',
      );
    }
    seen.set(key, i + 1);
    out.push({ fid: t[0], iid: t[1], father: t[2], mother: t[3], sex: t[4], phenos: t.slice(5) });
  });
  if (out.length === 0) throw new InputError('NO_DATA', '.fam file has no samples', { file: path });
  return out;
}

/** Reads a .bim file (chr, rs, cM, bp, A1, A2). */
export async function readBim(path: string): Promise<SnpMeta[]> {
  const lines = splitLines(await readText(path));
  const out: SnpMeta[] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const t = wsTokens(lines[i]);
    if (t.length < 6) {
      throw new InputError(
        'INPUT_FORMAT',
        `expected 6 columns (chr rs cM bp A1 A2), found ${t.length}`,
        { file: path, line: i + 1 },
        'a .bim line is "chr rs cM bp A1 A2" (cM may be 0); regenerate the fileset with plink --make-bed',
      );
    }
    const pos = Number(t[3]);
    if (!Number.isFinite(pos)) {
      throw new InputError('INPUT_FORMAT', `base-pair position "${t[3]}" is not a number`, { file: path, line: i + 1 }, 'column 4 of a .bim line is the base-pair position, a whole number');
    }
    const cm = Number(t[2]);
    out[i] = { chr: t[0], rs: t[1], cm: Number.isFinite(cm) ? cm : 0, pos, a1: t[4], a0: t[5] };
  }
  if (out.length === 0) throw new InputError('NO_DATA', '.bim file has no SNPs', { file: path });
  return out;
}

/** A1 dosage for each 2-bit code: 00 → 2, 01 → missing, 10 → 1, 11 → 0. */
const CODE_DOSAGE = new Float64Array([2, NaN, 1, 0]);
/** Dosages of the 4 samples packed in each possible byte. */
const BYTE_DOSAGE = (() => {
  const t = new Float64Array(256 * 4);
  for (let b = 0; b < 256; b++) for (let j = 0; j < 4; j++) t[b * 4 + j] = CODE_DOSAGE[(b >> (2 * j)) & 3];
  return t;
})();

/** Decodes `count` SNP rows of packed bytes into dosages, keeping `keep` samples (or all `n`). */
export function decodeBed(
  bytes: Uint8Array,
  bytesPerSnp: number,
  count: number,
  n: number,
  keep: Int32Array | null,
  out: Float64Array,
): void {
  if (keep === null) {
    const full = bytesPerSnp * 4;
    for (let s = 0; s < count; s++) {
      const src = s * bytesPerSnp;
      const dst = s * n;
      const whole = n >> 2;
      for (let b = 0; b < whole; b++) {
        const t = bytes[src + b] * 4;
        const d = dst + b * 4;
        out[d] = BYTE_DOSAGE[t];
        out[d + 1] = BYTE_DOSAGE[t + 1];
        out[d + 2] = BYTE_DOSAGE[t + 2];
        out[d + 3] = BYTE_DOSAGE[t + 3];
      }
      for (let i = whole * 4; i < n && i < full; i++) {
        out[dst + i] = CODE_DOSAGE[(bytes[src + (i >> 2)] >> ((i & 3) << 1)) & 3];
      }
    }
  } else {
    const k = keep.length;
    for (let s = 0; s < count; s++) {
      const src = s * bytesPerSnp;
      const dst = s * k;
      for (let j = 0; j < k; j++) {
        const i = keep[j];
        out[dst + j] = CODE_DOSAGE[(bytes[src + (i >> 2)] >> ((i & 3) << 1)) & 3];
      }
    }
  }
}

export class BedFile implements GenotypeSource {
  readonly format = 'bed' as const;
  readonly bytesPerSnp: number;

  private constructor(
    readonly label: string,
    readonly bedPath: string,
    private readonly fh: fsp.FileHandle,
    readonly fam: FamRecord[],
    readonly snps: SnpMeta[],
  ) {
    this.bytesPerSnp = Math.ceil(fam.length / 4);
  }

  get nSamples(): number {
    return this.fam.length;
  }

  get sampleIds(): SampleId[] {
    return this.fam;
  }

  /**
   * Opens `<prefix>.bed/.bim/.fam` and validates the header and the file size against the bim/fam counts.
   */
  static async open(prefix: string): Promise<BedFile> {
    const fam = await readFam(`${prefix}.fam`);
    const snps = await readBim(`${prefix}.bim`);
    const bedPath = `${prefix}.bed`;
    const fh = await openOrThrow(bedPath);
    try {
      const { size } = await fh.stat();
      const head = Buffer.alloc(3);
      const { bytesRead } = await fh.read(head, 0, 3, 0);
      if (bytesRead < 3 || head[0] !== 0x6c || head[1] !== 0x1b) {
        throw new InputError(
          'INPUT_FORMAT',
          `not a PLINK 1 .bed file (magic bytes ${[...head.subarray(0, bytesRead)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'missing'}, expected 6c 1b)`,
          { file: bedPath },
          'regenerate the fileset with plink --make-bed (or plink2 --make-bed)',
        );
      }
      if (head[2] !== 0x01) {
        throw new InputError(
          'INPUT_FORMAT',
          head[2] === 0x00
            ? 'sample-major .bed (mode byte 00) is not supported'
            : `unknown .bed mode byte ${head[2].toString(16)}`,
          { file: bedPath },
          'convert to SNP-major with `plink --bfile PREFIX --make-bed --out NEWPREFIX`',
        );
      }
      const bytesPerSnp = Math.ceil(fam.length / 4);
      const expected = 3 + bytesPerSnp * snps.length;
      if (size !== expected) {
        throw new InputError(
          'INPUT_MISMATCH',
          `size is ${size} bytes but ${snps.length} SNPs (.bim) × ${fam.length} samples (.fam) need ${expected}` +
            (size < expected ? ' (truncated?)' : ''),
          { file: bedPath },
          'the .bed, .bim and .fam must come from the same fileset; re-copy or regenerate them',
        );
      }
      return new BedFile(prefix, bedPath, fh, fam, snps);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Reads the packed bytes of SNPs [start, start+count). */
  async readRaw(start: number, count: number, buf?: Uint8Array): Promise<Uint8Array> {
    const len = count * this.bytesPerSnp;
    const out = buf && buf.length >= len ? buf.subarray(0, len) : new Uint8Array(len);
    let off = 0;
    while (off < len) {
      const { bytesRead } = await this.fh.read(out, off, len - off, 3 + start * this.bytesPerSnp + off);
      if (bytesRead === 0) {
        throw new InputError('INPUT_FORMAT', 'unexpected end of file', { file: this.bedPath });
      }
      off += bytesRead;
    }
    return out;
  }

  async *blocks(opts: BlockOptions): AsyncGenerator<GenoBlock> {
    const start = opts.start ?? 0;
    const end = Math.min(opts.end ?? this.snps.length, this.snps.length);
    const keep = opts.keep ?? null;
    const n = keep ? keep.length : this.nSamples;
    const bs = Math.max(1, opts.blockSize);
    const mask = opts.snpMask ?? null;
    const data = new Float64Array(bs * n);
    const raw = new Uint8Array(bs * this.bytesPerSnp);
    const rowBytes = new Uint8Array(bs * this.bytesPerSnp);
    const indices = new Int32Array(bs);
    let i = start;
    while (i < end) {
      let count = 0;
      if (mask === null) {
        const chunkEnd = Math.min(end, i + bs);
        const bytes = await this.readRaw(i, chunkEnd - i, raw);
        for (let s = i; s < chunkEnd; s++) indices[count++] = s;
        decodeBed(bytes, this.bytesPerSnp, count, this.nSamples, keep, data);
        i = chunkEnd;
      } else {
        // Gather up to `bs` selected SNPs, reading contiguous byte ranges and copying the selected rows.
        while (i < end && count < bs) {
          const chunkEnd = Math.min(end, i + bs);
          const bytes = await this.readRaw(i, chunkEnd - i, raw);
          let s = i;
          for (; s < chunkEnd && count < bs; s++) {
            if (mask[s]) {
              const off = (s - i) * this.bytesPerSnp;
              rowBytes.set(bytes.subarray(off, off + this.bytesPerSnp), count * this.bytesPerSnp);
              indices[count++] = s;
            }
          }
          i = s;
        }
        decodeBed(rowBytes, this.bytesPerSnp, count, this.nSamples, keep, data);
      }
      if (count > 0) {
        yield { indices: indices.subarray(0, count), count, n, data: data.subarray(0, count * n) };
      }
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
