/**
 * Genomic relatedness, GEMMA style (Zhou & Stephens 2012; GEMMA manual §4.4 "-gk"):
 *   K = (1/m) Σ_j z_j z_jᵀ over the m SNPs that pass QC, with z_j the dosages of SNP j over **all** genotype
 *   samples, missing values replaced by the SNP mean, centred on that mean (`--gk 1`, "centred"), and for
 *   `--gk 2` ("standardised") also divided by the SNP's standard deviation (population variance, missing
 *   counted at the mean; SNPs with zero variance are left unscaled, as GEMMA does).
 * Computed block by block with the symmetric rank-k kernel: O(n²·m/2) flops, O(n² + n·block) memory.
 *
 * Chunking (what makes every way of running it give the same bits). The SNP indices of the genotype file are cut
 * into fixed chunks of {@link KINSHIP_CHUNK_SNPS} (independent of the number of workers). Each chunk's partial
 * sum Σ z_j z_jᵀ over its QC-passing SNPs is computed from scratch by a {@link KinshipAccumulator} (rank-k blocks
 * restart at the chunk's first SNP), and the partials are added into a {@link KinshipSum} in chunk order, then
 * scaled by 1/m. The single-process pass, `mlm --workers N` and coordinator + workers all do exactly this, so
 * floating-point rounding is the same whichever process computed a chunk.
 */
import type { LinalgBackend } from '../linalg/backend.js';

export type KinshipMode = 1 | 2;

/** SNP indices per kinship chunk (a constant: the chunking must not depend on the number of workers). */
export const KINSHIP_CHUNK_SNPS = 8192;

export class KinshipAccumulator {
  readonly K: Float64Array;
  /** Two blocks: one is filled while the backend (off the event loop for native) updates K from the other. */
  private readonly blocks: [Float64Array, Float64Array];
  private cur = 0;
  private pending: Promise<void> | null = null;
  private rows = 0;
  private used = 0;
  private started = false;

  constructor(
    readonly n: number,
    readonly mode: KinshipMode,
    private readonly backend: LinalgBackend,
    readonly blockSize = 512,
  ) {
    this.K = new Float64Array(n * n);
    this.blocks = [new Float64Array(blockSize * n), new Float64Array(blockSize * n)];
  }

  /** Number of SNPs added so far. */
  get snps(): number {
    return this.used;
  }

  /** Adds one SNP (dosages of all n samples starting at `offset`, NaN = missing). */
  async add(src: Float64Array, offset: number): Promise<void> {
    const n = this.n;
    let sum = 0;
    let sumSq = 0;
    let miss = 0;
    for (let i = 0; i < n; i++) {
      const v = src[offset + i];
      if (v !== v) miss++;
      else {
        sum += v;
        sumSq += v * v;
      }
    }
    const mean = sum / (n - miss);
    let scale = 1;
    if (this.mode === 2) {
      const variance = (sumSq + mean * mean * miss) / n - mean * mean;
      if (variance !== 0) scale = 1 / Math.sqrt(variance);
    }
    const dst = this.rows * n;
    const block = this.blocks[this.cur];
    for (let i = 0; i < n; i++) {
      const v = src[offset + i];
      block[dst + i] = v !== v ? 0 : (v - mean) * scale;
    }
    this.rows++;
    this.used++;
    if (this.rows === this.blockSize) await this.flush();
  }

  /**
   * Starts the update of K from the current block and switches to the other block. The previous update must
   * have finished first (both write K, and its block is the one to be refilled next).
   */
  private async flush(): Promise<void> {
    if (this.rows === 0) return;
    if (this.pending) await this.pending;
    const block = this.blocks[this.cur];
    this.pending = this.backend.syrkT(this.n, this.rows, block.subarray(0, this.rows * this.n), this.K, this.started ? 1 : 0);
    this.started = true;
    this.cur ^= 1;
    this.rows = 0;
  }

  /**
   * Flushes the last block and waits for the updates: the unscaled sum Σ z_j z_jᵀ of the SNPs added since the
   * last {@link reset} (all zeros when none was). The array is this accumulator's own buffer, valid until the
   * next {@link add}.
   */
  async partial(): Promise<Float64Array> {
    await this.flush();
    if (this.pending) await this.pending;
    this.pending = null;
    if (!this.started) this.K.fill(0);
    return this.K;
  }

  /** Starts a new partial sum (the next block overwrites K); {@link snps} counts from zero again. */
  reset(): void {
    if (this.pending) throw new Error('KinshipAccumulator.reset: call partial() first');
    this.started = false;
    this.rows = 0;
    this.used = 0;
    this.cur = 0;
  }

  /** Flushes the last block, waits for the updates and scales by 1/m (one chunk: no chunked folding). */
  async finish(): Promise<Float64Array> {
    await this.partial();
    const inv = 1 / this.used;
    for (let i = 0; i < this.K.length; i++) this.K[i] *= inv;
    return this.K;
  }
}

/** Number of entries of the upper triangle (diagonal included) of an n × n matrix. */
export function upperLength(n: number): number {
  return (n * (n + 1)) / 2;
}

/** The upper triangle (diagonal included) of a row-major n × n matrix, row by row, into `out`. */
export function packUpper(K: Float64Array, n: number, out = new Float64Array(upperLength(n))): Float64Array {
  let k = 0;
  for (let i = 0; i < n; i++) {
    out.set(K.subarray(i * n + i, i * n + n), k);
    k += n - i;
  }
  return out;
}

/**
 * The total of the per-chunk partial sums, added in chunk order (the caller's order: always chunk 0, 1, 2, …),
 * kept as the packed upper triangle (n(n+1)/2 doubles). Adding a full partial or its packed upper triangle
 * performs the same additions on the same values, so single-process and distributed runs agree bit for bit.
 */
export class KinshipSum {
  readonly upper: Float64Array;
  /** SNPs in the partials added so far (m). */
  snps = 0;
  chunks = 0;

  constructor(readonly n: number) {
    this.upper = new Float64Array(upperLength(n));
  }

  /** Adds a full n × n partial (only its upper triangle is read). */
  addFull(K: Float64Array, snps: number): void {
    const { n, upper } = this;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const row = i * n;
      for (let j = i; j < n; j++) upper[k++] += K[row + j];
    }
    this.snps += snps;
    this.chunks++;
  }

  /** Adds a packed upper-triangle partial (as sent by a worker). */
  addPacked(P: Float64Array, snps: number): void {
    const { upper } = this;
    if (P.length !== upper.length) throw new RangeError(`kinship partial has ${P.length} entries, expected ${upper.length}`);
    for (let k = 0; k < upper.length; k++) upper[k] += P[k];
    this.snps += snps;
    this.chunks++;
  }

  /** K = total / m as a full symmetric n × n matrix (into `out` when given, e.g. an accumulator's buffer). */
  finish(out: Float64Array = new Float64Array(this.n * this.n)): Float64Array {
    const { n, upper } = this;
    const inv = 1 / this.snps;
    let k = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        const v = upper[k++] * inv;
        out[i * n + j] = v;
        out[j * n + i] = v;
      }
    }
    return out;
  }
}

/** K restricted to the rows and columns `idx`, as a new n_a × n_a matrix. */
export function subMatrix(K: Float64Array, n: number, idx: Int32Array): Float64Array {
  const m = idx.length;
  const out = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    const row = idx[a] * n;
    for (let b = 0; b < m; b++) out[a * m + b] = K[row + idx[b]];
  }
  return out;
}

/** Double-centres a symmetric matrix in place: K ← P K P with P = I − 11ᵀ/n. */
export function doubleCentre(K: Float64Array, n: number): void {
  const rowMean = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += K[i * n + j];
    rowMean[i] = s / n;
    total += s;
  }
  const grand = total / (n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) K[i * n + j] += grand - rowMean[i] - rowMean[j];
  }
}
