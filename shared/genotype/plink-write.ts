/**
 * Writes any {@link GenotypeSource} as a PLINK 1 binary fileset (`PREFIX.bed/.bim/.fam`), the format every
 * other tool reads.
 *
 * - .bed: SNP-major (magic `6c 1b 01`), 2 bits per sample from the least significant bits, storing the count
 *   of A1 = bim column 5 = the source's allele1: 2 → 00, 1 → 10, 0 → 11, missing → 01 (PLINK 1.9 "bed" spec).
 * - Dosages that are not whole numbers (BIMBAM, VCF DS) become hard calls like plink2's
 *   `--hard-call-threshold`: a dosage within `threshold` of 0, 1 or 2 is that call (0.5 exactly rounds up, so
 *   threshold 0.5 is `floor(d + 0.5)`), anything farther is missing; both are counted. A dosage outside [0, 2] is
 *   an InputError naming the SNP and sample.
 * - .bim: `chr rs cM bp A1 A2`, tab-separated; an unknown cM (-9) is written as 0, an unknown bp stays -9.
 * - .fam: the source's FID/IID (a PLINK source keeps its parents, sex and phenotypes); `0 0 0 -9` otherwise.
 *   Sources without IDs (BIMBAM) take `opts.sampleIds`, or FID = IID = 1..n in column order.
 * All three files are written to temporary names and renamed into place only when all are complete.
 * Cost: one pass over the source in blocks, O(n × block) memory.
 */
import { InputError } from '../errors.js';
import { AtomicWriter } from '../io/atomic.js';
import { readText, splitLines, wsTokens } from '../io/lines.js';
import type { FamRecord } from './plink.js';
import type { GenotypeSource, SampleId, SnpMeta } from './types.js';

export interface PlinkWriteOptions {
  /** Largest distance from 0/1/2 turned into a hard call (plink2's default 0.1); farther is missing. */
  hardCallThreshold?: number;
  /** IDs for sources that have none (BIMBAM), in column order. */
  sampleIds?: SampleId[];
  blockSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface PlinkWriteResult {
  samples: number;
  snps: number;
  /** Non-integer dosages turned into hard calls. */
  hardCalled: number;
  /** Non-integer dosages farther than the threshold from any call, written as missing. */
  setMissing: number;
  missing: number;
}

export const DEFAULT_HARD_CALL_THRESHOLD = 0.1;

/** One .bim line. */
export function bimLine(s: SnpMeta): string {
  return `${s.chr}\t${s.rs}\t${s.cm === -9 ? 0 : s.cm}\t${s.pos}\t${s.a1}\t${s.a0}\n`;
}

function famLine(id: SampleId): string {
  const f = id as Partial<FamRecord> & SampleId;
  if (f.father !== undefined && f.mother !== undefined && f.sex !== undefined && f.phenos !== undefined) {
    return `${f.fid} ${f.iid} ${f.father} ${f.mother} ${f.sex} ${f.phenos.length ? f.phenos.join(' ') : '-9'}\n`;
  }
  return `${id.fid} ${id.iid} 0 0 0 -9\n`;
}

export async function writePlink(prefix: string, geno: GenotypeSource, opts: PlinkWriteOptions = {}): Promise<PlinkWriteResult> {
  const n = geno.nSamples;
  const threshold = opts.hardCallThreshold ?? DEFAULT_HARD_CALL_THRESHOLD;
  const ids = geno.sampleIds ?? opts.sampleIds ?? Array.from({ length: n }, (_, i) => ({ fid: String(i + 1), iid: String(i + 1) }));
  if (ids.length !== n) throw new Error(`writePlink: ${ids.length} sample IDs for ${n} samples`);
  const bps = Math.ceil(n / 4);
  const total = geno.snps.length;
  const result: PlinkWriteResult = { samples: n, snps: total, hardCalled: 0, setMissing: 0, missing: 0 };
  const bed = new AtomicWriter(`${prefix}.bed`);
  const bim = new AtomicWriter(`${prefix}.bim`);
  const fam = new AtomicWriter(`${prefix}.fam`);
  // Committed in this order, so the .bed (what readers open first by size) appears last.
  const writers = [bim, fam, bed];
  try {
    await fam.write(ids.map(famLine).join(''));
    await bed.write(Uint8Array.from([0x6c, 0x1b, 0x01]));
    let done = 0;
    for await (const block of geno.blocks({ blockSize: opts.blockSize ?? 1024 })) {
      const out = new Uint8Array(block.count * bps);
      const lines: string[] = [];
      for (let r = 0; r < block.count; r++) {
        const snp = block.indices[r];
        const off = r * n;
        const o = r * bps;
        for (let i = 0; i < n; i++) {
          const v = block.data[off + i];
          let code: number;
          if (v !== v) {
            code = 1;
            result.missing++;
          } else if (v === 0) code = 3;
          else if (v === 1) code = 2;
          else if (v === 2) code = 0;
          else {
            if (!(v >= 0 && v <= 2)) {
              throw new InputError(
                'INPUT_FORMAT',
                `dosage ${v} is outside [0, 2]`,
                { file: geno.label, snp: geno.snps[snp].rs, sample: ids[i].iid },
                'a PLINK .bed holds 0, 1 or 2 copies of A1',
              );
            }
            const c = Math.floor(v + 0.5);
            if (Math.abs(v - c) <= threshold) {
              code = c === 2 ? 0 : c === 1 ? 2 : 3;
              result.hardCalled++;
            } else {
              code = 1;
              result.setMissing++;
              result.missing++;
            }
          }
          out[o + (i >> 2)] |= code << ((i & 3) << 1);
        }
        lines.push(bimLine(geno.snps[snp]));
      }
      await bed.write(out);
      await bim.write(lines.join(''));
      done += block.count;
      opts.onProgress?.(done, total);
    }
    for (const w of writers) await w.commit();
  } catch (e) {
    await Promise.all(writers.map((w) => w.abort()));
    throw e;
  }
  return result;
}

/**
 * Sample IDs for a source without any (BIMBAM): one line per genotype column, `IID` or `FID IID …` (extra
 * columns ignored, so a .fam works); blank lines are refused; the count must match.
 */
export async function readSampleIdList(path: string, n: number): Promise<SampleId[]> {
  const lines = splitLines(await readText(path));
  const ids: SampleId[] = [];
  const seen = new Map<string, number>();
  lines.forEach((line, i) => {
    const t = wsTokens(line);
    if (t.length === 0) throw new InputError('INPUT_FORMAT', 'empty line in the sample ID list', { file: path, line: i + 1 }, 'one line per genotype column: IID, or FID IID');
    const id = t.length === 1 ? { fid: t[0], iid: t[0] } : { fid: t[0], iid: t[1] };
    const key = `${id.fid}\u0000${id.iid}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      throw new InputError('INPUT_FORMAT', `duplicate sample ID "${id.fid} ${id.iid}" (first on line ${prev})`, { file: path, line: i + 1, sample: id.iid });
    }
    seen.set(key, i + 1);
    ids.push(id);
  });
  if (ids.length !== n) {
    throw new InputError('INPUT_MISMATCH', `has ${ids.length} sample IDs but the genotypes have ${n} columns`, { file: path }, 'one line per genotype column, in column order');
  }
  return ids;
}
