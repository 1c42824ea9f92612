/**
 * A distributed MLM run, coordinator side:
 * 1. the single-process stages up to the null model (shared/methods/mlm.ts `prepareMlm`: samples, QC,
 *    kinship or `--kinship`, eigendecomposition, λ, vg, ve), then the null model encoded and hashed once;
 * 2. SNP shards planned, `PREFIX.shards/` opened; on a restart with the same `--out`, verified shards are
 *    skipped (see shard-store.ts for the resume rules);
 * 3. the gRPC service (server.ts) serves workers until every shard is done: leases, heartbeats, results;
 * 4. every shard file verified once more, then merged in genome order into `PREFIX.assoc.txt` (the same bytes
 *    as `gwasgrid mlm`) and `PREFIX.log.txt`; workers are told the job is done and the server stops.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { openGenotypes } from '../shared/methods/inputs.js';
import { prepareMlm, mlmLogText, type MlmConfig } from '../shared/methods/mlm.js';
import { assocHeader } from '../shared/results/assoc.js';
import { writeFileAtomic } from '../shared/io/atomic.js';
import type { BackendPreference } from '../shared/linalg/select.js';
import { GwasError } from '../shared/errors.js';
import { encodeNullModel, hashEncoded, NULL_MODEL_FORMAT } from '../shared/protocol/null-model-codec.js';
import { absoluteInputs, samplesFingerprint, toJobSpec, type JobDescription } from '../shared/protocol/job.js';
import { parseHostPort } from '../shared/protocol/rpc.js';
import { serverCredentials, isTls, type TlsFlags } from '../shared/protocol/tls.js';
import { Scheduler, planShards } from './scheduler.js';
import { ShardStore } from './shard-store.js';
import { coordinatorService, serve, shutdown, type ServiceContext } from './server.js';

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

export interface CoordinatorSummary {
  assocPath: string;
  logPath: string;
  shards: number;
  skipped: number;
  scanSeconds: number;
  broadcasts: ServiceContext['broadcasts'];
}

export interface RunningCoordinator {
  /** HOST:PORT actually bound. */
  address: string;
  port: number;
  /** Settles when the job is merged and the server stopped (or failed). */
  done: Promise<CoordinatorSummary>;
  /** Stops serving and fails `done` with `err` (e.g. every embedded worker died). */
  abort(err: GwasError): void;
}

export async function startCoordinator(cfg: CoordinatorConfig): Promise<RunningCoordinator> {
  const { mlm } = cfg;
  const log = mlm.log;
  const t0 = performance.now();
  await fsp.mkdir(dirname(mlm.out) || '.', { recursive: true });
  const geno = await openGenotypes(mlm);
  let prep: Awaited<ReturnType<typeof prepareMlm>>;
  try {
    prep = await prepareMlm(mlm, geno);
  } finally {
    await geno.close();
  }
  const { samples, qc, model, timings } = prep;

  let t = performance.now();
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
  };
  const spec = toJobSpec(desc);
  const jobId = spec.jobId;

  const store = new ShardStore(mlm.out);
  const { existed } = await store.open({ jobId, method: 'mlm', totalSnps: total, shardSize, shards: shards.length, nullModelSha256: sha256 });
  const sched = new Scheduler(shards, { leaseTimeoutMs: cfg.leaseTimeoutMs, log });
  let skipped = 0;
  if (existed) {
    const { done, discarded } = await store.resume(shards);
    for (const s of done) sched.markDone(s.index);
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

  const heartbeatMs = Math.max(100, Math.round(cfg.leaseTimeoutMs / 3));
  const ctx: ServiceContext = {
    job: { jobId, spec, model: { bytes, sha256 } },
    scheduler: sched,
    store,
    log,
    heartbeatMs,
    leaseTimeoutMs: cfg.leaseTimeoutMs,
    longPollMs: heartbeatMs,
    broadcasts: [],
  };
  const { server, port } = await serve(coordinatorService(ctx), cfg.listen, serverCredentials(cfg.tls), cfg.token, log);
  const address = `${parseHostPort(cfg.listen).host}:${port}`;
  log.info(`coordinator listening on ${address} (${isTls(cfg.tls) ? 'TLS' : 'plaintext'}, join token required)`, { event: 'listening', address, port });

  let aborted: GwasError | null = null;
  const sweeper = setInterval(() => sched.sweep(), Math.max(100, Math.round(cfg.leaseTimeoutMs / 4)));
  const done = (async (): Promise<CoordinatorSummary> => {
    try {
      const tScan = performance.now();
      const snps0 = sched.snpsDone;
      const report = () => {
        const secs = (performance.now() - tScan) / 1000;
        const rate = secs > 0 ? (sched.snpsDone - snps0) / secs : 0;
        const eta = rate > 0 ? (qc.counts.kept - sched.snpsDone) / rate : NaN;
        log.progress('distributed scan (shards)', sched.done, sched.total, {
          snps: sched.snpsDone,
          snpsPerSecond: Math.round(rate),
          etaSeconds: Number.isFinite(eta) ? Math.round(eta) : null,
          workers: sched.workerCount,
        });
      };
      for (;;) {
        while (!sched.allDone && !sched.failure && !aborted) {
          await sched.changed(1000);
          report();
        }
        if (aborted || sched.failure) throw aborted ?? sched.failure;
        // Every shard is done: check the files once more; a damaged one goes back in the queue.
        let bad = 0;
        for (const s of shards) {
          if (!(await store.verify(s))) {
            bad++;
            log.warn(`${s.name}: ${store.tsvPath(s)} is missing or does not match its checksum; computing it again`);
            sched.requeue(s.index);
          }
        }
        if (bad === 0) break;
      }
      sched.finish();
      timings.scan = (performance.now() - tScan) / 1000;

      t = performance.now();
      const assocPath = `${mlm.out}.assoc.txt`;
      await store.merge(assocHeader(mlm.lmm), shards, assocPath);
      timings.merge = (performance.now() - t) / 1000;
      timings.total = (performance.now() - t0) / 1000;
      const logPath = `${mlm.out}.log.txt`;
      const moved = ctx.broadcasts.reduce((a, b) => a + b.bytes, 0);
      const secs = ctx.broadcasts.reduce((a, b) => a + b.seconds, 0);
      const extra = [
        `## Distributed = ${shards.length} shards of ${shardSize} SNP indices (${skipped} resumed from ${store.dir}), job ${jobId}`,
        `## Null model = ${(bytes.length / 1e6).toFixed(1)} MB, sha256 ${sha256}, sent ${ctx.broadcasts.length} times` +
          (secs > 0 ? ` at ${(moved / 1e6 / secs).toFixed(1)} MB/s` : ''),
        ...(cfg.logLines ?? []),
      ];
      await writeFileAtomic(logPath, mlmLogText(mlm, geno, samples, qc, model, timings, extra));
      if (!cfg.keepShards) await store.removeAll();
      log.info(`wrote ${assocPath} (${qc.counts.kept} SNPs) and ${logPath} in ${timings.total.toFixed(1)} s`);
      await tellWorkers(sched, heartbeatMs);
      return { assocPath, logPath, shards: shards.length, skipped, scanSeconds: timings.scan, broadcasts: ctx.broadcasts };
    } catch (e) {
      sched.finish();
      await tellWorkers(sched, heartbeatMs);
      throw e;
    } finally {
      clearInterval(sweeper);
      await shutdown(server);
    }
  })();
  return {
    address,
    port,
    done,
    abort(err) {
      aborted ??= err;
      sched.finish();
    },
  };
}

/** Gives connected workers up to two heartbeats to hear that the job is done. */
async function tellWorkers(sched: Scheduler, heartbeatMs: number): Promise<void> {
  const until = Date.now() + 2 * heartbeatMs + 500;
  while (sched.untold() > 0 && Date.now() < until) await sched.changed(Math.min(200, until - Date.now()));
}

