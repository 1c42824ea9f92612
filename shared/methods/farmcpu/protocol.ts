/**
 * The FarmCPU round protocol as plain data (no transport): what the coordinator asks of every SNP partition
 * each iteration, and what a partition answers. The in-process bus passes these objects directly; a network
 * transport (NATS) only has to serialise them. All SNP indices are indices into the analysis SNP list (the
 * "map" in rMVP's sense, after `--snps` and exclusions); genotype vectors are the imputed dosages of the
 * analysed samples, in analysed-sample order.
 *
 * Replies are pure functions of (request, partition range, inputs), so a partition may be re-scanned by any
 * worker and duplicate replies are interchangeable. Merging (rounds.ts `mergeReplies`) is associative and
 * commutative: per bin the best lead under a total order, per QTN the minimum p, unions keyed by SNP index.
 */

/** A pseudo-QTN: its SNP index and genotype vector (length n). */
export interface QtnVector {
  snp: number;
  genotype: Float64Array;
}

export interface RoundRequest {
  /** FarmCPU iteration whose scan this is (1-based). */
  round: number;
  /** Pseudo-QTNs in model order (W = [1, covariates, these genotypes]). */
  qtns: QtnVector[];
  /** Bin sizes (bp) whose per-bin leads the next candidate selection needs (empty on the final round). */
  binSizes: number[];
  /** How many of the best leads per bin size to return with genotypes (LD pruning / REM kinship). */
  leadsWithGenotypes: number;
  /** Only leads with raw p below this get genotypes (QTN.threshold for static bins; Infinity for REM). */
  genotypeMaxP: number;
  /** Return every SNP's row (effect, se, p, counts) for the output. */
  final: boolean;
}

/** The lead (smallest p) SNP of one bin. p is NaN when every SNP of the bin is NA. */
export interface BinLead {
  bin: number;
  snp: number;
  p: number;
}

export interface BinLeads {
  binSize: number;
  /** One lead per bin present in the partition, ascending bin id. */
  leads: BinLead[];
}

export interface CandidateGenotype {
  snp: number;
  genotype: Float64Array;
}

/** Per-SNP output rows of a partition (final round). Index i is SNP `start + i`. */
export interface FinalRows {
  start: number;
  /** Estimate per copy of allele1, NaN where not estimable (NA). */
  effect: Float64Array;
  se: Float64Array;
  p: Float64Array;
  /** log10 p (finite below 1e-300). */
  log10p: Float64Array;
  /** Missing calls among the analysed samples. */
  nMiss: Int32Array;
  /** Allele1 frequency among observed analysed calls (GEMMA's af). */
  af: Float64Array;
  /** Allele1 frequency over all samples in the file (plink2 chooses A1 from it). */
  afAll: Float64Array;
  /** Allele1 copies among observed analysed calls. */
  a1Sum: Float64Array;
}

export interface PartitionReply {
  round: number;
  partition: number;
  /** SNP range [start, end) scanned. */
  start: number;
  end: number;
  /** Raw leads (pseudo-QTN rows excluded: their p is substituted by the coordinator). */
  leads: BinLeads[];
  /** Per pseudo-QTN (request order): its smallest covariate p over this partition's rows (NaN: none). */
  rewardP: Float64Array;
  /** Genotypes of the best `leadsWithGenotypes` leads per bin size with p < genotypeMaxP, ascending SNP. */
  candidates: CandidateGenotype[];
  /** Smallest raw SNP p over the partition (NaN p ignored; NaN if none). */
  minP: number;
  /** Smallest non-zero raw SNP p (Infinity if none). */
  minNonZeroP: number;
  /** Seconds spent scanning (for the log). */
  seconds: number;
  rows: FinalRows | null;
}
