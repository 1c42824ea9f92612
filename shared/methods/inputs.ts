/**
 * The first stages of every analysis, shared by all methods and by the coordinator: open the genotypes,
 * align samples, and run the QC pass (computing the kinship in the same pass when asked).
 */
import { BedFile } from '../genotype/plink.js';
import { BimbamFile } from '../genotype/bimbam.js';
import { NumericFile } from '../genotype/numeric.js';
import type { GenotypeSource } from '../genotype/types.js';
import { SnpQc, type QcOptions } from '../genotype/qc.js';
import { alignSamples, type AlignedSamples, type GenotypeSamples } from '../samples/align.js';
import { KINSHIP_CHUNK_SNPS, KinshipAccumulator, KinshipSum, type KinshipMode } from '../kinship/kinship.js';
import type { LinalgBackend } from '../linalg/backend.js';
import type { Logger } from '../log.js';
import { InputError, UsageError } from '../errors.js';

export interface InputSpec {
  bfile?: string;
  geno?: string;
  anno?: string;
  /** Numeric genotype matrix (GAPIT or rMVP layout) with its map. */
  numeric?: string;
  map?: string;
  numericInd?: string;
  pheno?: string;
  phenoCol?: number;
  phenoName?: string;
  covar?: string;
}

export async function openGenotypes(spec: InputSpec): Promise<GenotypeSource> {
  const given = [spec.bfile && '--bfile', spec.geno && '--geno', spec.numeric && '--numeric'].filter(Boolean);
  if (given.length > 1) throw new UsageError(`give one genotype source, not ${given.join(' and ')}`);
  if (spec.bfile) return BedFile.open(spec.bfile);
  if (spec.geno) return BimbamFile.open(spec.geno, spec.anno);
  if (spec.numeric) {
    if (!spec.map) throw new UsageError('--numeric needs --map FILE (SNP, chromosome, position per genotype column)');
    return NumericFile.open(spec.numeric, spec.map, { indPath: spec.numericInd });
  }
  throw new UsageError('no genotypes: give --bfile PREFIX (PLINK), --geno FILE (BIMBAM, with --anno) or --numeric FILE --map FILE');
}

export function genotypeSamples(geno: GenotypeSource): GenotypeSamples {
  if (geno instanceof BedFile) {
    return {
      label: geno.label,
      nSamples: geno.nSamples,
      ids: geno.fam,
      famPhenos: geno.fam.map((f) => f.phenos),
      famPath: `${geno.label}.fam`,
    };
  }
  return { label: geno.label, nSamples: geno.nSamples, ids: geno.sampleIds, famPhenos: null };
}

export async function loadSamples(geno: GenotypeSource, spec: InputSpec, log: Logger): Promise<AlignedSamples> {
  const samples = await alignSamples(genotypeSamples(geno), {
    phenoFile: spec.pheno,
    phenoCol: spec.phenoCol,
    phenoName: spec.phenoName,
    covarFile: spec.covar,
  });
  for (const line of samples.summary) log.info(line);
  return samples;
}

export interface QcPassResult {
  qc: SnpQc;
  /** Kinship over all genotype samples, when requested. */
  K: Float64Array | null;
  kinshipSnps: number;
}

/**
 * One pass over the genotypes: QC statistics on the analysed samples, and (optionally) the kinship over all
 * samples from the SNPs that pass, chunked exactly as the distributed kinship phase (one partial sum per
 * {@link KINSHIP_CHUNK_SNPS} SNP indices, added in chunk order: see shared/kinship/kinship.ts).
 */
export async function qcPass(
  geno: GenotypeSource,
  samples: AlignedSamples,
  opts: { qc: QcOptions; kinship: KinshipMode | null; backend: LinalgBackend; log: Logger; blockSize?: number },
): Promise<QcPassResult> {
  const qc = new SnpQc(geno.snps, geno.format === 'bed', opts.qc, samples.W, samples.c);
  const kin = opts.kinship ? new KinshipAccumulator(geno.nSamples, opts.kinship, opts.backend) : null;
  const sum = kin ? new KinshipSum(geno.nSamples) : null;
  const total = geno.snps.length;
  await evaluateQc(geno, samples, qc, {
    blockSize: opts.blockSize,
    kin,
    onChunk: kin
      ? async () => {
          sum!.addFull(await kin.partial(), kin.snps);
          kin.reset();
        }
      : undefined,
    onProgress: (done) => opts.log.progress(kin ? 'QC + kinship' : 'QC', done, total),
  });
  logQc(qc, samples, opts.qc, opts.log);
  checkKept(qc, geno);
  // The last chunk's partial is in the accumulator's buffer, no longer needed: K goes there.
  const K = kin ? sum!.finish(kin.K) : null;
  return { qc, K, kinshipSnps: sum ? sum.snps : 0 };
}

function logQc(qc: SnpQc, samples: AlignedSamples, opts: QcOptions, log: Logger): void {
  const c = qc.counts;
  log.info(
    `SNP QC on ${samples.analysed.length} analysed samples: ${c.total} SNPs, removed ${c.missing} for missingness > ${opts.miss}, ` +
      `${c.maf} for MAF < ${opts.maf}, ${c.monomorphic} monomorphic, ${c.collinear} collinear with covariates; ${c.kept} kept`,
  );
}

function checkKept(qc: SnpQc, geno: GenotypeSource): void {
  if (qc.counts.kept === 0) {
    throw new InputError(
      'NO_DATA',
      'no SNP passed QC',
      { file: geno.label },
      'check --maf/--miss and that the phenotype selects the intended samples',
    );
  }
}

/**
 * QC statistics for SNPs [start, end) only, as a worker computes them for its shard: the same rules and the same
 * per-SNP mask, af and n_miss as {@link qcPass} (QC is per SNP and deterministic); `counts` cover the range.
 */
export async function qcRange(
  geno: GenotypeSource,
  samples: AlignedSamples,
  qcOptions: QcOptions,
  start: number,
  end: number,
  blockSize?: number,
): Promise<SnpQc> {
  const qc = new SnpQc(geno.snps, geno.format === 'bed', qcOptions, samples.W, samples.c);
  await evaluateQc(geno, samples, qc, { start, end, blockSize, kin: null });
  return qc;
}

/**
 * The partial kinship sum of one chunk, SNPs [start, end) (a whole {@link KINSHIP_CHUNK_SNPS} chunk, or the
 * last, shorter one), as a worker computes it: QC of the range with the same rules as {@link qcPass}, and
 * Σ z_j z_jᵀ over the SNPs that pass, in a fresh partial of `kin` (so its rank-k blocks start where qcPass's do).
 * Returns the QC of the range and the unscaled partial (the accumulator's buffer).
 */
export async function kinshipChunk(
  geno: GenotypeSource,
  samples: AlignedSamples,
  qcOptions: QcOptions,
  kin: KinshipAccumulator,
  start: number,
  end: number,
): Promise<{ qc: SnpQc; snps: number; partial: Float64Array }> {
  checkChunk(start, end, geno.snps.length);
  const qc = new SnpQc(geno.snps, geno.format === 'bed', qcOptions, samples.W, samples.c);
  kin.reset();
  await evaluateQc(geno, samples, qc, { start, end, kin });
  return { qc, snps: kin.snps, partial: await kin.partial() };
}

/**
 * The partial kinship sum of one chunk from a QC mask decided elsewhere (the coordinator's, for a worker that
 * receives its genotypes over the network): Σ z_j z_jᵀ over the SNPs of [start, end) with `mask[j]` set, over
 * all genotype samples, in a fresh partial of `kin`. Same SNPs in the same order as {@link kinshipChunk}.
 */
export async function kinshipChunkFromMask(
  geno: GenotypeSource,
  mask: Uint8Array,
  kin: KinshipAccumulator,
  start: number,
  end: number,
): Promise<{ snps: number; partial: Float64Array }> {
  checkChunk(start, end, geno.snps.length);
  kin.reset();
  for await (const block of geno.blocks({ start, end, snpMask: mask, blockSize: 256 })) {
    for (let r = 0; r < block.count; r++) await kin.add(block.data, r * block.n);
  }
  return { snps: kin.snps, partial: await kin.partial() };
}

function checkChunk(start: number, end: number, total: number): void {
  if (start % KINSHIP_CHUNK_SNPS !== 0 || !(end > start) || end - start > KINSHIP_CHUNK_SNPS || end > total || (end - start < KINSHIP_CHUNK_SNPS && end !== total)) {
    throw new RangeError(`[${start}, ${end}) is not a kinship chunk of ${KINSHIP_CHUNK_SNPS} SNP indices (of ${total})`);
  }
}

/**
 * The QC loop of {@link qcPass}, {@link qcRange} and {@link kinshipChunk}: evaluates every SNP of the range,
 * feeding kept ones to `kin`; `onChunk` runs after the last SNP of every kinship chunk (SNP index
 * ≡ KINSHIP_CHUNK_SNPS − 1, and the range's last SNP), before the first SNP of the next is added.
 */
async function evaluateQc(
  geno: GenotypeSource,
  samples: AlignedSamples,
  qc: SnpQc,
  opts: {
    start?: number;
    end?: number;
    blockSize?: number;
    kin: KinshipAccumulator | null;
    onChunk?: () => Promise<void>;
    onProgress?: (done: number) => void;
  },
): Promise<void> {
  let done = 0;
  const start = opts.start ?? 0;
  let boundary = (Math.floor(start / KINSHIP_CHUNK_SNPS) + 1) * KINSHIP_CHUNK_SNPS;
  for await (const block of geno.blocks({ start: opts.start, end: opts.end, blockSize: opts.blockSize ?? 256 })) {
    for (let r = 0; r < block.count; r++) {
      const snp = block.indices[r];
      if (opts.onChunk && snp >= boundary) {
        await opts.onChunk();
        boundary = (Math.floor(snp / KINSHIP_CHUNK_SNPS) + 1) * KINSHIP_CHUNK_SNPS;
      }
      const keep = qc.evaluate(snp, block.data, r * block.n, samples.analysed);
      if (keep && opts.kin) await opts.kin.add(block.data, r * block.n);
    }
    done += block.count;
    opts.onProgress?.(done);
  }
  await opts.onChunk?.();
}
