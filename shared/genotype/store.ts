/**
 * An in-memory store of decoded dosage rows, for text formats that cannot be read by byte range (VCF, .vcf.gz,
 * HapMap): the file is parsed once at open, every later pass (QC, kinship, scan, a worker's shard) reads
 * SNP ranges from memory with the same `blocks()` contract as the .bed reader.
 *
 * Each SNP row is kept in the smallest exact encoding:
 * - **packed**: every value is 0, 1, 2 or missing (hard calls: VCF GT, HapMap, integer DS) → 2 bits per
 *   sample in PLINK .bed codes, ⌈n/4⌉ bytes;
 * - **scaled**: decimal dosages with at most 4 decimals and value ≤ 6.5534 (VCF DS such as `0.731`) → a
 *   uint16 k per sample with value k / 10^d. Because IEEE division is correctly rounded, k / 10^d is the very
 *   double that parsing the decimal text gives, so nothing is lost (checked for every value at encode time);
 * - **float64**: anything else, as read.
 * Memory is therefore n·m/4 bytes for hard calls and 2·n·m for typical dosages (mouse_hs1940, 1940 × 12,226:
 * 5.9 MB packed); decoding a block costs O(count × n) table look-ups or divisions.
 */
import { BlockCollector } from './blocks.js';
import { decodeBed } from './plink.js';
import type { BlockOptions, GenoBlock, GenotypeSource, SampleId, SnpMeta } from './types.js';

const KIND_PACKED = 0;
const KIND_SCALED = 1;
const KIND_F64 = 2;
const SCALED_MISSING = 65535;
const POW10 = [1, 10, 100, 1000, 10000];
const HARD_CODE = Uint8Array.from([3, 2, 0]);

function grow<T extends Uint8Array | Uint16Array | Float64Array | Int32Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  let cap = Math.max(a.length * 2, 1024);
  while (cap < need) cap *= 2;
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a);
  return b;
}

export class DosageStore {
  /** Number of SNP rows stored. */
  count = 0;
  readonly bytesPerSnp: number;
  private kind = new Uint8Array(0);
  private slot = new Int32Array(0);
  private divisor = new Float64Array(0);
  private packed = new Uint8Array(0);
  private packedRows = 0;
  private scaled = new Uint16Array(0);
  private scaledRows = 0;
  private f64 = new Float64Array(0);
  private f64Rows = 0;

  constructor(readonly n: number) {
    this.bytesPerSnp = Math.ceil(n / 4);
  }

  /**
   * Appends one row of n dosages (NaN = missing). `decimals` is the largest number of decimals among the
   * values' texts (0 for hard calls), or -1 when unknown; it only selects which encoding is tried first.
   * `hardCalls` promises every value is 0, 1, 2 or NaN (GT, HapMap), which skips the checks.
   * Returns the row's SNP index.
   */
  append(row: Float64Array, decimals: number, hardCalls = false): number {
    const n = this.n;
    const idx = this.count;
    this.kind = grow(this.kind, idx + 1);
    this.slot = grow(this.slot, idx + 1);
    this.divisor = grow(this.divisor, idx + 1);
    if (hardCalls ? this.packHardCalls(row) : this.tryPacked(row)) {
      this.kind[idx] = KIND_PACKED;
      this.slot[idx] = this.packedRows++;
    } else if (decimals >= 0 && decimals < POW10.length && this.tryScaled(row, POW10[decimals])) {
      this.kind[idx] = KIND_SCALED;
      this.slot[idx] = this.scaledRows++;
      this.divisor[idx] = POW10[decimals];
    } else {
      this.f64 = grow(this.f64, (this.f64Rows + 1) * n);
      this.f64.set(row.subarray(0, n), this.f64Rows * n);
      this.kind[idx] = KIND_F64;
      this.slot[idx] = this.f64Rows++;
    }
    this.count++;
    return idx;
  }

  /** Bytes held by the encoded rows. */
  get memoryBytes(): number {
    return this.packedRows * this.bytesPerSnp + this.scaledRows * this.n * 2 + this.f64Rows * this.n * 8;
  }

  private tryPacked(row: Float64Array): boolean {
    const n = this.n;
    const bps = this.bytesPerSnp;
    this.packed = grow(this.packed, (this.packedRows + 1) * bps);
    const out = this.packed;
    const off = this.packedRows * bps;
    // .bed codes for the count of the counted allele: 2 → 00, missing → 01, 1 → 10, 0 → 11. One pass; a value
    // that is not a hard call abandons the row (the slot is simply overwritten by the next packed row).
    let byte = 0;
    for (let i = 0; i < n; i++) {
      const v = row[i];
      let code: number;
      if (v === 0) code = 3;
      else if (v === 1) code = 2;
      else if (v === 2) code = 0;
      else if (v !== v) code = 1;
      else return false;
      byte |= code << ((i & 3) << 1);
      if ((i & 3) === 3) {
        out[off + (i >> 2)] = byte;
        byte = 0;
      }
    }
    if (n & 3) out[off + (n >> 2)] = byte;
    return true;
  }

  /** {@link tryPacked} for rows known to hold only 0, 1, 2 and NaN: a table look-up, no data-dependent branch. */
  private packHardCalls(row: Float64Array): boolean {
    const n = this.n;
    const bps = this.bytesPerSnp;
    this.packed = grow(this.packed, (this.packedRows + 1) * bps);
    const out = this.packed;
    const off = this.packedRows * bps;
    let byte = 0;
    for (let i = 0; i < n; i++) {
      const v = row[i];
      // 0 → 11, 1 → 10, 2 → 00 (HARD_CODE), NaN → 01.
      const code = v === v ? HARD_CODE[v] : 1;
      byte |= code << ((i & 3) << 1);
      if ((i & 3) === 3) {
        out[off + (i >> 2)] = byte;
        byte = 0;
      }
    }
    if (n & 3) out[off + (n >> 2)] = byte;
    return true;
  }

  private tryScaled(row: Float64Array, div: number): boolean {
    const n = this.n;
    this.scaled = grow(this.scaled, (this.scaledRows + 1) * n);
    const out = this.scaled;
    const off = this.scaledRows * n;
    for (let i = 0; i < n; i++) {
      const v = row[i];
      if (v !== v) {
        out[off + i] = SCALED_MISSING;
        continue;
      }
      const k = Math.round(v * div);
      if (!(k >= 0 && k < SCALED_MISSING) || k / div !== v) return false;
      out[off + i] = k;
    }
    return true;
  }

  /** Decodes stored row `snp` into `out[0..)`, keeping `keep` samples (or all). */
  decodeRow(snp: number, keep: Int32Array | null, out: Float64Array): void {
    const n = this.n;
    const s = this.slot[snp];
    switch (this.kind[snp]) {
      case KIND_PACKED: {
        const bps = this.bytesPerSnp;
        decodeBed(this.packed.subarray(s * bps, (s + 1) * bps), bps, 1, n, keep, out);
        return;
      }
      case KIND_SCALED: {
        const div = this.divisor[snp];
        const src = this.scaled;
        const off = s * n;
        const k = keep ? keep.length : n;
        for (let j = 0; j < k; j++) {
          const q = src[off + (keep ? keep[j] : j)];
          out[j] = q === SCALED_MISSING ? NaN : q / div;
        }
        return;
      }
      default: {
        const src = this.f64;
        const off = s * n;
        if (!keep) out.set(src.subarray(off, off + n));
        else for (let j = 0; j < keep.length; j++) out[j] = src[off + keep[j]];
      }
    }
  }

  /** The {@link GenotypeSource.blocks} contract over the stored rows. */
  *blocks(opts: BlockOptions): Generator<GenoBlock> {
    const b = new BlockCollector(opts, this.count, this.n);
    for (let s = b.start; s < b.end; s++) {
      if (!b.wants(s)) continue;
      this.decodeRow(s, b.keep, b.row());
      const full = b.add(s);
      if (full) yield full;
    }
    const last = b.flush();
    if (last) yield last;
  }

  /** Frees the rows' memory. */
  clear(): void {
    this.packed = new Uint8Array(0);
    this.scaled = new Uint16Array(0);
    this.f64 = new Float64Array(0);
  }
}

/** A stored genotype source: metadata plus a {@link DosageStore}. */
export abstract class StoredGenotypes implements GenotypeSource {
  abstract readonly format: GenotypeSource['format'];
  /** What the reader decided that the user should know (skipped records, haploid calls, memory). */
  readonly notes: string[] = [];

  protected constructor(
    readonly label: string,
    readonly sampleIds: SampleId[],
    readonly snps: SnpMeta[],
    protected readonly store: DosageStore,
  ) {}

  get nSamples(): number {
    return this.sampleIds.length;
  }

  async *blocks(opts: BlockOptions): AsyncGenerator<GenoBlock> {
    yield* this.store.blocks(opts);
  }

  async close(): Promise<void> {}
}
