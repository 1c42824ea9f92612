/**
 * GAPIT's kinships for CMLM, computed from genotypes of **all** genotyped individuals (GAPIT 4.1
 * `GAPIT.kinship.Zhang`, `GAPIT.kinship.VanRaden`; FARMCPU_CMLM.md §2.1):
 *
 * Both drop SNPs whose allele frequency over all individuals is 0 or 1 (f = Σx / 2n ≥ 1 or ≤ 0), centre each
 * remaining SNP on its mean and form K0 = Σ_j z_j z_jᵀ (z_j = x_j − x̄_j).
 *
 * - **VanRaden** (2008): K = K0 / (2 Σ_j p_j (1 − p_j)), p_j = x̄_j / 2.
 * - **Zhang**: with f_i = Σ_j (1 − |x_ij − 1|) / (2·#SNPs) (heterozygosity), top = 1 + (1 − min_i f_i),
 *   d = diag K0, L0 = min over all entries of K0: K = top·(K0 − L0)/(max d − L0), Dmin = top·(min d − L0)/(max d − L0).
 *   If Dmin < 1 the diagonal becomes (K_ii − Dmin + 1)/((top + 1 − Dmin)/2) and off-diagonals are divided by
 *   Dmin; then, if the largest off-diagonal exceeds top, off-diagonals are scaled by top/that maximum.
 *
 * Missing genotypes: GAPIT refuses them in the kinship; we impute 1 ("Middle", GAPIT's default `SNP.impute`),
 * the same value the P3D scan uses.
 * Complexity: O(n²·m/2) flops through the backend's rank-k update, O(n² + n·block) memory, one pass.
 */
import type { LinalgBackend } from '../linalg/backend.js';

export type GapitKinshipMethod = 'zhang' | 'vanraden';

export class GapitKinshipAccumulator {
  private readonly K0: Float64Array;
  private readonly het: Float64Array;
  private readonly block: Float64Array;
  private rows = 0;
  private started = false;
  private used = 0;
  private sumPQ = 0;

  constructor(
    readonly n: number,
    readonly method: GapitKinshipMethod,
    private readonly backend: LinalgBackend,
    readonly blockSize = 256,
  ) {
    this.K0 = new Float64Array(n * n);
    this.het = new Float64Array(n);
    this.block = new Float64Array(blockSize * n);
  }

  /** SNPs used so far (polymorphic ones). */
  get snps(): number {
    return this.used;
  }

  /** Adds one SNP: dosages of all n individuals from `offset` (NaN = missing, imputed as 1). */
  async add(src: Float64Array, offset: number): Promise<void> {
    const n = this.n;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const v = src[offset + i];
      sum += v === v ? v : 1;
    }
    const fa = sum / (2 * n);
    if (fa >= 1 || fa <= 0) return;
    const mean = sum / n;
    const dst = this.rows * n;
    const het = this.het;
    for (let i = 0; i < n; i++) {
      let v = src[offset + i];
      if (v !== v) v = 1;
      het[i] += 1 - Math.abs(v - 1);
      this.block[dst + i] = v - mean;
    }
    this.sumPQ += fa * (1 - fa);
    this.used++;
    if (++this.rows === this.blockSize) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.rows === 0) return;
    await this.backend.syrkT(this.n, this.rows, this.block.subarray(0, this.rows * this.n), this.K0, this.started ? 1 : 0);
    this.started = true;
    this.rows = 0;
  }

  /** The finished n × n kinship (row-major). */
  async finish(): Promise<Float64Array> {
    await this.flush();
    const { n, K0 } = this;
    if (this.used === 0) return K0;
    if (this.method === 'vanraden') {
      const adj = 2 * this.sumPQ;
      for (let i = 0; i < K0.length; i++) K0[i] /= adj;
      return K0;
    }
    return zhangAdjust(K0, n, this.het, this.used);
  }
}

/**
 * Zhang's rescaling of a centred cross-product K0 (in place; see the module comment), given each individual's
 * summed heterozygosity over the `nSnp` SNPs used.
 */
export function zhangAdjust(K: Float64Array, n: number, hetSum: Float64Array, nSnp: number): Float64Array {
  let minF = Infinity;
  for (let i = 0; i < n; i++) minF = Math.min(minF, hetSum[i] / (2 * nSnp));
  const top = 1 + (1 - minF);
  let DL = Infinity;
  let DU = -Infinity;
  let floor = Infinity;
  for (let i = 0; i < n; i++) {
    const d = K[i * n + i];
    if (d < DL) DL = d;
    if (d > DU) DU = d;
  }
  for (let i = 0; i < K.length; i++) if (K[i] < floor) floor = K[i];
  const range = DU - floor;
  for (let i = 0; i < K.length; i++) K[i] = (top * (K[i] - floor)) / range;
  const Dmin = (top * (DL - floor)) / range;
  if (Dmin < 1) {
    const dScale = (top + 1 - Dmin) * 0.5;
    const oScale = 1 / Dmin;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const k = i * n + j;
        K[k] = i === j ? (K[k] - Dmin + 1) / dScale : K[k] * oScale;
      }
    }
  }
  let omax = -Infinity;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && K[i * n + j] > omax) omax = K[i * n + j];
  if (omax > top) {
    const s = top / omax;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) K[i * n + j] *= s;
  }
  return K;
}
