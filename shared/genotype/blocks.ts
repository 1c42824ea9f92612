/**
 * The part every reader's `blocks()` shares: the options normalised (range clipped to the file, kept samples,
 * SNP mask, block size) and one reusable buffer that collects rows until a block is full.
 *
 * A reader writes SNP s's dosages into `data` at `offset` (n = kept samples per row), then calls `add(s)`; a
 * full block comes back to be yielded. The block's arrays are views of the buffer and are overwritten by the
 * next rows: the consumer must finish with a block before asking for the next (the {@link GenoBlock} contract).
 */
import type { BlockOptions, GenoBlock } from './types.js';

export class BlockCollector {
  /** First SNP index (inclusive) and last (exclusive), clipped to the file. */
  readonly start: number;
  readonly end: number;
  /** Kept samples (file indices, ascending), or null for all. */
  readonly keep: Int32Array | null;
  /** Values per row (kept samples). */
  readonly n: number;
  /** Rows per block. */
  readonly size: number;
  readonly mask: Uint8Array | null;
  /** Row-major buffer of `size × n` dosages. */
  readonly data: Float64Array;
  private readonly indices: Int32Array;
  private count = 0;

  constructor(opts: BlockOptions, nSnps: number, nSamples: number) {
    this.start = opts.start ?? 0;
    this.end = Math.min(opts.end ?? nSnps, nSnps);
    this.keep = opts.keep ?? null;
    this.n = this.keep ? this.keep.length : nSamples;
    this.size = Math.max(1, opts.blockSize);
    this.mask = opts.snpMask ?? null;
    this.data = new Float64Array(this.size * this.n);
    this.indices = new Int32Array(this.size);
  }

  /** Whether SNP s is delivered (the mask). */
  wants(s: number): boolean {
    return this.mask === null || this.mask[s] !== 0;
  }

  /** Where the next row goes in `data`. */
  get offset(): number {
    return this.count * this.n;
  }

  /** The next row's slot (a view of `data`). */
  row(): Float64Array {
    return this.data.subarray(this.offset, this.offset + this.n);
  }

  /** Records that the row at `offset` holds SNP s; returns the block when it is full. */
  add(s: number): GenoBlock | null {
    this.indices[this.count++] = s;
    return this.count === this.size ? this.flush() : null;
  }

  /** The rows collected so far as a block (null when none), and a fresh start. */
  flush(): GenoBlock | null {
    const count = this.count;
    if (count === 0) return null;
    this.count = 0;
    return { indices: this.indices.subarray(0, count), count, n: this.n, data: this.data.subarray(0, count * this.n) };
  }
}
