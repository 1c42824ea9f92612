/**
 * The first stages of every analysis, shared by all methods and by the coordinator: open the genotypes,
 * align samples, and run the QC pass (computing the kinship in the same pass when asked).
 */
import { BedFile } from '../genotype/plink.js';
import { BimbamFile } from '../genotype/bimbam.js';
import { VcfFile, type MultiallelicMode, type VcfField } from '../genotype/vcf.js';
import { HapmapFile } from '../genotype/hapmap.js';
import { NumericFile } from '../genotype/numeric.js';
import type { GenotypeSource } from '../genotype/types.js';
import { SnpQc, type QcOptions } from '../genotype/qc.js';
import { alignSamples, type AlignedSamples, type GenotypeSamples } from '../samples/align.js';
import { KinshipAccumulator, type KinshipMode } from '../kinship/kinship.js';
import type { LinalgBackend } from '../linalg/backend.js';
import type { Logger } from '../log.js';
import { InputError, UsageError } from '../errors.js';

export interface InputSpec {
  bfile?: string;
  geno?: string;
  anno?: string;
  /** VCF or VCF.gz. */
  vcf?: string;
  /** FORMAT field read from the VCF (default GT). */
  vcfField?: VcfField;
  /** Multi-allelic VCF records (default skip). */
  vcfMultiallelic?: MultiallelicMode;
  /** HapMap (TASSEL/GAPIT) file. */
  hapmap?: string;
  /** Numeric genotype matrix (GAPIT or rMVP layout) with its map. */
  numeric?: string;
  map?: string;
  numericInd?: string;
  pheno?: string;
  phenoCol?: number;
  phenoName?: string;
  covar?: string;
}

/** The genotype flags of a spec that are set, as the user wrote them. */
export function genotypeFlags(spec: InputSpec): string[] {
  const given: string[] = [];
  if (spec.bfile) given.push('--bfile');
  if (spec.geno) given.push('--geno');
  if (spec.numeric) given.push('--numeric');
  if (spec.vcf) given.push('--vcf');
  if (spec.hapmap) given.push('--hapmap');
  return given;
}

export const GENOTYPE_CHOICES =
  '--bfile PREFIX (PLINK), --geno FILE (BIMBAM, with --anno), --numeric FILE --map FILE (0/1/2 matrix), --vcf FILE (VCF/VCF.gz) or --hapmap FILE (HapMap)';

/**
 * Opens the one genotype source the spec names. Readers that decode at open (VCF, HapMap) report what they
 * skipped or assumed through `spec.log`.
 */
export async function openGenotypes(spec: InputSpec & { log?: Logger }): Promise<GenotypeSource> {
  const given = genotypeFlags(spec);
  if (given.length > 1) throw new UsageError(`give one genotype source, not ${given.join(' and ')}`, `one of ${GENOTYPE_CHOICES}`);
  if ((spec.vcfField || spec.vcfMultiallelic) && !spec.vcf) throw new UsageError('--vcf-field and --vcf-multiallelic need --vcf');
  if (spec.anno && !spec.geno) throw new UsageError('--anno needs --geno (it annotates BIMBAM files)');
  if (spec.bfile) return BedFile.open(spec.bfile);
  if (spec.geno) return BimbamFile.open(spec.geno, spec.anno);
  if (spec.numeric) {
    if (!spec.map) throw new UsageError('--numeric needs --map FILE (SNP, chromosome, position per genotype column)');
    return NumericFile.open(spec.numeric, spec.map, { indPath: spec.numericInd });
  }
  if (spec.vcf || spec.hapmap) {
    const g = spec.vcf
      ? await VcfFile.open(spec.vcf, { field: spec.vcfField, multiallelic: spec.vcfMultiallelic })
      : await HapmapFile.open(spec.hapmap!);
    for (const note of g.notes) spec.log?.info(note);
    return g;
  }
  throw new UsageError(`no genotypes: give ${GENOTYPE_CHOICES}`);
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
 * samples from the SNPs that pass.
 */
export async function qcPass(
  geno: GenotypeSource,
  samples: AlignedSamples,
  opts: { qc: QcOptions; kinship: KinshipMode | null; backend: LinalgBackend; log: Logger; blockSize?: number },
): Promise<QcPassResult> {
  const qc = new SnpQc(geno.snps, geno.format === 'bed', opts.qc, samples.W, samples.c);
  const kin = opts.kinship ? new KinshipAccumulator(geno.nSamples, opts.kinship, opts.backend) : null;
  const total = geno.snps.length;
  await evaluateQc(geno, samples, qc, { blockSize: opts.blockSize, kin, onProgress: (done) => opts.log.progress(kin ? 'QC + kinship' : 'QC', done, total) });
  const c = qc.counts;
  opts.log.info(
    `SNP QC on ${samples.analysed.length} analysed samples: ${c.total} SNPs, removed ${c.missing} for missingness > ${opts.qc.miss}, ` +
      `${c.maf} for MAF < ${opts.qc.maf}, ${c.monomorphic} monomorphic, ${c.collinear} collinear with covariates; ${c.kept} kept`,
  );
  if (c.kept === 0) {
    throw new InputError(
      'NO_DATA',
      'no SNP passed QC',
      { file: geno.label },
      'check --maf/--miss and that the phenotype selects the intended samples',
    );
  }
  const K = kin ? await kin.finish() : null;
  return { qc, K, kinshipSnps: kin ? kin.snps : 0 };
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

/** The QC loop of {@link qcPass} and {@link qcRange}: evaluates every SNP of the range, feeding kept ones to `kin`. */
async function evaluateQc(
  geno: GenotypeSource,
  samples: AlignedSamples,
  qc: SnpQc,
  opts: { start?: number; end?: number; blockSize?: number; kin: KinshipAccumulator | null; onProgress?: (done: number) => void },
): Promise<void> {
  let done = 0;
  for await (const block of geno.blocks({ start: opts.start, end: opts.end, blockSize: opts.blockSize ?? 256 })) {
    for (let r = 0; r < block.count; r++) {
      const keep = qc.evaluate(block.indices[r], block.data, r * block.n, samples.analysed);
      if (keep && opts.kin) await opts.kin.add(block.data, r * block.n);
    }
    done += block.count;
    opts.onProgress?.(done);
  }
}
