/**
 * A distributed MLM run, coordinator side:
 * 1. listen at once (workers may start with the coordinator: while the job is prepared, Join asks them to come
 *    back, which counts as contact, not as an outage; a busy port fails before any work);
 * 2. prepare the job (job.ts: QC, kinship, null model encoded and hashed, shards, resume from `PREFIX.shards/`);
 * 3. serve it (server.ts) until every shard is done: leases, heartbeats, results; progress with SNPs/s and ETA;
 * 4. verify every shard file once more, merge them in genome order into `PREFIX.assoc.txt` (the same bytes as
 *    `gwasgrid mlm`) and write `PREFIX.log.txt`; tell the workers the job is done and stop the server.
 */
import { mlmLogText } from '../shared/methods/mlm.js';
import { assocHeader } from '../shared/results/assoc.js';
import { lambdaFromAssoc } from '../shared/results/rows.js';
import { writeFileAtomic } from '../shared/io/atomic.js';
import type { GwasError } from '../shared/errors.js';
import type { CoordinatorServer } from '../shared/protocol/rpc.js';
import { parseHostPort } from '../shared/protocol/rpc.js';
import { serverCredentials, isTls } from '../shared/protocol/tls.js';
import type { Scheduler } from './scheduler.js';
import { prepareJob, type CoordinatorConfig, type PreparedJob } from './job.js';
import { coordinatorService, preparingService, serve, shutdown, type ServiceContext } from './server.js';

export { DEFAULT_LEASE_TIMEOUT_MS, type CoordinatorConfig } from './job.js';

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
  /** Settles when the job is merged and the server stopped (or failed, including while preparing). */
  done: Promise<CoordinatorSummary>;
  /** Stops serving and fails `done` with `err` (e.g. every embedded worker died). */
  abort(err: GwasError): void;
}

/** Binds the server and returns; the job is prepared, served and merged in `done`. */
export async function startCoordinator(cfg: CoordinatorConfig): Promise<RunningCoordinator> {
  const log = cfg.mlm.log;
  const t0 = performance.now();
  const heartbeatMs = Math.max(100, Math.round(cfg.leaseTimeoutMs / 3));
  let service: CoordinatorServer = preparingService(Math.min(1000, heartbeatMs));
  const { server, port } = await serve(() => service, cfg.listen, serverCredentials(cfg.tls), cfg.token, log);
  const address = `${parseHostPort(cfg.listen).host}:${port}`;
  log.info(`coordinator listening on ${address} (${isTls(cfg.tls) ? 'TLS' : 'plaintext'}, join token required)`, { event: 'listening', address, port });

  let aborted: GwasError | null = null;
  let job: PreparedJob | null = null;
  const done = (async (): Promise<CoordinatorSummary> => {
    try {
      job = await prepareJob(cfg);
      if (aborted) throw aborted;
      const ctx: ServiceContext = {
        job: { jobId: job.jobId, spec: job.spec, model: { bytes: job.bytes, sha256: job.sha256 } },
        scheduler: job.scheduler,
        store: job.store,
        log,
        heartbeatMs,
        leaseTimeoutMs: cfg.leaseTimeoutMs,
        longPollMs: heartbeatMs,
        broadcasts: [],
      };
      service = coordinatorService(ctx);
      log.info('job ready: serving shards', { event: 'ready' });
      return await serveJob(cfg, job, ctx, t0, () => aborted);
    } catch (e) {
      const sched = (job as PreparedJob | null)?.scheduler;
      if (sched) {
        sched.finish();
        await tellWorkers(sched, heartbeatMs);
      }
      throw e;
    } finally {
      await shutdown(server);
    }
  })();
  return {
    address,
    port,
    done,
    abort(err) {
      aborted ??= err;
      (job as PreparedJob | null)?.scheduler.finish();
    },
  };
}

/** Serves until every shard is done and verified, then merges, writes the log and tells the workers. */
async function serveJob(
  cfg: CoordinatorConfig,
  job: PreparedJob,
  ctx: ServiceContext,
  t0: number,
  aborted: () => GwasError | null,
): Promise<CoordinatorSummary> {
  const { mlm } = cfg;
  const { log } = ctx;
  const { scheduler: sched, store, shards, qc, timings } = job;
  const sweeper = setInterval(() => sched.sweep(), Math.max(100, Math.round(cfg.leaseTimeoutMs / 4)));
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
      while (!sched.allDone && !sched.failure && !aborted()) {
        await sched.changed(1000);
        report();
      }
      const failed = aborted() ?? sched.failure;
      if (failed) throw failed;
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

    const t = performance.now();
    const assocPath = `${mlm.out}.assoc.txt`;
    await store.merge(assocHeader(mlm.lmm), shards, assocPath);
    timings.merge = (performance.now() - t) / 1000;
    const lambda = await lambdaFromAssoc(assocPath, mlm.lmm);
    log.info(`genomic inflation λGC = ${lambda.value.toFixed(4)} (median χ² of ${lambda.count} p-values / 0.4549364)`, { lambdaGc: lambda.value });
    timings.total = (performance.now() - t0) / 1000;
    const logPath = `${mlm.out}.log.txt`;
    const moved = ctx.broadcasts.reduce((a, b) => a + b.bytes, 0);
    const secs = ctx.broadcasts.reduce((a, b) => a + b.seconds, 0);
    const extra = [
      `## Distributed = ${shards.length} shards of ${job.shardSize} SNP indices (${job.skipped} resumed from ${store.dir}), job ${job.jobId}`,
      `## Null model = ${(job.bytes.length / 1e6).toFixed(1)} MB, sha256 ${job.sha256}, sent ${ctx.broadcasts.length} times` +
        (secs > 0 ? ` at ${(moved / 1e6 / secs).toFixed(1)} MB/s` : ''),
      ...(cfg.logLines ?? []),
      `## lambda GC = ${lambda.value.toFixed(6)}`,
    ];
    await writeFileAtomic(logPath, mlmLogText(mlm, job.geno, job.samples, qc, job.model, timings, extra));
    if (!cfg.keepShards) await store.removeAll();
    log.info(`wrote ${assocPath} (${qc.counts.kept} SNPs) and ${logPath} in ${timings.total.toFixed(1)} s`);
    await tellWorkers(sched, ctx.heartbeatMs);
    return { assocPath, logPath, shards: shards.length, skipped: job.skipped, scanSeconds: timings.scan, broadcasts: ctx.broadcasts };
  } finally {
    clearInterval(sweeper);
  }
}

/** Gives connected workers up to two heartbeats to hear that the job is done. */
async function tellWorkers(sched: Scheduler, heartbeatMs: number): Promise<void> {
  const until = Date.now() + 2 * heartbeatMs + 500;
  while (sched.untold() > 0 && Date.now() < until) await sched.changed(Math.min(200, until - Date.now()));
}
