/**
 * Genotype rows of one SNP range in memory, in the compact form a coordinator sends them to a worker that has no
 * shared filesystem (`gwasgrid worker --genotypes-from-coordinator`):
 * - PLINK input: the .bed bytes of each row exactly as in the file (⌈n/4⌉ bytes per SNP, 2 bits per genotype);
 * - other formats (BIMBAM, numeric): n float64 dosages per row (NaN = missing).
 * Only the rows of the SNPs that passed the coordinator's QC are held (nobody reads the others).
 *
 * {@link rowChunks} produces them on the coordinator from an open {@link GenotypeSource}; {@link RowSource} is a
 * GenotypeSource over the received rows, so the worker's kinship and scan code is the single-process code.
 */
import type { BlockOptions, GenoBlock, GenotypeSource, SnpMeta } from './types.js';
import { BedFile, decodeBed } from './plink.js';

export type RowEncoding = 'bed' | 'f64';

/** How rows of `geno` are encoded, and their size in bytes. */
export function rowLayout(geno: GenotypeSource): { encoding: RowEncoding; rowBytes: number } {
  return geno instanceof BedFile ? { encoding: 'bed', rowBytes: geno.bytesPerSnp } : { encoding: 'f64', rowBytes: 8 * geno.nSamples };
}

/**
 * The rows of SNPs [start, end) with `mask[j]` set, in SNP order, as byte chunks of at most `maxBytes` (at
 * least one row each; rows are never split). Each chunk is a fresh buffer.
 */
export async function* rowChunks(
  geno: GenotypeSource,
  mask: Uint8Array,
  start: number,
  end: number,
  maxBytes: number,
): AsyncGenerator<Buffer> {
  const { rowBytes } = rowLayout(geno);
  const perChunk = Math.max(1, Math.floor(maxBytes / rowBytes));
  if (geno instanceof BedFile) {
    const raw = new Uint8Array(perChunk * rowBytes);
    let out = Buffer.allocUnsafe(perChunk * rowBytes);
    let rows = 0;
    for (let i = start; i < end; ) {
      const count = Math.min(perChunk, end - i);
      const bytes = await geno.readRaw(i, count, raw);
      for (let s = 0; s < count; s++) {
        if (!mask[i + s]) continue;
        out.set(bytes.subarray(s * rowBytes, (s + 1) * rowBytes), rows * rowBytes);
        if (++rows === perChunk) {
          yield out;
          out = Buffer.allocUnsafe(perChunk * rowBytes);
          rows = 0;
        }
      }
      i += count;
    }
    if (rows > 0) yield out.subarray(0, rows * rowBytes);
    return;
  }
  for await (const block of geno.blocks({ start, end, snpMask: mask, blockSize: perChunk })) {
    const d = block.data;
    yield Buffer.from(new Uint8Array(d.buffer, d.byteOffset, block.count * block.n * 8)); // a copy: the block buffer is reused
  }
}

/**
 * A {@link GenotypeSource} over received rows: SNP metadata of [start, end) (other SNPs of the file are holes
 * in `snps`, which keeps SNP indices global), the rows of the SNPs `rowIndex` (ascending), 8-byte aligned data.
 * `blocks()` serves ranges within [start, end) and refuses to deliver a SNP whose row it does not hold.
 */
export class RowSource implements GenotypeSource {
  readonly sampleIds = null;
  readonly snps: SnpMeta[];
  private readonly f64: Float64Array | null;
  private readonly rangeLength: number;

  constructor(
    readonly label: string,
    readonly format: GenotypeSource['format'],
    readonly nSamples: number,
    totalSnps: number,
    readonly start: number,
    rangeSnps: SnpMeta[],
    private readonly rowIndex: Int32Array,
    private readonly encoding: RowEncoding,
    private readonly data: Uint8Array,
  ) {
    this.rangeLength = rangeSnps.length;
    this.snps = new Array<SnpMeta>(totalSnps);
    for (let j = 0; j < rangeSnps.length; j++) this.snps[start + j] = rangeSnps[j];
    const rowBytes = this.rowBytes;
    if (data.length !== rowIndex.length * rowBytes) throw new RangeError(`${rowIndex.length} rows need ${rowIndex.length * rowBytes} bytes, got ${data.length}`);
    if (encoding === 'f64') {
      if (data.byteOffset % 8 !== 0) throw new RangeError('float64 rows must be 8-byte aligned');
      this.f64 = new Float64Array(data.buffer, data.byteOffset, data.length / 8);
    } else this.f64 = null;
  }

  /** One past the last SNP index of the range. */
  get end(): number {
    return this.start + this.rangeLength;
  }

  private get rowBytes(): number {
    return this.encoding === 'bed' ? Math.ceil(this.nSamples / 4) : 8 * this.nSamples;
  }

  async *blocks(opts: BlockOptions): AsyncGenerator<GenoBlock> {
    const end = this.end;
    const from = opts.start ?? this.start;
    const to = Math.min(opts.end ?? end, end);
    if (from < this.start || (opts.end ?? end) > end) {
      throw new RangeError(`rows of SNPs [${this.start}, ${end}) received, [${from}, ${opts.end ?? end}) asked`);
    }
    const keep = opts.keep ?? null;
    const N = this.nSamples;
    const n = keep ? keep.length : N;
    const bs = Math.max(1, opts.blockSize);
    const mask = opts.snpMask ?? null;
    const rowBytes = this.rowBytes;
    const data = new Float64Array(bs * n);
    const gathered = this.encoding === 'bed' ? new Uint8Array(bs * rowBytes) : null;
    const indices = new Int32Array(bs);
    let r = 0; // next held row
    let count = 0;
    const emit = (): GenoBlock => {
      if (gathered) decodeBed(gathered, rowBytes, count, N, keep, data);
      return { indices: indices.subarray(0, count), count, n, data: data.subarray(0, count * n) };
    };
    for (let s = from; s < to; s++) {
      if (mask && !mask[s]) continue;
      while (r < this.rowIndex.length && this.rowIndex[r] < s) r++;
      if (r >= this.rowIndex.length || this.rowIndex[r] !== s) {
        throw new RangeError(`SNP ${s} did not pass the coordinator's QC: its row was not sent`);
      }
      if (gathered) gathered.set(this.data.subarray(r * rowBytes, (r + 1) * rowBytes), count * rowBytes);
      else {
        const src = r * N;
        const off = count * n;
        if (keep) for (let j = 0; j < n; j++) data[off + j] = this.f64![src + keep[j]];
        else data.set(this.f64!.subarray(src, src + N), off);
      }
      indices[count++] = s;
      r++;
      if (count === bs) {
        yield emit();
        count = 0;
      }
    }
    if (count > 0) yield emit();
  }

  async close(): Promise<void> {}
}
