/**
 * Preparing a distributed MLM on the coordinator, with the single-process stage functions (shared/methods):
 * 1. {@link prepareInputs}: genotypes opened (and kept open: `--genotypes-from-coordinator` workers are served
 *    from them), sample QC (`--mind`), the samples of every trait aligned and grouped, a QC-only pass (cheap: no
 *    kinship) per group of traits with the same analysed samples;
 * 2. {@link prepareKinshipJob} (unless `--kinship FILE`), once per distinct set of QC-passing SNPs (one for a
 *    single trait): the kinship phase's job: fixed chunks of KINSHIP_CHUNK_SNPS SNP indices over the samples kept
 *    by --mind, its own job id, `BASE.shards/kinship.json` opened, done chunks resumed;
 * 3. {@link prepareScanJob}, per trait: its null model (fitted by the caller with the functions of `gwasgrid
 *    mlm`) encoded and hashed, the SNP shards, the scan job spec and id, `BASE.shards/job.json` opened; on a
 *    restart with the same `--out`, verified shards are marked done (see shard-store.ts).
 * BASE is the output prefix of the trait: PREFIX for one trait, PREFIX.<trait> for several (as `gwasgrid mlm`
 * names their files); a kinship shared by several traits lives in the folder of the first of them.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import {
  openGenotypes,
  loadSamples,
  qcPass,
  qcPassMulti,
  sampleQcPass,
  keptSamples,
  maskGroups,
} from '../shared/methods/inputs.js';
import { groupTraits, traitList, type MlmConfig, type TraitSelection } from '../shared/methods/mlm.js';
import type { SampleQcResult } from '../shared/genotype/sample-qc.js';
import { checkMemory, estimateMemory } from '../shared/resources.js';
import type { GenotypeSource } from '../shared/genotype/types.js';
import type { SnpQc } from '../shared/genotype/qc.js';
import type { AlignedSamples } from '../shared/samples/align.js';
import type { NullModel } from '../shared/lmm/null.js';
import { KINSHIP_CHUNK_SNPS } from '../shared/kinship/kinship.js';
import type { BackendPreference } from '../shared/linalg/select.js';
import { encodeNullModel, hashEncoded, NULL_MODEL_FORMAT } from '../shared/protocol/null-model-codec.js';
import {
  absoluteInputs,
  maskFingerprint,
  samplesFingerprint,
  toJobSpec,
  type JobDescription,
} from '../shared/protocol/job.js';
import type { pb } from '../shared/protocol/rpc.js';
import type { TlsFlags } from '../shared/protocol/tls.js';
import { Scheduler, planShards, type ShardSpec } from './scheduler.js';
import { KINSHIP_LAYOUT, ShardStore } from './shard-store.js';
import type { CmlmCoordinatorConfig } from './cmlm-job.js';

export interface CoordinatorConfig {
  /** The analysis, exactly as `gwasgrid mlm` would run it (threads are the workers' business). */
  mlm: Omit<MlmConfig, 'threads'>;
  backendPreference: BackendPreference;
  /** HOST:PORT to listen on (port 0: any free port, logged). */
  listen: string;
  token: string;
  tls: TlsFlags;
  /** SNP indices per shard; default {@link defaultShardSize}. */
  shardSize?: number;
  /** Workers expected (embedded mode), for the default shard size. */
  workersHint?: number;
  /** A lease expires this long after the holder's last heartbeat. */
  leaseTimeoutMs: number;
  /** Keep `PREFIX.shards/` after the merge. */
  keepShards: boolean;
  /** Extra lines for the `.log.txt` (e.g. embedded mode). */
  logLines?: string[];
}

export const DEFAULT_SHARD_SIZE = 2000;
export const DEFAULT_LEASE_TIMEOUT_MS = 30_000;

/** 2000 SNPs, or less so that there are at least 16 shards and at least 4 per expected worker. */
export function defaultShardSize(totalSnps: number, workers = 0): number {
  return Math.max(1, Math.min(DEFAULT_SHARD_SIZE, Math.ceil(totalSnps / Math.max(16, 4 * workers))));
}

/** One trait of the run, prepared. */
export interface TraitInputs {
  /** Its phenotype (the job spec's pheno_col / pheno_name). */
  selection: TraitSelection;
  samples: AlignedSamples;
  /** SNP QC on its analysed samples (shared by the traits of its group). */
  qc: SnpQc;
  /** Output prefix: PREFIX (one trait) or PREFIX.<trait> (several), as `gwasgrid mlm` names the files. */
  base: string;
  /** Its sample group: traits with the same analysed samples share the SNP QC and the eigendecomposition. */
  group: number;
  /** Its kinship: sample groups whose QC passes the same SNPs share one computed kinship. */
  kinship: number;
}

export interface PreparedInputs {
  /** Open until the run ends (the caller closes it). */
  geno: GenotypeSource;
  /** The traits in the order of the command line (one, or several with --pheno-col 1,2 / --pheno-name A,B). */
  traits: TraitInputs[];
  /** Several traits: outputs, logs and shard folders are PREFIX.<trait>.*. */
  multi: boolean;
  /** Sample QC (--mind), when it ran. */
  sampleQc: SampleQcResult | null;
  /** The samples a computed kinship covers (null: every genotype sample) and their number. */
  kinSamples: Int32Array | null;
  kinN: number;
  /** The first trait's samples and QC (the only trait's in a single-trait run). */
  samples: AlignedSamples;
  qc: SnpQc;
  /** Stage timings in seconds shared by every trait (sample QC, SNP QC), for the `.log.txt`. */
  timings: Record<string, number>;
}

/**
 * Stage 1: genotypes, sample QC (--mind), the samples of every trait, SNP QC only (one pass per group of traits
 * with the same analysed samples), exactly as `gwasgrid mlm` decides them. The caller closes `geno`.
 */
export async function prepareInputs(cfg: CoordinatorConfig): Promise<PreparedInputs> {
  const { mlm } = cfg;
  const log = mlm.log;
  await fsp.mkdir(dirname(mlm.out) || '.', { recursive: true });
  const geno = await openGenotypes(mlm);
  try {
    const selections = traitList(mlm);
    const multi = selections.length > 1;
    log.info(
      `genotypes: ${geno.label} (${geno.format}), ${geno.nSamples} samples × ${geno.snps.length} SNPs` +
        (multi ? `; ${selections.length} traits` : ''),
    );
    const timings: Record<string, number> = {};
    let t = performance.now();
    const sampleQc = mlm.mind === undefined ? null : await sampleQcPass(geno, mlm.mind, log);
    if (sampleQc) timings.sampleQc = (performance.now() - t) / 1000;
    const sets: AlignedSamples[] = [];
    for (const sel of selections) {
      sets.push(await loadSamples(geno, { ...mlm, phenoCol: sel.phenoCol, phenoName: sel.phenoName }, log, sampleQc?.removed));
    }
    const { keys, groups } = multi ? groupTraits(sets, log) : { keys: [''], groups: [[0]] };
    // A computed kinship covers the samples kept by --mind; a kinship file covers every genotype sample.
    const kinSamples = mlm.kinship ? null : keptSamples(geno.nSamples, sampleQc?.removed);
    const kinN = kinSamples ? kinSamples.length : geno.nSamples;
    // --max-memory: the coordinator's own peak (kinship, eigendecomposition; the workers scan). Checked before the
    // QC pass; every group is assumed to need its own kinship, as gwasgrid mlm assumes.
    checkMemory(
      estimateMemory(kinN, geno.snps.length, {
        nAnalysed: Math.max(...sets.map((x) => x.analysed.length)),
        computeKinship: !mlm.kinship,
        kinships: mlm.kinship ? 1 : groups.length,
        threads: 0,
      }),
      mlm.maxMemory,
      log,
      `the coordinator of a distributed MLM on ${Math.max(...sets.map((x) => x.analysed.length))} of ${geno.nSamples} samples × ${geno.snps.length} SNPs`,
    );
    t = performance.now();
    const reps = groups.map((g) => sets[g[0]]);
    const opts = { qc: mlm.qc, kinship: null, backend: mlm.backend, log };
    const qcs = reps.length === 1 ? [(await qcPass(geno, reps[0], opts)).qc] : (await qcPassMulti(geno, reps, opts)).qcs;
    timings.qc = (performance.now() - t) / 1000;
    const { kinshipOf } = maskGroups(qcs);
    const traits: TraitInputs[] = selections.map((selection, k) => {
      const group = groups.findIndex((g) => g.includes(k));
      return {
        selection,
        samples: sets[k],
        qc: qcs[group],
        base: multi ? `${mlm.out}.${keys[k]}` : mlm.out,
        group,
        kinship: kinshipOf[group],
      };
    });
    return {
      geno,
      traits,
      multi,
      sampleQc,
      kinSamples,
      kinN,
      samples: traits[0].samples,
      qc: traits[0].qc,
      timings,
    };
  } catch (e) {
    await geno.close();
    throw e;
  }
}

/** The parts of a job description both phases share, for one trait (its phenotype, its analysed samples). */
function baseDescription(
  cfg: CoordinatorConfig,
  inputs: PreparedInputs,
  trait: TraitInputs,
): Omit<JobDescription, 'shardSize'> {
  const { mlm } = cfg;
  const removed = inputs.sampleQc?.removedIdx ?? [];
  return {
    method: 'mlm',
    input: absoluteInputs({ ...mlm, phenoCol: trait.selection.phenoCol, phenoName: trait.selection.phenoName }),
    qc: mlm.qc,
    lmm: mlm.lmm,
    backend: cfg.backendPreference,
    blockSize: mlm.blockSize ?? 0,
    totalSnps: inputs.geno.snps.length,
    analysedSamples: trait.samples.analysed.length,
    samplesSha256: samplesFingerprint(trait.samples.analysed),
    totalSamples: inputs.geno.nSamples,
    ...(removed.length ? { excludedSamples: [...removed] } : {}),
  };
}

export interface PhaseJob {
  jobId: string;
  spec: pb.JobSpec;
  shards: ShardSpec[];
  store: ShardStore;
  scheduler: Scheduler;
  /** Shards found done on disk (resume). */
  skipped: number;
}

/** Opens the phase's store (refusing another job's), resumes its done shards, and makes its scheduler (MLM, CMLM). */
export async function openPhase(
  cfg: CoordinatorConfig | CmlmCoordinatorConfig,
  spec: pb.JobSpec,
  shards: ShardSpec[],
  store: ShardStore,
  manifest: { totalSnps: number; shardSize: number; nullModelSha256?: string; samples?: number },
  what: string,
): Promise<PhaseJob> {
  const log = 'cmlm' in cfg ? cfg.cmlm.log : cfg.mlm.log;
  const jobId = spec.jobId;
  const { existed } = await store.open({
    jobId,
    method: spec.kinship ? 'mlm-kinship' : spec.method,
    shards: shards.length,
    ...manifest,
  });
  const scheduler = new Scheduler(shards, { leaseTimeoutMs: cfg.leaseTimeoutMs, log });
  let skipped = 0;
  if (existed) {
    const { done, discarded } = await store.resume(shards);
    for (const s of done) scheduler.markDone(s.index);
    skipped = done.length;
    log.info(
      `resuming ${what} ${jobId.slice(0, 12)}… from ${store.dir}: ${skipped} of ${shards.length} ${spec.kinship ? 'kinship chunks' : 'shards'} already done (checksums verified), skipped` +
        `${discarded.length ? `; ${discarded.length} incomplete discarded (${discarded.join(', ')})` : ''}; ${shards.length - skipped} to compute`,
      {
        event: spec.kinship ? 'kinship-resume' : 'resume',
        skipped,
        discarded: discarded.length,
        shards: shards.length,
      },
    );
  }
  return { jobId, spec, shards, store, scheduler, skipped };
}

/** The first trait of kinship `k` (the phase computes the kinship from its QC, as qcPassMulti does). */
export function kinshipTrait(inputs: PreparedInputs, k: number): TraitInputs {
  return inputs.traits.find((t) => t.kinship === k)!;
}

/** Kinships to compute: one per distinct set of QC-passing SNPs (0 with --kinship FILE). */
export function kinshipCount(cfg: CoordinatorConfig, inputs: PreparedInputs): number {
  return cfg.mlm.kinship ? 0 : Math.max(...inputs.traits.map((t) => t.kinship)) + 1;
}

/**
 * Stage 2: the job of the kinship phase of kinship `k` (chunks of KINSHIP_CHUNK_SNPS SNP indices, whatever the
 * worker count), from the SNP QC of its first trait, over the samples kept by --mind.
 */
export async function prepareKinshipJob(cfg: CoordinatorConfig, inputs: PreparedInputs, k = 0): Promise<PhaseJob> {
  const { mlm } = cfg;
  const trait = kinshipTrait(inputs, k);
  const total = inputs.geno.snps.length;
  const chunks = planShards(total, KINSHIP_CHUNK_SNPS, trait.qc.mask, 'kinship');
  const desc: JobDescription = {
    ...baseDescription(cfg, inputs, trait),
    shardSize: KINSHIP_CHUNK_SNPS,
    kinship: { mode: mlm.gk, chunkSize: KINSHIP_CHUNK_SNPS, maskSha256: maskFingerprint(trait.qc.mask) },
  };
  const spec = toJobSpec(desc);
  const n = inputs.kinN;
  const job = await openPhase(
    cfg,
    spec,
    chunks,
    new ShardStore(trait.base, KINSHIP_LAYOUT),
    { totalSnps: total, shardSize: KINSHIP_CHUNK_SNPS, samples: n },
    'the kinship phase',
  );
  const which = inputs.multi ? ` (SNPs of ${inputs.traits.filter((t) => t.kinship === k).map((t) => t.samples.traitName).join(', ')})` : '';
  mlm.log.info(
    `kinship phase ${job.jobId.slice(0, 12)}…${which}: ${chunks.length} chunks of ${KINSHIP_CHUNK_SNPS} SNP indices (--gk ${mlm.gk}), ${trait.qc.counts.kept} SNPs, ` +
      `partial sums of ${n} samples${n < inputs.geno.nSamples ? ` (${inputs.geno.nSamples - n} removed by --mind)` : ''} (${((4 * n * (n + 1)) / 1e6).toFixed(1)} MB each)`,
    { event: 'kinship-job', jobId: job.jobId, chunks: chunks.length },
  );
  return job;
}

export interface PreparedJob extends PhaseJob {
  model: NullModel;
  bytes: Buffer;
  sha256: string;
  shardSize: number;
}

/**
 * Stage 3: the scan job of one trait from its null model (fitted by the caller: the eigendecomposition of its
 * sample group, then the fit, as `gwasgrid mlm`), encoded and hashed; `timings` gets the encoding time.
 */
export async function prepareScanJob(
  cfg: CoordinatorConfig,
  inputs: PreparedInputs,
  trait: TraitInputs,
  model: NullModel,
  timings: Record<string, number>,
): Promise<PreparedJob> {
  const { mlm } = cfg;
  const log = mlm.log;
  const { geno } = inputs;
  const { qc } = trait;

  const t = performance.now();
  const bytes = encodeNullModel(model);
  const sha256 = hashEncoded(bytes);
  timings.encodeNullModel = (performance.now() - t) / 1000;
  log.info(
    `null model encoded: ${(bytes.length / 1e6).toFixed(1)} MB (format ${NULL_MODEL_FORMAT}), sha256 ${sha256}`,
  );

  const total = geno.snps.length;
  const shardSize = cfg.shardSize ?? defaultShardSize(total, cfg.workersHint);
  const shards = planShards(total, shardSize, qc.mask);
  const spec = toJobSpec({
    ...baseDescription(cfg, inputs, trait),
    // Every line carries its row's full-precision values: the other formats and λGC are written from them.
    rowValues: true,
    nullModel: {
      sha256,
      sizeBytes: bytes.length,
      formatVersion: NULL_MODEL_FORMAT,
      modelVersion: model.version,
    },
    shardSize,
  });
  const job = await openPhase(
    cfg,
    spec,
    shards,
    new ShardStore(trait.base),
    { totalSnps: total, shardSize, nullModelSha256: sha256 },
    inputs.multi ? `the job of ${trait.samples.traitName}` : 'job',
  );
  log.info(
    `job ${job.jobId.slice(0, 12)}…${inputs.multi ? ` (${trait.samples.traitName})` : ''}: ${shards.length} shards of ${shardSize} SNP indices, ${qc.counts.kept} SNPs to test`,
    {
      event: 'job',
      jobId: job.jobId,
      shards: shards.length,
    },
  );
  return { ...job, model, bytes, sha256, shardSize };
}
