/**
 * The SNP-block interface every genotype adapter feeds (PLINK bed, BIMBAM, numeric matrix, VCF, HapMap).
 *
 * Dosages count **allele1** (GEMMA's `allele1`, PLINK's A1 = bim column 5), as float64, NaN where missing.
 */
export interface SnpMeta {
  chr: string;
  rs: string;
  /** Base-pair position; -9 when unknown (GEMMA's convention). */
  pos: number;
  /** Genetic position in cM; -9 when unknown. */
  cm: number;
  /** Counted allele. */
  a1: string;
  /** Other allele. */
  a0: string;
}

export interface SampleId {
  fid: string;
  iid: string;
}

export interface BlockOptions {
  /** Samples to keep, as indices into the file's sample order (ascending); all when omitted. */
  keep?: Int32Array | null;
  /** Only SNPs whose mask entry is non-zero are delivered; all when omitted. */
  snpMask?: Uint8Array | null;
  /** First SNP index (inclusive), default 0. */
  start?: number;
  /** Last SNP index (exclusive), default all. */
  end?: number;
  /** Maximum number of SNPs in one block. */
  blockSize: number;
}

export interface GenoBlock {
  /** SNP indices (into `snps`) of the rows of `data`. */
  indices: Int32Array;
  /** Number of SNPs (rows) in the block. */
  count: number;
  /** Number of samples (columns). */
  n: number;
  /** Row-major `count × n` dosages, NaN for missing. The buffer may be reused by the next block. */
  data: Float64Array;
}

export interface GenotypeSource {
  readonly format: 'bed' | 'bimbam' | 'numeric' | 'vcf' | 'hapmap';
  /** What the user named (prefix for bed, the file for BIMBAM), for messages. */
  readonly label: string;
  readonly nSamples: number;
  /** Sample IDs in file order, or null when the format has none (BIMBAM: the phenotype file's order rules). */
  readonly sampleIds: SampleId[] | null;
  readonly snps: SnpMeta[];
  blocks(opts: BlockOptions): AsyncGenerator<GenoBlock>;
  close(): Promise<void>;
}
