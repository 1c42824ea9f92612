/**
 * Sample quality control (`--mind F`, as plink/plink2 `--mind`): a pass over every SNP of the genotype file, before
 * any other filter, counting each sample's missing calls; samples missing more than a fraction F of the SNPs
 * are removed from the whole analysis (they are neither analysed nor part of a computed kinship).
 *
 * Missing data: a genotype is missing when the reader returns NaN (bed code 01, BIMBAM `NA`).
 * Complexity: one read of the genotypes, O(n·m) time, O(n) memory besides one block.
 */
import type { GenotypeSource, SampleId } from './types.js';

export interface SampleQcResult {
  /** 1 for samples removed by --mind, per genotype sample. */
  removed: Uint8Array;
  /** Missing calls per genotype sample. */
  missing: Int32Array;
  /** Number of SNPs counted. */
  snps: number;
  /** Removed sample indices, ascending. */
  removedIdx: number[];
}

/** Counts missing calls per sample over all SNPs and marks samples whose missing fraction exceeds `mind`. */
export async function sampleMissingness(
  geno: GenotypeSource,
  mind: number,
  opts: { blockSize?: number; onProgress?: (done: number) => void } = {},
): Promise<SampleQcResult> {
  const n = geno.nSamples;
  const missing = new Int32Array(n);
  let snps = 0;
  for await (const block of geno.blocks({ blockSize: opts.blockSize ?? 256 })) {
    const d = block.data;
    for (let r = 0; r < block.count; r++) {
      const off = r * n;
      for (let i = 0; i < n; i++) if (d[off + i] !== d[off + i]) missing[i]++;
    }
    snps += block.count;
    opts.onProgress?.(snps);
  }
  const removed = new Uint8Array(n);
  const removedIdx: number[] = [];
  for (let i = 0; i < n; i++) {
    if (missing[i] / snps > mind) {
      removed[i] = 1;
      removedIdx.push(i);
    }
  }
  return { removed, missing, snps, removedIdx };
}

/** "FID IID (12.3%)" for up to `max` removed samples, then "… and K more". */
export function describeRemoved(r: SampleQcResult, ids: SampleId[] | null, max = 20): string {
  const name = (i: number) => (ids ? (ids[i].fid === ids[i].iid ? ids[i].iid : `${ids[i].fid} ${ids[i].iid}`) : `column ${i + 1}`);
  const shown = r.removedIdx.slice(0, max).map((i) => `${name(i)} (${((100 * r.missing[i]) / r.snps).toFixed(1)}% missing)`);
  const more = r.removedIdx.length - shown.length;
  return shown.join(', ') + (more > 0 ? `, … and ${more} more` : '');
}
