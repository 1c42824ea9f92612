/**
 * FetchGenotypes (proto GenotypesHeader + row bytes) ⇄ what the worker's single-process code reads from files:
 * a {@link RowSource} for the range, the coordinator's QC of the range (mask, af, n_miss, in full-length arrays
 * indexed by SNP like {@link SnpQc}'s), and the analysed sample indices. Little-endian, as the null model.
 */
import { endianness } from 'node:os';
import type { GenotypeSource } from '../genotype/types.js';
import { RowSource, rowLayout } from '../genotype/rows.js';
import { DistributedError } from '../errors.js';
import { pb } from './rpc.js';

/** The per-SNP QC figures the scan and the kinship read (a subset of SnpQc). */
export interface RangeQc {
  mask: Uint8Array;
  af: Float64Array;
  nMiss: Int32Array;
}

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The header for SNPs [start, end) of the coordinator's genotype file. */
export function encodeGenotypesHeader(
  geno: GenotypeSource,
  qc: RangeQc,
  analysed: Int32Array,
  shard: { index: number; start: number; end: number },
): pb.GenotypesHeader {
  if (endianness() !== 'LE') throw new DistributedError('PROTOCOL', 'genotype streaming needs a little-endian host');
  const { start, end } = shard;
  const { encoding, rowBytes } = rowLayout(geno);
  let rows = 0;
  for (let j = start; j < end; j++) rows += qc.mask[j] ? 1 : 0;
  return pb.GenotypesHeader.create({
    index: shard.index,
    start,
    end,
    encoding: encoding === 'bed' ? pb.GenotypesHeader_Encoding.PLINK_BED : pb.GenotypesHeader_Encoding.FLOAT64,
    samples: geno.nSamples,
    rows,
    rowBytes,
    format: geno.format,
    snps: geno.snps.slice(start, end).map((s) => ({ chr: s.chr, rs: s.rs, pos: s.pos, cm: s.cm, a1: s.a1, a0: s.a0 })),
    qcMask: Buffer.from(qc.mask.subarray(start, end)),
    af: Buffer.from(bytesOf(qc.af.subarray(start, end))),
    nMiss: Buffer.from(bytesOf(qc.nMiss.subarray(start, end))),
    analysed: Buffer.from(bytesOf(analysed)),
  });
}

export interface ReceivedRange {
  source: RowSource;
  qc: RangeQc;
  analysed: Int32Array;
}

/** A typed array over a copy of `b` (received bytes are not aligned). */
function copyAs<T extends Float64Array | Int32Array>(b: Uint8Array, Ctor: new (buf: ArrayBuffer) => T, size: number, what: string, count: number): T {
  if (b.length !== count * size) throw new DistributedError('PROTOCOL', `genotype header: ${what} has ${b.length} bytes, expected ${count * size}`);
  const buf = new ArrayBuffer(b.length);
  new Uint8Array(buf).set(b);
  return new Ctor(buf);
}

/**
 * Rebuilds the range from its header and its row bytes (8-byte aligned; checked against the header). The QC
 * arrays cover every SNP of the file (`totalSnps`), filled for [start, end) only.
 */
export function decodeGenotypes(h: pb.GenotypesHeader, rows: Uint8Array, totalSnps: number, label: string): ReceivedRange {
  if (endianness() !== 'LE') throw new DistributedError('PROTOCOL', 'genotype streaming needs a little-endian host');
  const bad = (why: string) => new DistributedError('PROTOCOL', `genotypes from the coordinator: ${why}`);
  const { start, end } = h;
  const len = end - start;
  if (!(end > start && end <= totalSnps)) throw bad(`range [${start}, ${end}) outside the job's ${totalSnps} SNPs`);
  if (h.snps.length !== len || h.qcMask.length !== len) throw bad(`metadata for ${h.snps.length} SNPs, mask for ${h.qcMask.length}, range has ${len}`);
  const encoding = h.encoding === pb.GenotypesHeader_Encoding.PLINK_BED ? 'bed' : h.encoding === pb.GenotypesHeader_Encoding.FLOAT64 ? 'f64' : null;
  if (!encoding) throw bad(`unknown row encoding ${h.encoding}`);
  const rowBytes = encoding === 'bed' ? Math.ceil(h.samples / 4) : 8 * h.samples;
  if (h.rowBytes !== rowBytes || rows.length !== h.rows * rowBytes) throw bad(`${rows.length} row bytes for ${h.rows} rows of ${h.rowBytes} bytes`);
  const format = h.format === 'bed' || h.format === 'bimbam' || h.format === 'numeric' ? h.format : null;
  if (!format) throw bad(`unknown format "${h.format}"`);

  const qc: RangeQc = { mask: new Uint8Array(totalSnps), af: new Float64Array(totalSnps).fill(NaN), nMiss: new Int32Array(totalSnps) };
  qc.mask.set(h.qcMask, start);
  qc.af.set(copyAs(h.af, Float64Array, 8, 'af', len), start);
  qc.nMiss.set(copyAs(h.nMiss, Int32Array, 4, 'n_miss', len), start);
  const rowIndex = new Int32Array(h.rows);
  let r = 0;
  for (let j = start; j < end; j++) {
    if (!qc.mask[j]) continue;
    if (r === h.rows) throw bad(`more QC-passing SNPs than the ${h.rows} rows sent`);
    rowIndex[r++] = j;
  }
  if (r !== h.rows) throw bad(`${r} QC-passing SNPs, ${h.rows} rows sent`);
  const analysed = copyAs(h.analysed, Int32Array, 4, 'analysed samples', h.analysed.length / 4);
  for (let i = 0; i < analysed.length; i++) {
    if (!(analysed[i] >= 0 && analysed[i] < h.samples) || (i > 0 && analysed[i] <= analysed[i - 1])) throw bad('analysed sample indices out of order or range');
  }
  const snps = h.snps.map((s) => ({ chr: s.chr, rs: s.rs, pos: s.pos, cm: s.cm, a1: s.a1, a0: s.a0 }));
  const source = new RowSource(label, format, h.samples, totalSnps, start, snps, rowIndex, encoding, rows);
  return { source, qc, analysed };
}
