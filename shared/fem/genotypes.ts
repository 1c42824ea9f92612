/**
 * Imputed genotypes of the analysed samples, held in memory for repeated fixed-effect scans (FarmCPU scans every
 * SNP once per iteration; re-decoding the file each time would cost more than the scan).
 *
 * Missing-genotype policies (`--impute`), each applied per SNP:
 * - `major`: rMVP's `MVP.Data(SNP.impute = "Major")` (rMVP 1.4.6 `src/impute.cpp`, `impute_marker`): every
 *   missing call becomes the SNP's most frequent genotype, counted over **all samples of the genotype file**
 *   (rMVP imputes the whole matrix before matching phenotypes). Values are binned by truncation toward zero
 *   (a dosage 1.7 counts as 1, as C's `int()` does). Ties go to the smallest genotype: 0 before 1 before 2.
 *   This is rMVP's FarmCPU/GLM default and ours.
 * - `middle`: GAPIT's HapMap default ("Middle"): missing becomes 1, the heterozygote.
 * - `mean`: GEMMA's rule: the mean of the non-missing dosages over the **analysed** samples.
 *
 * Storage: a SNP whose analysed values are all integers 0/1/2 or missing is kept as one signed byte per sample
 * (−1 = missing, filled on read); any other SNP (fractional dosages) as float64. Memory ≈ n·m bytes for hard
 * calls (2000 × 50,000 is 100 MB), 8·n per dosage SNP.
 */
import type { GenotypeSource } from '../genotype/types.js';
import { InputError } from '../errors.js';

export type ImputeMethod = 'major' | 'middle' | 'mean';

export const IMPUTE_METHODS: readonly ImputeMethod[] = ['major', 'middle', 'mean'];

/**
 * rMVP's "Major" genotype of one SNP: the most frequent of 0/1/2 (truncated values; anything else, including
 * NaN, is not counted), ties to the smallest genotype. `row[off + i]` for i < len.
 */
export function majorGenotype(row: Float64Array, off: number, len: number): number {
  let c0 = 0;
  let c1 = 0;
  let c2 = 0;
  for (let i = 0; i < len; i++) {
    const v = row[off + i];
    if (!(v === v)) continue;
    const k = Math.trunc(v);
    if (k === 0) c0++;
    else if (k === 1) c1++;
    else if (k === 2) c2++;
  }
  if (c2 > c1) return c2 > c0 ? 2 : 0;
  return c1 > c0 ? 1 : 0;
}

/** Per-SNP summaries computed while loading (analysed samples unless stated). */
export interface GenotypeStats {
  /** Missing calls among the analysed samples. */
  nMiss: Int32Array;
  /** Mean of the observed (non-missing) analysed dosages / 2: GEMMA's `af` of allele1. */
  af: Float64Array;
  /** Sum of observed analysed dosages (allele1 copies). */
  a1Sum: Float64Array;
  /** Mean of observed dosages over all samples in the file / 2 (plink2 chooses its A1 from this). */
  afAll: Float64Array;
  /** The value missing calls were replaced with. */
  fill: Float64Array;
}

export interface LoadOptions {
  blockSize?: number;
  onProgress?: (done: number) => void;
}

/**
 * SNPs [start, end) of a genotype source, analysed samples only, missing values imputed. Indices are absolute
 * SNP indices of the source.
 */
export class AnalysedGenotypes implements GenotypeStats {
  readonly count: number;
  readonly nMiss: Int32Array;
  readonly af: Float64Array;
  readonly a1Sum: Float64Array;
  readonly afAll: Float64Array;
  readonly fill: Float64Array;
  /** count × n signed bytes; −1 = missing; rows with dense storage are unused here. */
  private readonly codes: Int8Array;
  /** Rows (relative index) stored as float64 because some value is fractional. */
  private readonly dense = new Map<number, Float64Array>();

  private constructor(
    readonly n: number,
    readonly start: number,
    readonly end: number,
    readonly impute: ImputeMethod,
  ) {
    this.count = end - start;
    this.nMiss = new Int32Array(this.count);
    this.af = new Float64Array(this.count);
    this.a1Sum = new Float64Array(this.count);
    this.afAll = new Float64Array(this.count);
    this.fill = new Float64Array(this.count);
    this.codes = new Int8Array(this.count * n);
  }

  /**
   * Reads SNPs [start, end) of `source` (all samples, so that "major" counts the whole file), keeps the
   * `analysed` samples and records how to fill their missing calls. O((end − start) · N) time.
   */
  static async load(
    source: GenotypeSource,
    analysed: Int32Array,
    impute: ImputeMethod,
    start = 0,
    end = source.snps.length,
    opts: LoadOptions = {},
  ): Promise<AnalysedGenotypes> {
    const n = analysed.length;
    const N = source.nSamples;
    const g = new AnalysedGenotypes(n, start, end, impute);
    let done = 0;
    const codes = g.codes;
    const inAnalysed = new Uint8Array(N);
    for (const i of analysed) inAnalysed[i] = 1;
    const others = Int32Array.from({ length: N }, (_, i) => i).filter((i) => !inAnalysed[i]);
    const { afAll, nMiss, a1Sum, af, fill: fills } = g;
    for await (const block of source.blocks({ start, end, blockSize: opts.blockSize ?? 512 })) {
      const d = block.data;
      for (let r = 0; r < block.count; r++) {
        const rel = block.indices[r] - start;
        const off = r * N;
        // One pass over the analysed samples (codes, sums and rMVP's genotype counts: values truncated, which
        // for dosages validated to lie in [0, 2] is this comparison chain), then the other samples.
        let sum = 0;
        let miss = 0;
        let integral = true;
        let c0 = 0;
        let c1 = 0;
        let c2 = 0;
        const co = rel * n;
        for (let j = 0; j < n; j++) {
          const v = d[off + analysed[j]];
          if (v === v) {
            sum += v;
            if (v < 1) {
              c0++;
              if (v === 0) codes[co + j] = 0;
              else integral = false;
            } else if (v < 2) {
              c1++;
              if (v === 1) codes[co + j] = 1;
              else integral = false;
            } else {
              c2++;
              if (v === 2) codes[co + j] = 2;
              else integral = false;
            }
          } else {
            miss++;
            codes[co + j] = -1;
          }
        }
        let sumAll = sum;
        for (let j = 0; j < others.length; j++) {
          const v = d[off + others[j]];
          if (v === v) {
            sumAll += v;
            if (v < 1) c0++;
            else if (v < 2) c1++;
            else c2++;
          }
        }
        const obsAll = c0 + c1 + c2;
        afAll[rel] = obsAll > 0 ? sumAll / (2 * obsAll) : NaN;
        const obs = n - miss;
        nMiss[rel] = miss;
        a1Sum[rel] = sum;
        af[rel] = obs > 0 ? sum / (2 * obs) : NaN;
        // rMVP "Major": most frequent of the truncated genotypes over all samples, ties to the smallest.
        let fill: number;
        if (impute === 'major') fill = c2 > c1 ? (c2 > c0 ? 2 : 0) : c1 > c0 ? 1 : 0;
        else if (impute === 'middle') fill = 1;
        else fill = obs > 0 ? sum / obs : 0;
        fills[rel] = fill;
        if (!integral) {
          const row = new Float64Array(n);
          for (let j = 0; j < n; j++) {
            const v = d[off + analysed[j]];
            row[j] = v === v ? v : fill;
          }
          g.dense.set(rel, row);
        }
      }
      done += block.count;
      opts.onProgress?.(done);
    }
    if (done !== g.count) {
      throw new InputError('INPUT_FORMAT', `expected ${g.count} SNPs in [${start}, ${end}), read ${done}`, { file: source.label });
    }
    return g;
  }

  /** Writes the imputed rows of SNPs [snp, snp + count) (absolute indices) into `out` (count × n, row-major). */
  fillRows(snp: number, count: number, out: Float64Array): void {
    const n = this.n;
    for (let r = 0; r < count; r++) {
      const rel = snp - this.start + r;
      const o = r * n;
      const dense = this.dense.get(rel);
      if (dense) {
        out.set(dense, o);
        continue;
      }
      const fill = this.fill[rel];
      const co = rel * n;
      const codes = this.codes;
      for (let j = 0; j < n; j++) {
        const c = codes[co + j];
        out[o + j] = c < 0 ? fill : c;
      }
    }
  }

  /**
   * A new cache holding only the given SNPs (absolute indices, in the given order), re-indexed 0..k−1: used to
   * drop SNPs after their statistics are known (e.g. `--maf`) without reading the file again.
   */
  select(snps: Int32Array): AnalysedGenotypes {
    const n = this.n;
    const g = new AnalysedGenotypes(n, 0, snps.length, this.impute);
    snps.forEach((snp, k) => {
      const rel = snp - this.start;
      if (rel < 0 || rel >= this.count) throw new RangeError(`SNP ${snp} outside [${this.start}, ${this.end})`);
      g.nMiss[k] = this.nMiss[rel];
      g.af[k] = this.af[rel];
      g.a1Sum[k] = this.a1Sum[rel];
      g.afAll[k] = this.afAll[rel];
      g.fill[k] = this.fill[rel];
      const dense = this.dense.get(rel);
      if (dense) g.dense.set(k, dense);
      else g.codes.set(this.codes.subarray(rel * n, (rel + 1) * n), k * n);
    });
    return g;
  }

  /** The imputed analysed genotype vector of one SNP (absolute index), as a new array. */
  row(snp: number): Float64Array {
    if (snp < this.start || snp >= this.end) throw new RangeError(`SNP ${snp} outside [${this.start}, ${this.end})`);
    const out = new Float64Array(this.n);
    this.fillRows(snp, 1, out);
    return out;
  }

  /** Summary value of one SNP (absolute index). */
  stat(name: keyof GenotypeStats, snp: number): number {
    return this[name][snp - this.start];
  }
}
