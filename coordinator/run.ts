/**
 * A distributed MLM run, coordinator side:
 * 1. listen at once (workers may start with the coordinator: while the job is prepared, Join asks them to come
 *    back, which counts as contact, not as an outage; a busy port fails before any work);
 * 2. prepare the inputs (job.ts: samples, a QC-only pass);
 * 3. the kinship phase (kinship-phase.ts: chunks leased to workers, partial sums stored and added in chunk
 *    order), or `--kinship FILE`;
 * 4. eigendecomposition, null model encoded and hashed, shards, resume from `PREFIX.shards/` (job.ts);
 * 5. serve the scan (server.ts) until every shard is done: leases, heartbeats, results; progress with SNPs/s
 *    and ETA;
 * 6. verify every shard file once more, merge them in genome order into `PREFIX.assoc.txt` (the same bytes as
 *    `gwasgrid mlm`) and write `PREFIX.log.txt`; tell the workers the job is done and stop the server.
 *
 * `--method cmlm` (a {@link CmlmCoordinatorConfig}): after step 1, cmlm-job.ts prepares the one scan job (filter,
 * kinship, compression search and choice on the coordinator; the n × rank scan model encoded and hashed), and
 * serves, verifies and merges it into the files of `gwasgrid cmlm`; stopping and telling the workers are as here.
 *
 * {@link RunningCoordinator.stop} (SIGTERM/SIGINT, see {@link stopOnSignals}): no more leases, workers are told
 * the coordinator is stopping (they exit 0), `PREFIX.shards/` is kept, no `PREFIX.assoc.txt` is written, and
 * `done` rejects with {@link CoordinatorStopped}; the same command with the same `--out` resumes.
 */
import { mlmLogText } from '../shared/methods/mlm.js';
import { readKinship } from '../shared/kinship/io.js';
import { KINSHIP_CHUNK_SNPS } from '../shared/kinship/kinship.js';
import { assocHeader } from '../shared/results/assoc.js';
import { lambdaFromAssoc } from '../shared/results/rows.js';
import { writeFileAtomic } from '../shared/io/atomic.js';
import type { GwasError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { CoordinatorServer } from '../shared/protocol/rpc.js';
import { parseHostPort } from '../shared/protocol/rpc.js';
import { serverCredentials, isTls } from '../shared/protocol/tls.js';
import type { Scheduler } from './scheduler.js';
import {
  prepareInputs,
  prepareKinshipJob,
  prepareScanJob,
  type CoordinatorConfig,
  type PhaseJob,
  type PreparedInputs,
  type PreparedJob,
} from './job.js';
import { foldKinship, serveKinship, type KinshipPhaseSummary } from './kinship-phase.js';
import { requeueDamaged } from './shard-store.js';
import { prepareCmlmJob, serveCmlmJob, type CmlmCoordinatorConfig, type PreparedCmlmJob } from './cmlm-job.js';
import {
  coordinatorService,
  preparingService,
  serve,
  shutdown,
  type GenotypeFeed,
  type ServiceContext,
  type Transfer,
} from './server.js';

export { DEFAULT_LEASE_TIMEOUT_MS, type CoordinatorConfig } from './job.js';

export interface CoordinatorSummary {
  assocPath: string;
  logPath: string;
  shards: number;
  skipped: number;
  scanSeconds: number;
  broadcasts: ServiceContext['broadcasts'];
  kinship: KinshipPhaseSummary | null;
}

export interface RunningCoordinator {
  /** HOST:PORT actually bound. */
  address: string;
  port: number;
  /** Settles when the job is merged and the server stopped (or failed, including while preparing). */
  done: Promise<CoordinatorSummary>;
  /** Stops serving and fails `done` with `err` (e.g. every embedded worker died). */
  abort(err: GwasError): void;
  /** Stops before the job is done, keeping `PREFIX.shards/` (SIGTERM/SIGINT): `done` rejects with {@link CoordinatorStopped}. */
  stop(signal: NodeJS.Signals): void;
}

/** Signal numbers for the 128 + n exit status of a stopped coordinator. */
const SIGNAL_NUMBER: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** The coordinator was stopped by a signal before the job was done; its exit status is 128 + signal number. */
export class CoordinatorStopped extends Error {
  readonly exitCode: number;
  constructor(
    readonly signal: NodeJS.Signals,
    /** Where the run stood, for the log line ("12 of 25 shards done"). */
    public progress = 'the job was being prepared',
  ) {
    super(`stopped by ${signal}`);
    this.name = 'CoordinatorStopped';
    this.exitCode = 128 + (SIGNAL_NUMBER[signal] ?? 15);
  }
}

/**
 * Binds the server and returns; the job is prepared, served and merged in `done`. A CMLM config (`cmlm`) runs
 * cmlm-job.ts's one phase (kinship and compression search on the coordinator, then the scan shards).
 */
export async function startCoordinator(cfg: CoordinatorConfig | CmlmCoordinatorConfig): Promise<RunningCoordinator> {
  const log = 'cmlm' in cfg ? cfg.cmlm.log : cfg.mlm.log;
  const t0 = performance.now();
  const heartbeatMs = Math.max(100, Math.round(cfg.leaseTimeoutMs / 3));
  let stopReason: string | null = null;
  const preparing = preparingService(Math.min(1000, heartbeatMs), () => stopReason);
  let service: CoordinatorServer = preparing;
  const { server, port } = await serve(() => service, cfg.listen, serverCredentials(cfg.tls), cfg.token, log);
  const address = `${parseHostPort(cfg.listen).host}:${port}`;
  log.info(
    `coordinator listening on ${address} (${isTls(cfg.tls) ? 'TLS' : 'plaintext'}, join token required)`,
    { event: 'listening', address, port },
  );

  let aborted: GwasError | CoordinatorStopped | null = null;
  let rejectStop: (e: Error) => void = () => {};
  const stopped = new Promise<never>((_, reject) => (rejectStop = reject));
  stopped.catch(() => {});
  /** The current phase's scheduler (kinship or scan), for stop/abort. */
  let sched: Scheduler | null = null;
  let phase: PhaseJob | null = null;
  /** `p`, unless the coordinator is stopped or aborted first (`p` may go on in the background; the process exits). */
  const unlessStopped = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => {});
    return Promise.race([p, stopped]);
  };

  const done = (async (): Promise<CoordinatorSummary> => {
    let inputs: PreparedInputs | null = null;
    let cmlmJob: PreparedCmlmJob | null = null;
    const transfers = {
      broadcasts: [] as Transfer[],
      kinship: [] as Transfer[],
      genotypes: [] as Transfer[],
    };
    const context = (job: PhaseJob, served: ServiceContext['job'], feed: GenotypeFeed): ServiceContext => ({
      job: served,
      scheduler: job.scheduler,
      store: job.store,
      log,
      heartbeatMs,
      leaseTimeoutMs: cfg.leaseTimeoutMs,
      longPollMs: heartbeatMs,
      broadcasts: transfers.broadcasts,
      kinshipTransfers: transfers.kinship,
      genotypes: feed,
      genotypeTransfers: transfers.genotypes,
    });
    try {
      if ('cmlm' in cfg) {
        const job = (cmlmJob = await unlessStopped(prepareCmlmJob(cfg)));
        phase = job;
        sched = job.scheduler;
        if (aborted) throw aborted;
        const ctx = context(job, { jobId: job.jobId, spec: job.spec, model: { bytes: job.bytes, sha256: job.sha256 } }, job.feed);
        service = coordinatorService(ctx);
        log.info('job ready: serving shards', { event: 'ready' });
        const summary = await serveCmlmJob(cfg, job, ctx, t0, () => aborted);
        await tellWorkers(job.scheduler, heartbeatMs);
        return summary;
      }
      inputs = await unlessStopped(prepareInputs(cfg));
      const feed: GenotypeFeed = { geno: inputs.geno, qc: inputs.qc, analysed: inputs.samples.analysed };
      const { timings } = inputs;
      let K: Float64Array;
      let kinship: KinshipPhaseSummary | null = null;
      if (cfg.mlm.kinship) {
        const t = performance.now();
        K = await unlessStopped(readKinship(cfg.mlm.kinship, inputs.geno.nSamples));
        timings.readKinship = (performance.now() - t) / 1000;
        log.info(`kinship read from ${cfg.mlm.kinship}`);
      } else {
        const kjob = await unlessStopped(prepareKinshipJob(cfg, inputs));
        phase = kjob;
        sched = kjob.scheduler;
        if (aborted) throw aborted;
        const ctx = context(
          kjob,
          { jobId: kjob.jobId, spec: kjob.spec, kinshipSamples: inputs.geno.nSamples },
          feed,
        );
        service = coordinatorService(ctx);
        log.info('kinship phase: serving kinship chunks', { event: 'kinship-ready' });
        kinship = await serveKinship(kjob, ctx, {
          log,
          leaseTimeoutMs: cfg.leaseTimeoutMs,
          aborted: () => aborted,
        });
        service = preparing;
        kjob.scheduler.retire('the kinship phase is over: join again for the scan');
        sched = null;
        const t = performance.now();
        K = await unlessStopped(foldKinship(kjob, inputs.geno.nSamples));
        timings.kinship = kinship.seconds + (performance.now() - t) / 1000;
        log.info(
          `kinship (--gk ${cfg.mlm.gk}) from ${kinship.snps} SNPs over ${inputs.geno.nSamples} samples: ${kinship.chunks} partial sums added in chunk order`,
        );
      }
      const job = await unlessStopped(prepareScanJob(cfg, inputs, K));
      phase = job;
      sched = job.scheduler;
      if (aborted) throw aborted;
      const ctx = context(
        job,
        { jobId: job.jobId, spec: job.spec, model: { bytes: job.bytes, sha256: job.sha256 } },
        feed,
      );
      service = coordinatorService(ctx);
      log.info('job ready: serving shards', { event: 'ready' });
      return await serveJob(cfg, inputs, job, ctx, kinship, t0, () => aborted);
    } catch (e) {
      const stop =
        (aborted as GwasError | CoordinatorStopped | null) instanceof CoordinatorStopped ? aborted : null;
      const err = stop ?? e;
      if (err instanceof CoordinatorStopped) {
        err.progress = phase
          ? `${phase.scheduler.done} of ${phase.scheduler.total} ${phase.spec.kinship ? 'kinship chunks' : 'shards'} done`
          : 'the job was being prepared';
      }
      if (sched) {
        if (!(err instanceof CoordinatorStopped)) sched.finish();
        await tellWorkers(sched, heartbeatMs);
      } else if (err instanceof CoordinatorStopped) {
        // Between phases (or preparing): Join answers "stopping"; give waiting workers a moment to hear it.
        await new Promise((r) => setTimeout(r, Math.min(1000, heartbeatMs) + 500));
      }
      throw err;
    } finally {
      await inputs?.geno.close();
      await cmlmJob?.geno.close();
      await shutdown(server);
    }
  })();
  return {
    address,
    port,
    done,
    abort(err) {
      if (aborted) return;
      aborted = err;
      sched?.finish();
      rejectStop(err);
    },
    stop(signal) {
      if (aborted) return;
      const err = new CoordinatorStopped(signal);
      aborted = err;
      stopReason = `${signal} on the coordinator`;
      sched?.stop(stopReason);
      rejectStop(err);
    },
  };
}

/**
 * SIGTERM/SIGINT stop the coordinator gracefully (see {@link RunningCoordinator.stop}); a second signal exits at
 * once. Returns a function that removes the handlers.
 */
export function stopOnSignals(coord: RunningCoordinator, log: Logger): () => void {
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++count > 1) {
      log.warn(`${sig} again: exiting now`);
      process.exit(new CoordinatorStopped(sig).exitCode);
    }
    log.warn(
      `${sig}: stopping — no more leases; telling the workers; keeping the finished shards (send ${sig} again to exit at once)`,
      { event: 'stopping', signal: sig },
    );
    coord.stop(sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}

/** The log line of a stopped coordinator: where it stood and how to resume; sets the exit status. */
export function reportStopped(e: CoordinatorStopped, out: string, log: Logger): void {
  log.warn(
    `stopped by ${e.signal} before the job was done (${e.progress}); finished work is kept in ${out}.shards/ and no ${out}.assoc.txt was written. ` +
      `To resume, run the same command again with the same --out ${out} (finished shards are verified and skipped) and start workers again.`,
    { event: 'stopped', signal: e.signal, exitCode: e.exitCode },
  );
  process.exitCode = e.exitCode;
}

/** Serves until every shard is done and verified, then merges, writes the log and tells the workers. */
async function serveJob(
  cfg: CoordinatorConfig,
  inputs: PreparedInputs,
  job: PreparedJob,
  ctx: ServiceContext,
  kinship: KinshipPhaseSummary | null,
  t0: number,
  aborted: () => GwasError | CoordinatorStopped | null,
): Promise<CoordinatorSummary> {
  const { mlm } = cfg;
  const { log } = ctx;
  const { scheduler: sched, store, shards } = job;
  const { qc, timings } = inputs;
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
      if ((await requeueDamaged(store, shards, sched, log)) === 0) break;
    }
    sched.finish();
    timings.scan = (performance.now() - tScan) / 1000;

    const t = performance.now();
    const assocPath = `${mlm.out}.assoc.txt`;
    await store.merge(assocHeader(mlm.lmm), shards, assocPath);
    timings.merge = (performance.now() - t) / 1000;
    const lambda = await lambdaFromAssoc(assocPath, mlm.lmm);
    log.info(
      `genomic inflation λGC = ${lambda.value.toFixed(4)} (median χ² of ${lambda.count} p-values / 0.4549364)`,
      { lambdaGc: lambda.value },
    );
    timings.total = (performance.now() - t0) / 1000;
    const logPath = `${mlm.out}.log.txt`;
    const rate = (list: Transfer[]) => {
      const bytes = list.reduce((a, b) => a + b.bytes, 0);
      const secs = list.reduce((a, b) => a + b.seconds, 0);
      return { mb: bytes / 1e6, mbps: secs > 0 ? bytes / 1e6 / secs : NaN };
    };
    const model = rate(ctx.broadcasts);
    const geno = rate(ctx.genotypeTransfers ?? []);
    const extra = [
      ...(kinship
        ? [
            `## Kinship = map-reduce over ${kinship.chunks} chunks of ${KINSHIP_CHUNK_SNPS} SNP indices (${kinship.skipped} resumed), ` +
              `${kinship.snps} SNPs; ${(kinship.bytes / 1e6).toFixed(1)} MB of partial sums received in a phase of ${kinship.seconds.toFixed(2)} s` +
              (kinship.transferSeconds > 0
                ? ` (${(kinship.bytes / 1e6 / kinship.seconds).toFixed(1)} MB/s over the phase, ${(kinship.bytes / 1e6 / kinship.transferSeconds).toFixed(1)} MB/s per transfer)`
                : ''),
          ]
        : []),
      `## Distributed = ${shards.length} shards of ${job.shardSize} SNP indices (${job.skipped} resumed from ${store.dir}), job ${job.jobId}`,
      `## Null model = ${(job.bytes.length / 1e6).toFixed(1)} MB, sha256 ${job.sha256}, sent ${ctx.broadcasts.length} times` +
        (Number.isFinite(model.mbps) ? ` at ${model.mbps.toFixed(1)} MB/s` : ''),
      ...((ctx.genotypeTransfers ?? []).length
        ? [
            `## Genotypes served = ${(ctx.genotypeTransfers ?? []).length} ranges, ${geno.mb.toFixed(1)} MB at ${geno.mbps.toFixed(1)} MB/s (--genotypes-from-coordinator workers)`,
          ]
        : []),
      ...(cfg.logLines ?? []),
      `## lambda GC = ${lambda.value.toFixed(6)}`,
    ];
    await writeFileAtomic(
      logPath,
      mlmLogText(mlm, inputs.geno, inputs.samples, qc, job.model, timings, extra),
    );
    if (!cfg.keepShards) await store.removeAll();
    log.info(`wrote ${assocPath} (${qc.counts.kept} SNPs) and ${logPath} in ${timings.total.toFixed(1)} s`);
    await tellWorkers(sched, ctx.heartbeatMs);
    return {
      assocPath,
      logPath,
      shards: shards.length,
      skipped: job.skipped,
      scanSeconds: timings.scan,
      broadcasts: ctx.broadcasts,
      kinship,
    };
  } finally {
    clearInterval(sweeper);
  }
}

/** Gives connected workers up to two heartbeats to hear that the job is done (or that the coordinator stops). */
async function tellWorkers(sched: Scheduler, heartbeatMs: number): Promise<void> {
  const until = Date.now() + 2 * heartbeatMs + 500;
  while (sched.untold() > 0 && Date.now() < until) await sched.changed(Math.min(200, until - Date.now()));
}
