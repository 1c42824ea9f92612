/**
 * Genomic relatedness, GEMMA style (Zhou & Stephens 2012; GEMMA manual §4.4 "-gk"):
 *   K = (1/m) Σ_j z_j z_jᵀ over the m SNPs that pass QC, with z_j the dosages of SNP j over **all** genotype
 *   samples, missing values replaced by the SNP mean, centred on that mean (`--gk 1`, "centred"), and for
 *   `--gk 2` ("standardised") also divided by the SNP's standard deviation (population variance, missing
 *   counted at the mean; SNPs with zero variance are left unscaled, as GEMMA does).
 * Computed block by block with the symmetric rank-k kernel: O(n²·m/2) flops, O(n² + n·block) memory.
 */
import type { LinalgBackend } from '../linalg/backend.js';

export type KinshipMode = 1 | 2;

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

  /** Flushes the last block, waits for the updates and scales by 1/m. */
  async finish(): Promise<Float64Array> {
    await this.flush();
    if (this.pending) await this.pending;
    this.pending = null;
    const inv = 1 / this.used;
    for (let i = 0; i < this.K.length; i++) this.K[i] *= inv;
    return this.K;
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
