/**
 * Preparing a distributed MLM job on the coordinator: the single-process stages up to the null model
 * (shared/methods/mlm.ts `prepareMlm`: samples, QC, kinship or `--kinship`, eigendecomposition, λ, vg, ve),
 * the null model encoded and hashed once, the SNP shards planned, the job spec and id, and `PREFIX.shards/`
 * opened; on a restart with the same `--out`, verified shards are marked done (see shard-store.ts).
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { openGenotypes } from '../shared/methods/inputs.js';
import { prepareMlm, type MlmConfig, type PreparedMlm } from '../shared/methods/mlm.js';
import type { GenotypeSource } from '../shared/genotype/types.js';
import type { BackendPreference } from '../shared/linalg/select.js';
import { encodeNullModel, hashEncoded, NULL_MODEL_FORMAT } from '../shared/protocol/null-model-codec.js';
import { absoluteInputs, samplesFingerprint, toJobSpec, type JobDescription } from '../shared/protocol/job.js';
import type { pb } from '../shared/protocol/rpc.js';
import type { TlsFlags } from '../shared/protocol/tls.js';
import { Scheduler, planShards, type ShardSpec } from './scheduler.js';
import { ShardStore } from './shard-store.js';

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

export interface PreparedJob extends PreparedMlm {
  /** The genotype source (closed; its SNP list is still read for the log). */
  geno: GenotypeSource;
  model: PreparedMlm['model'];
  bytes: Buffer;
  sha256: string;
  shards: ShardSpec[];
  shardSize: number;
  jobId: string;
  spec: pb.JobSpec;
  store: ShardStore;
  scheduler: Scheduler;
  /** Shards found done on disk (resume). */
  skipped: number;
}

export async function prepareJob(cfg: CoordinatorConfig): Promise<PreparedJob> {
  const { mlm } = cfg;
  const log = mlm.log;
  await fsp.mkdir(dirname(mlm.out) || '.', { recursive: true });
  const geno = await openGenotypes(mlm);
  let prep: PreparedMlm;
  try {
    prep = await prepareMlm(mlm, geno);
  } finally {
    await geno.close();
  }
  const { samples, qc, model, timings } = prep;

  const t = performance.now();
  const bytes = encodeNullModel(model);
  const sha256 = hashEncoded(bytes);
  timings.encodeNullModel = (performance.now() - t) / 1000;
  log.info(`null model encoded: ${(bytes.length / 1e6).toFixed(1)} MB (format ${NULL_MODEL_FORMAT}), sha256 ${sha256}`);

  const total = geno.snps.length;
  const shardSize = cfg.shardSize ?? defaultShardSize(total, cfg.workersHint);
  const shards = planShards(total, shardSize, qc.mask);
  const desc: JobDescription = {
    method: 'mlm',
    input: absoluteInputs(mlm),
    qc: mlm.qc,
    lmm: mlm.lmm,
    backend: cfg.backendPreference,
    blockSize: mlm.blockSize ?? 0,
    totalSnps: total,
    analysedSamples: samples.analysed.length,
    samplesSha256: samplesFingerprint(samples.analysed),
    nullModel: { sha256, sizeBytes: bytes.length, formatVersion: NULL_MODEL_FORMAT, modelVersion: model.version },
    shardSize,
    ...(prep.sampleQc?.removedIdx.length ? { excludedSamples: prep.sampleQc.removedIdx } : {}),
  };
  const spec = toJobSpec(desc);
  const jobId = spec.jobId;

  const store = new ShardStore(mlm.out);
  const { existed } = await store.open({ jobId, method: 'mlm', totalSnps: total, shardSize, shards: shards.length, nullModelSha256: sha256 });
  const scheduler = new Scheduler(shards, { leaseTimeoutMs: cfg.leaseTimeoutMs, log });
  let skipped = 0;
  if (existed) {
    const { done, discarded } = await store.resume(shards);
    for (const s of done) scheduler.markDone(s.index);
    skipped = done.length;
    log.info(
      `resuming job ${jobId.slice(0, 12)}… from ${store.dir}: ${skipped} of ${shards.length} shards already done (checksums verified), skipped` +
        `${discarded.length ? `; ${discarded.length} incomplete discarded (${discarded.join(', ')})` : ''}; ${shards.length - skipped} to compute`,
      { event: 'resume', skipped, discarded: discarded.length, shards: shards.length },
    );
  }
  log.info(`job ${jobId.slice(0, 12)}…: ${shards.length} shards of ${shardSize} SNP indices, ${qc.counts.kept} SNPs to test`, {
    event: 'job',
    jobId,
    shards: shards.length,
  });
  return { ...prep, geno, bytes, sha256, shards, shardSize, jobId, spec, store, scheduler, skipped };
}
