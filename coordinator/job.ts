/**
 * Preparing a distributed MLM on the coordinator, with the single-process stage functions (shared/methods):
 * 1. {@link prepareInputs}: genotypes opened (and kept open: `--genotypes-from-coordinator` workers are served
 *    from them), samples aligned, a QC-only pass (cheap: no kinship);
 * 2. {@link prepareKinshipJob} (unless `--kinship FILE`): the kinship phase's job: fixed chunks of
 *    KINSHIP_CHUNK_SNPS SNP indices, its own job id, `PREFIX.shards/kinship.json` opened, done chunks resumed;
 * 3. {@link prepareScanJob}: from K, the eigendecomposition and null model (the same function as `gwasgrid
 *    mlm`), the model encoded and hashed, the SNP shards, the scan job spec and id, `PREFIX.shards/job.json`
 *    opened; on a restart with the same `--out`, verified shards are marked done (see shard-store.ts).
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { openGenotypes, loadSamples, qcPass } from '../shared/methods/inputs.js';
import { nullModelFromKinship, type MlmConfig } from '../shared/methods/mlm.js';
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

export interface PreparedInputs {
  /** Open until the run ends (the caller closes it). */
  geno: GenotypeSource;
  samples: AlignedSamples;
  qc: SnpQc;
  /** Stage timings in seconds, for the `.log.txt`. */
  timings: Record<string, number>;
}

/** Stage 1: genotypes, samples, QC only. The caller closes `geno`. */
export async function prepareInputs(cfg: CoordinatorConfig): Promise<PreparedInputs> {
  const { mlm } = cfg;
  const log = mlm.log;
  await fsp.mkdir(dirname(mlm.out) || '.', { recursive: true });
  const geno = await openGenotypes(mlm);
  try {
    log.info(
      `genotypes: ${geno.label} (${geno.format}), ${geno.nSamples} samples × ${geno.snps.length} SNPs`,
    );
    const samples = await loadSamples(geno, mlm, log);
    const t = performance.now();
    const { qc } = await qcPass(geno, samples, { qc: mlm.qc, kinship: null, backend: mlm.backend, log });
    return { geno, samples, qc, timings: { qc: (performance.now() - t) / 1000 } };
  } catch (e) {
    await geno.close();
    throw e;
  }
}

/** The parts of a job description both phases share. */
function baseDescription(cfg: CoordinatorConfig, inputs: PreparedInputs): Omit<JobDescription, 'shardSize'> {
  const { mlm } = cfg;
  return {
    method: 'mlm',
    input: absoluteInputs(mlm),
    qc: mlm.qc,
    lmm: mlm.lmm,
    backend: cfg.backendPreference,
    blockSize: mlm.blockSize ?? 0,
    totalSnps: inputs.geno.snps.length,
    analysedSamples: inputs.samples.analysed.length,
    samplesSha256: samplesFingerprint(inputs.samples.analysed),
    totalSamples: inputs.geno.nSamples,
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

/** Stage 2: the kinship phase's job (chunks of KINSHIP_CHUNK_SNPS SNP indices, whatever the worker count). */
export async function prepareKinshipJob(cfg: CoordinatorConfig, inputs: PreparedInputs): Promise<PhaseJob> {
  const { mlm } = cfg;
  const total = inputs.geno.snps.length;
  const chunks = planShards(total, KINSHIP_CHUNK_SNPS, inputs.qc.mask, 'kinship');
  const desc: JobDescription = {
    ...baseDescription(cfg, inputs),
    shardSize: KINSHIP_CHUNK_SNPS,
    kinship: { mode: mlm.gk, chunkSize: KINSHIP_CHUNK_SNPS, maskSha256: maskFingerprint(inputs.qc.mask) },
  };
  const spec = toJobSpec(desc);
  const job = await openPhase(
    cfg,
    spec,
    chunks,
    new ShardStore(mlm.out, KINSHIP_LAYOUT),
    { totalSnps: total, shardSize: KINSHIP_CHUNK_SNPS, samples: inputs.geno.nSamples },
    'the kinship phase',
  );
  mlm.log.info(
    `kinship phase ${job.jobId.slice(0, 12)}…: ${chunks.length} chunks of ${KINSHIP_CHUNK_SNPS} SNP indices (--gk ${mlm.gk}), ${inputs.qc.counts.kept} SNPs, ` +
      `partial sums of ${inputs.geno.nSamples} samples (${((4 * inputs.geno.nSamples * (inputs.geno.nSamples + 1)) / 1e6).toFixed(1)} MB each)`,
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

/** Stage 3: eigendecomposition and null model from K (n × n over all genotype samples), the scan job. */
export async function prepareScanJob(
  cfg: CoordinatorConfig,
  inputs: PreparedInputs,
  K: Float64Array,
): Promise<PreparedJob> {
  const { mlm } = cfg;
  const log = mlm.log;
  const { geno, samples, qc, timings } = inputs;
  const model = await nullModelFromKinship(K, geno.nSamples, samples, mlm.backend, log, timings);

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
    ...baseDescription(cfg, inputs),
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
    new ShardStore(mlm.out),
    { totalSnps: total, shardSize, nullModelSha256: sha256 },
    'job',
  );
  log.info(
    `job ${job.jobId.slice(0, 12)}…: ${shards.length} shards of ${shardSize} SNP indices, ${qc.counts.kept} SNPs to test`,
    {
      event: 'job',
      jobId: job.jobId,
      shards: shards.length,
    },
  );
  return { ...job, model, bytes, sha256, shardSize };
}
