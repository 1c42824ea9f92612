/**
 * Genotype rows sent to a worker without files (shared/genotype/rows.ts, shared/protocol/genotypes-codec.ts):
 * for a dosage source (float64 rows) and a PLINK .bed (raw bytes), the rows produced on the coordinator and
 * decoded on the worker give exactly the dosages the file gives, for all samples (kinship) and for the analysed
 * ones (scan), whatever the chunk size; the header round-trips through protobuf; inconsistent headers are refused.
 */
import type { BlockOptions, GenoBlock, GenotypeSource, SnpMeta } from '../../shared/genotype/types.js';
import { BedFile } from '../../shared/genotype/plink.js';
import { rowChunks } from '../../shared/genotype/rows.js';
import { decodeGenotypes, encodeGenotypesHeader, type RangeQc } from '../../shared/protocol/genotypes-codec.js';
import { pb } from '../../shared/protocol/rpc.js';
import { bfilePath } from '../helpers/data.js';
import { rng } from '../helpers/random.js';

/** An in-memory dosage source (m SNPs × n samples, some NaN), as BIMBAM or a numeric matrix would give. */
class MemorySource implements GenotypeSource {
  readonly format = 'bimbam' as const;
  readonly label = 'memory';
  readonly sampleIds = null;
  readonly snps: SnpMeta[];
  constructor(
    readonly nSamples: number,
    readonly X: Float64Array,
    m: number,
  ) {
    this.snps = Array.from({ length: m }, (_, j) => ({ chr: String(1 + (j % 3)), rs: `rs${j}`, pos: 100 * j, cm: -9, a1: 'A', a0: 'G' }));
  }
  async *blocks(o: BlockOptions): AsyncGenerator<GenoBlock> {
    const n = o.keep ? o.keep.length : this.nSamples;
    for (let s = o.start ?? 0; s < (o.end ?? this.snps.length); s++) {
      if (o.snpMask && !o.snpMask[s]) continue;
      const data = new Float64Array(n);
      for (let i = 0; i < n; i++) data[i] = this.X[s * this.nSamples + (o.keep ? o.keep[i] : i)];
      yield { indices: Int32Array.of(s), count: 1, n, data };
    }
  }
  async close(): Promise<void> {}
}

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function collect(src: GenotypeSource, o: BlockOptions): Promise<{ indices: number[]; data: Buffer }> {
  const indices: number[] = [];
  const parts: Buffer[] = [];
  for await (const b of src.blocks(o)) {
    indices.push(...b.indices);
    parts.push(Buffer.from(bits(b.data)));
  }
  return { indices, data: Buffer.concat(parts) };
}

async function roundTrip(geno: GenotypeSource, qc: RangeQc, analysed: Int32Array, start: number, end: number, maxBytes: number) {
  const header = pb.GenotypesHeader.decode(pb.GenotypesHeader.encode(encodeGenotypesHeader(geno, qc, analysed, { index: 3, start, end })).finish());
  const chunks: Buffer[] = [];
  for await (const c of rowChunks(geno, qc.mask, start, end, maxBytes)) chunks.push(c);
  const joined = Buffer.concat(chunks);
  const rows = new Uint8Array(joined.length); // 8-byte aligned, as the worker allocates it
  rows.set(joined);
  return { header, rows, chunks, received: decodeGenotypes(header, rows, geno.snps.length, 'test') };
}

function randomQc(m: number, seed: number): RangeQc {
  const r = rng(seed);
  const qc: RangeQc = { mask: new Uint8Array(m), af: new Float64Array(m), nMiss: new Int32Array(m) };
  for (let j = 0; j < m; j++) {
    qc.mask[j] = r() < 0.7 ? 1 : 0;
    qc.af[j] = r();
    qc.nMiss[j] = Math.floor(10 * r());
  }
  return qc;
}

describe('genotype rows from the coordinator', () => {
  it('float64 dosages: same values as the source, all and analysed samples, any chunking', async () => {
    const n = 13;
    const m = 40;
    const r = rng(5);
    const X = Float64Array.from({ length: m * n }, () => (r() < 0.05 ? NaN : 2 * r()));
    const geno = new MemorySource(n, X, m);
    const qc = randomQc(m, 9);
    const analysed = Int32Array.from([0, 2, 3, 7, 12]);
    for (const maxBytes of [1, 8 * n * 3, 1 << 20]) {
      const { header, chunks, received } = await roundTrip(geno, qc, analysed, 10, 35, maxBytes);
      expect(header.encoding).toBe(pb.GenotypesHeader_Encoding.FLOAT64);
      expect(header.rowBytes).toBe(8 * n);
      if (maxBytes === 1) expect(chunks.length).toBe(header.rows); // at least one whole row per chunk
      expect(Array.from(received.analysed)).toEqual(Array.from(analysed));
      for (const j of [10, 20, 34]) {
        expect(received.qc.mask[j]).toBe(qc.mask[j]);
        expect(received.qc.af[j]).toBe(qc.af[j]);
        expect(received.qc.nMiss[j]).toBe(qc.nMiss[j]);
        expect(received.source.snps[j]).toEqual(geno.snps[j]);
      }
      expect(received.qc.mask[9]).toBe(0);
      expect(received.source.snps[9]).toBeUndefined();
      for (const keep of [null, analysed]) {
        const o = { start: 10, end: 35, snpMask: qc.mask, keep, blockSize: 4 };
        const want = await collect(geno, o);
        const got = await collect(received.source, o);
        expect(got.indices).toEqual(want.indices);
        expect(got.data.equals(want.data)).toBe(true);
      }
    }
  });

  it('PLINK rows: the .bed bytes, decoded like the file', async () => {
    const geno = await BedFile.open(bfilePath('maize_mdp', 'maize_mdp'));
    try {
      const m = geno.snps.length;
      const qc = randomQc(m, 3);
      const analysed = Int32Array.from({ length: 50 }, (_, i) => 5 * i);
      const { header, rows, received } = await roundTrip(geno, qc, analysed, 1000, 1999, 4096);
      expect(header.encoding).toBe(pb.GenotypesHeader_Encoding.PLINK_BED);
      expect(rows.length).toBe(header.rows * geno.bytesPerSnp);
      for (const keep of [null, analysed]) {
        const o = { start: 1000, end: 1999, snpMask: qc.mask, keep, blockSize: 128 };
        const want = await collect(geno, o);
        const got = await collect(received.source, o);
        expect(got.indices).toEqual(want.indices);
        expect(got.data.equals(want.data)).toBe(true);
      }
    } finally {
      await geno.close();
    }
  });

  it('refuses headers that do not fit their rows or the job', async () => {
    const n = 4;
    const geno = new MemorySource(n, new Float64Array(10 * n), 10);
    const qc: RangeQc = { mask: new Uint8Array(10).fill(1), af: new Float64Array(10), nMiss: new Int32Array(10) };
    const { header, rows } = await roundTrip(geno, qc, Int32Array.from([0, 1]), 0, 10, 1 << 20);
    expect(() => decodeGenotypes(header, rows.subarray(8), 10, 't')).toThrow(/row bytes/);
    expect(() => decodeGenotypes(header, rows, 5, 't')).toThrow(/outside the job's 5 SNPs/);
    expect(() => decodeGenotypes({ ...header, qcMask: header.qcMask.subarray(1) }, rows, 10, 't')).toThrow(/mask for 9/);
    expect(() => decodeGenotypes({ ...header, analysed: Buffer.from(new Int32Array([1, 0]).buffer) }, rows, 10, 't')).toThrow(/out of order/);
    expect(() => decodeGenotypes({ ...header, encoding: pb.GenotypesHeader_Encoding.ENCODING_UNSPECIFIED }, rows, 10, 't')).toThrow(/encoding/);
    const qc2 = { ...qc, mask: Uint8Array.from([1, 1, 1, 0, 1, 1, 1, 1, 1, 1]) };
    expect(() => decodeGenotypes({ ...header, qcMask: Buffer.from(qc2.mask) }, rows, 10, 't')).toThrow(/QC-passing SNPs/);
  });
});
