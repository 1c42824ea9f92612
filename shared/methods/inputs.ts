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
import { SnpQc, describeQcCounts, type QcOptions } from '../genotype/qc.js';
import { sampleMissingness, describeRemoved, type SampleQcResult } from '../genotype/sample-qc.js';
import { alignSamples, type AlignedSamples, type GenotypeSamples } from '../samples/align.js';
import { KINSHIP_CHUNK_SNPS, KinshipAccumulator, KinshipSum, type KinshipMode } from '../kinship/kinship.js';
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

export async function loadSamples(geno: GenotypeSource, spec: InputSpec, log: Logger, exclude?: Uint8Array | null): Promise<AlignedSamples> {
  const samples = await alignSamples(
    genotypeSamples(geno),
    {
      phenoFile: spec.pheno,
      phenoCol: spec.phenoCol,
      phenoName: spec.phenoName,
      covarFile: spec.covar,
    },
    exclude,
  );
  for (const line of samples.summary) log.info(line);
  return samples;
}

/**
 * Sample QC (`--mind F`), the first pass of an analysis: samples missing more than F of all SNPs are removed;
 * the log counts and names them. Refuses when no sample is left.
 */
export async function sampleQcPass(geno: GenotypeSource, mind: number, log: Logger): Promise<SampleQcResult> {
  const total = geno.snps.length;
  const r = await sampleMissingness(geno, mind, { onProgress: (d) => log.progress('sample QC (--mind)', d, total) });
  log.info(
    `sample QC --mind ${mind}: ${r.removedIdx.length} of ${geno.nSamples} samples missing more than ${(mind * 100).toPrecision(3)}% of ${r.snps} SNPs removed` +
      (r.removedIdx.length ? `: ${describeRemoved(r, geno.sampleIds)}` : ''),
  );
  if (r.removedIdx.length === geno.nSamples) {
    throw new InputError(
      'NO_DATA',
      `--mind ${mind} removes every sample (the least-missing sample lacks ${((100 * Math.min(...r.missing)) / r.snps).toFixed(1)}% of the SNPs)`,
      { file: geno.label },
      'raise --mind, or check that the genotype file is not mostly missing',
    );
  }
  return r;
}

/** Indices of the samples kept by sample QC (all when `removed` is null). */
export function keptSamples(n: number, removed: Uint8Array | null | undefined): Int32Array | null {
  if (!removed) return null;
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (!removed[i]) out.push(i);
  return out.length === n ? null : Int32Array.from(out);
}

export interface QcPassResult {
  qc: SnpQc;
  /** Kinship over the kinship samples (all genotype samples, or those kept by --mind), when requested. */
  K: Float64Array | null;
  kinshipSnps: number;
}

function noSnpLeft(geno: GenotypeSource, qc: QcOptions, traitName?: string): InputError {
  const flags = ['--maf', '--miss', ...(qc.mac ? ['--mac'] : []), ...(qc.hwe ? ['--hwe'] : [])].join('/');
  return new InputError(
    'NO_DATA',
    `no SNP passed QC${traitName ? ` for ${traitName}` : ''} (see the counts above)`,
    { file: geno.label },
    `relax ${flags} and check that the phenotype selects the intended samples`,
  );
}

/**
 * One pass over the genotypes: QC statistics on the analysed samples, and (optionally) the kinship from the SNPs
 * that pass, over all genotype samples or over `kinSamples` (the samples kept by --mind), chunked exactly as the
 * distributed kinship phase (one partial sum per {@link KINSHIP_CHUNK_SNPS} SNP indices, added in chunk order:
 * see shared/kinship/kinship.ts).
 */
export async function qcPass(
  geno: GenotypeSource,
  samples: AlignedSamples,
  opts: { qc: QcOptions; kinship: KinshipMode | null; backend: LinalgBackend; log: Logger; blockSize?: number; kinSamples?: Int32Array | null },
): Promise<QcPassResult> {
  const qc = new SnpQc(geno.snps, geno.format === 'bed', opts.qc, samples.W, samples.c);
  const kinN = opts.kinSamples ? opts.kinSamples.length : geno.nSamples;
  const kin = opts.kinship ? new KinshipAccumulator(kinN, opts.kinship, opts.backend) : null;
  const sum = kin ? new KinshipSum(kinN) : null;
  const total = geno.snps.length;
  await evaluateQc(geno, samples, qc, {
    blockSize: opts.blockSize,
    kin,
    kinSamples: opts.kinSamples ?? null,
    onChunk: kin
      ? async () => {
          sum!.addFull(await kin.partial(), kin.snps);
          kin.reset();
        }
      : undefined,
    onProgress: (done) => opts.log.progress(kin ? 'QC + kinship' : 'QC', done, total),
  });
  opts.log.info(`SNP QC on ${samples.analysed.length} analysed samples: ${describeQcCounts(qc.counts, opts.qc)}`);
  if (qc.counts.kept === 0) throw noSnpLeft(geno, opts.qc);
  // The last chunk's partial is in the accumulator's buffer, no longer needed: K goes there.
  const K = kin ? sum!.finish(kin.K) : null;
  return { qc, K, kinshipSnps: sum ? sum.snps : 0 };
}

export interface MultiQcResult {
  /** QC per sample set (same order as the input). */
  qcs: SnpQc[];
  /** Distinct kinship matrices (empty when not computed) and, per sample set, the index of its matrix. */
  kinships: Array<{ K: Float64Array; snps: number }>;
  kinshipOf: number[];
}

/**
 * QC for several analysed sample sets (several traits) in one pass over the genotypes, then, when the kinship
 * is computed, one more pass feeding one kinship accumulator per distinct set of passing SNPs (sets with the
 * same SNP mask share one matrix). Each matrix is exactly what a single-trait run would compute.
 */
export async function qcPassMulti(
  geno: GenotypeSource,
  sets: AlignedSamples[],
  opts: { qc: QcOptions; kinship: KinshipMode | null; backend: LinalgBackend; log: Logger; blockSize?: number; kinSamples?: Int32Array | null },
): Promise<MultiQcResult> {
  const qcs = sets.map((s) => new SnpQc(geno.snps, geno.format === 'bed', opts.qc, s.W, s.c));
  const total = geno.snps.length;
  for await (const block of geno.blocks({ blockSize: opts.blockSize ?? 256 })) {
    for (let r = 0; r < block.count; r++) {
      for (let k = 0; k < sets.length; k++) qcs[k].evaluate(block.indices[r], block.data, r * block.n, sets[k].analysed);
    }
    opts.log.progress(`QC (${sets.length} sample sets)`, block.indices[block.count - 1] + 1, total);
  }
  qcs.forEach((qc, k) => {
    opts.log.info(`SNP QC for ${sets[k].traitName} on ${sets[k].analysed.length} analysed samples: ${describeQcCounts(qc.counts, opts.qc)}`);
    if (qc.counts.kept === 0) throw noSnpLeft(geno, opts.qc, sets[k].traitName);
  });
  if (!opts.kinship) return { qcs, kinships: [], kinshipOf: [] };
  const { masks, kinshipOf } = maskGroups(qcs);
  const kinN = opts.kinSamples ? opts.kinSamples.length : geno.nSamples;
  const accs = masks.map(() => new KinshipAccumulator(kinN, opts.kinship!, opts.backend));
  // Chunked as qcPass (and the distributed kinship phase), so each matrix has a single-trait run's bits.
  const sums = masks.map(() => new KinshipSum(kinN));
  const fold = async () => {
    for (let k = 0; k < accs.length; k++) {
      sums[k].addFull(await accs[k].partial(), accs[k].snps);
      accs[k].reset();
    }
  };
  let boundary = KINSHIP_CHUNK_SNPS;
  opts.log.info(
    masks.length === 1
      ? 'kinship: every trait passes the same SNPs: one kinship matrix'
      : `kinship: the traits pass ${masks.length} different SNP sets (their analysed samples differ): ${masks.length} kinship matrices, as separate runs would compute`,
  );
  const scratch = opts.kinSamples ? new Float64Array(kinN) : null;
  let done = 0;
  for await (const block of geno.blocks({ blockSize: opts.blockSize ?? 256 })) {
    for (let r = 0; r < block.count; r++) {
      const snp = block.indices[r];
      if (snp >= boundary) {
        await fold();
        boundary = (Math.floor(snp / KINSHIP_CHUNK_SNPS) + 1) * KINSHIP_CHUNK_SNPS;
      }
      for (let k = 0; k < masks.length; k++) {
        if (!masks[k][snp]) continue;
        if (scratch) {
          gather(block.data, r * block.n, opts.kinSamples!, scratch);
          await accs[k].add(scratch, 0);
        } else await accs[k].add(block.data, r * block.n);
      }
    }
    done += block.count;
    opts.log.progress('kinship', done, total);
  }
  const kinships: Array<{ K: Float64Array; snps: number }> = [];
  await fold();
  accs.forEach((a, k) => kinships.push({ K: sums[k].finish(a.K), snps: sums[k].snps }));
  return { qcs, kinships, kinshipOf };
}

/**
 * Groups QC results by identical SNP masks (the kinships of several traits): the distinct masks in order of first
 * appearance, and per QC result the index of its mask.
 */
export function maskGroups(qcs: Array<Pick<SnpQc, 'mask'>>): { masks: Uint8Array[]; kinshipOf: number[] } {
  const masks: Uint8Array[] = [];
  const kinshipOf = qcs.map((qc) => {
    const i = masks.findIndex((m) => m.length === qc.mask.length && m.every((v, j) => v === qc.mask[j]));
    if (i >= 0) return i;
    masks.push(qc.mask);
    return masks.length - 1;
  });
  return { masks, kinshipOf };
}

function gather(src: Float64Array, off: number, idx: Int32Array, out: Float64Array): void {
  for (let j = 0; j < idx.length; j++) out[j] = src[off + idx[j]];
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
 * Σ z_j z_jᵀ over the SNPs that pass, in a fresh partial of `kin` (so its rank-k blocks start where qcPass's do),
 * over all genotype samples or over `kinSamples` (the samples kept by --mind; `kin` is then of that size).
 * Returns the QC of the range and the unscaled partial (the accumulator's buffer).
 */
export async function kinshipChunk(
  geno: GenotypeSource,
  samples: AlignedSamples,
  qcOptions: QcOptions,
  kin: KinshipAccumulator,
  start: number,
  end: number,
  kinSamples: Int32Array | null = null,
): Promise<{ qc: SnpQc; snps: number; partial: Float64Array }> {
  checkChunk(start, end, geno.snps.length);
  const qc = new SnpQc(geno.snps, geno.format === 'bed', qcOptions, samples.W, samples.c);
  kin.reset();
  await evaluateQc(geno, samples, qc, { start, end, kin, kinSamples });
  return { qc, snps: kin.snps, partial: await kin.partial() };
}

/**
 * The partial kinship sum of one chunk from a QC mask decided elsewhere (the coordinator's, for a worker that
 * receives its genotypes over the network): Σ z_j z_jᵀ over the SNPs of [start, end) with `mask[j]` set, over
 * all genotype samples or over `kinSamples` (--mind), in a fresh partial of `kin`. Same SNPs in the same order,
 * and the same rows, as {@link kinshipChunk}.
 */
export async function kinshipChunkFromMask(
  geno: GenotypeSource,
  mask: Uint8Array,
  kin: KinshipAccumulator,
  start: number,
  end: number,
  kinSamples: Int32Array | null = null,
): Promise<{ snps: number; partial: Float64Array }> {
  checkChunk(start, end, geno.snps.length);
  kin.reset();
  const scratch = kinSamples ? new Float64Array(kinSamples.length) : null;
  for await (const block of geno.blocks({ start, end, snpMask: mask, blockSize: 256 })) {
    for (let r = 0; r < block.count; r++) {
      if (scratch) {
        gather(block.data, r * block.n, kinSamples!, scratch);
        await kin.add(scratch, 0);
      } else await kin.add(block.data, r * block.n);
    }
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
    kinSamples?: Int32Array | null;
    onChunk?: () => Promise<void>;
    onProgress?: (done: number) => void;
  },
): Promise<void> {
  let done = 0;
  const scratch = opts.kin && opts.kinSamples ? new Float64Array(opts.kinSamples.length) : null;
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
      if (keep && opts.kin) {
        if (scratch) {
          gather(block.data, r * block.n, opts.kinSamples!, scratch);
          await opts.kin.add(scratch, 0);
        } else await opts.kin.add(block.data, r * block.n);
      }
    }
    done += block.count;
    opts.onProgress?.(done);
  }
  await opts.onChunk?.();
}
