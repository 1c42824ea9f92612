/**
 * A distributed MLM run, coordinator side:
 * 1. listen at once (workers may start with the coordinator: while the job is prepared, Join asks them to come
 *    back, which counts as contact, not as an outage; a busy port fails before any work);
 * 2. prepare the inputs (job.ts: sample QC with --mind, the samples of every trait, a QC-only pass);
 * 3. the kinship phase (kinship-phase.ts: chunks leased to workers, partial sums stored and added in chunk
 *    order) — one per distinct set of QC-passing SNPs when several traits select different ones — or
 *    `--kinship FILE`;
 * 4. per group of traits with the same analysed samples, the eigendecomposition; per trait, the null model
 *    encoded and hashed, shards, resume from `BASE.shards/` (job.ts);
 * 5. serve the trait's scan (server.ts) until every shard is done: leases, heartbeats, results; progress with
 *    SNPs/s and ETA; workers are then told to join again for the next trait, or that the job is done;
 * 6. verify every shard file once more and write the trait's files in genome order (outputs.ts: `BASE.assoc.txt`
 *    and the other --format files, the same bytes as `gwasgrid mlm`) and `BASE.log.txt`;
 * 7. after the last trait, tell the workers the job is done and stop the server.
 * BASE is PREFIX for one trait, PREFIX.<trait> for each of several (`--pheno-col 1,2`, `--pheno-name A,B`).
 *
 * `--method cmlm` (a {@link CmlmCoordinatorConfig}): after step 1, cmlm-job.ts prepares the one scan job (filter,
 * kinship, compression search and choice on the coordinator; the n × rank scan model encoded and hashed), and
 * serves, verifies and merges it into the files of `gwasgrid cmlm`; stopping and telling the workers are as here.
 *
 * {@link RunningCoordinator.stop} (SIGTERM/SIGINT, see {@link stopOnSignals}): no more leases, workers are told
 * the coordinator is stopping (they exit 0), `BASE.shards/` is kept, no result file of the unfinished trait is
 * written, and `done` rejects with {@link CoordinatorStopped}; the same command with the same `--out` resumes
 * (finished traits are merged again from their kept shards). */
import { analysedEigen, fitTrait, kinshipPositions, mlmLogText } from '../shared/methods/mlm.js';
import type { EigenInput } from '../shared/lmm/null.js';
import { readKinship } from '../shared/kinship/io.js';
import { KINSHIP_CHUNK_SNPS } from '../shared/kinship/kinship.js';
import { writeFileAtomic } from '../shared/io/atomic.js';
import type { GwasError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { CoordinatorServer } from '../shared/protocol/rpc.js';
import { parseHostPort } from '../shared/protocol/rpc.js';
import { serverCredentials, isTls } from '../shared/protocol/tls.js';
import type { Scheduler } from './scheduler.js';
import {
  kinshipCount,
  kinshipTrait,
  prepareInputs,
  prepareKinshipJob,
  prepareScanJob,
  type CoordinatorConfig,
  type PhaseJob,
  type PreparedInputs,
  type PreparedJob,
  type TraitInputs,
} from './job.js';
import { foldKinship, serveKinship, type KinshipPhaseSummary } from './kinship-phase.js';
import { ShardStore } from './shard-store.js';
import { scanProgress, untilVerified } from './serve-loop.js';
import { writeTraitOutputs } from './outputs.js';
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

/** One trait's scan and result files. */
export interface TraitSummary {
  /** The trait's name (header name, or fam column N). */
  trait: string;
  /** The GEMMA .assoc.txt ('' when --format leaves gemma out). */
  assocPath: string;
  /** Every result file written (each --format). */
  outputs: string[];
  logPath: string;
  lambdaGc: number;
  shards: number;
  skipped: number;
  scanSeconds: number;
}

/** The run: the first (or only) trait's figures, every trait's, the broadcasts and the (first) kinship phase. */
export interface CoordinatorSummary extends TraitSummary {
  broadcasts: ServiceContext['broadcasts'];
  kinship: KinshipPhaseSummary | null;
  /** Every trait, in the order of the command line. */
  traits: TraitSummary[];
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
  /** Where the finished work is kept, when not in PREFIX.shards/ (several traits: PREFIX.<trait>.shards/). */
  kept: string | null = null;
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
  /** What the current phase is for, in a multi-trait run ('' otherwise), for the stop message. */
  let phaseWhat = '';
  /** The eigendecomposition of the current group of traits (same analysed samples) and its seconds. */
  let eig: EigenInput | null = null;
  let eigenSeconds = 0;
  /** `p`, unless the coordinator is stopped or aborted first (`p` may go on in the background; the process exits). */
  const unlessStopped = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => {});
    return Promise.race([p, stopped]);
  };

  const done = (async (): Promise<CoordinatorSummary> => {
    let inputs: PreparedInputs | null = null;
    let cmlmJob: PreparedCmlmJob | null = null;
    /** Transfers of one phase (each phase has its own lists, so its figures are its own). */
    interface PhaseTransfers {
      broadcasts: Transfer[];
      kinship: Transfer[];
      genotypes: Transfer[];
    }
    const fresh = (): PhaseTransfers => ({ broadcasts: [], kinship: [], genotypes: [] });
    const allBroadcasts: Transfer[] = [];
    const context = (
      job: PhaseJob,
      served: ServiceContext['job'],
      feed: GenotypeFeed,
      transfers: PhaseTransfers,
    ): ServiceContext => ({
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
    /** A phase is over: workers are asked to join again (they wait while the next phase is prepared). */
    const endPhase = (s: Scheduler, why: string) => {
      service = preparing;
      s.retire(why);
      sched = null;
    };
    /** Serves phase `job` from now on (its scheduler is the one stop/abort act on). */
    const startPhase = (
      job: PhaseJob,
      served: ServiceContext['job'],
      feed: GenotypeFeed,
      transfers: PhaseTransfers,
      what: string,
    ) => {
      phase = job;
      phaseWhat = what;
      sched = job.scheduler;
      if (aborted) throw aborted;
      const ctx = context(job, served, feed, transfers);
      service = coordinatorService(ctx);
      return ctx;
    };
    try {
      if ('cmlm' in cfg) {
        const job = (cmlmJob = await unlessStopped(prepareCmlmJob(cfg)));
        phase = job;
        sched = job.scheduler;
        if (aborted) throw aborted;
        const ctx = context(job, { jobId: job.jobId, spec: job.spec, model: { bytes: job.bytes, sha256: job.sha256 } }, job.feed, fresh());
        service = coordinatorService(ctx);
        log.info('job ready: serving shards', { event: 'ready' });
        const summary = await serveCmlmJob(cfg, job, ctx, t0, () => aborted);
        await tellWorkers(job.scheduler, heartbeatMs);
        return summary;
      }
      inputs = await unlessStopped(prepareInputs(cfg));
      const ready = inputs;
      const feedOf = (t: TraitInputs): GenotypeFeed => ({ geno: ready.geno, qc: t.qc, analysed: t.samples.analysed });
      const { timings } = inputs;

      // The kinship: a file over every genotype sample, or one kinship phase per distinct set of QC-passing SNPs
      // (one for a single trait) over the samples kept by --mind.
      let fileK: Float64Array | null = null;
      const kinships: Array<{
        K: Float64Array;
        summary: KinshipPhaseSummary;
        seconds: number;
        /** Genotype ranges served in the phase (--genotypes-from-coordinator workers). */
        genotypes: Transfer[];
      }> = [];
      if (cfg.mlm.kinship) {
        const t = performance.now();
        fileK = await unlessStopped(readKinship(cfg.mlm.kinship, inputs.geno.nSamples));
        timings.readKinship = (performance.now() - t) / 1000;
        log.info(`kinship read from ${cfg.mlm.kinship}`);
      }
      for (let k = 0; k < kinshipCount(cfg, inputs); k++) {
        const kjob = await unlessStopped(prepareKinshipJob(cfg, inputs, k));
        const rep = kinshipTrait(inputs, k);
        const transfers = fresh();
        const ctx = startPhase(
          kjob,
          { jobId: kjob.jobId, spec: kjob.spec, kinshipSamples: inputs.kinN },
          feedOf(rep),
          transfers,
          inputs.multi ? `the kinship of ${rep.samples.traitName}` : '',
        );
        log.info('kinship phase: serving kinship chunks', { event: 'kinship-ready' });
        const summary = await serveKinship(kjob, ctx, {
          log,
          leaseTimeoutMs: cfg.leaseTimeoutMs,
          aborted: () => aborted,
          label: inputs.multi ? `kinship phase ${k + 1} (chunks)` : undefined,
        });
        endPhase(kjob.scheduler, 'the kinship phase is over: join again for the scan');
        const t = performance.now();
        const K = await unlessStopped(foldKinship(kjob, inputs.kinN));
        const seconds = summary.seconds + (performance.now() - t) / 1000;
        log.info(
          `kinship (--gk ${cfg.mlm.gk}) from ${summary.snps} SNPs over ${inputs.kinN} samples: ${summary.chunks} partial sums added in chunk order`,
        );
        kinships.push({ K, summary, seconds, genotypes: transfers.genotypes });
      }

      // Per group of traits with the same analysed samples: one eigendecomposition; per trait: its null model
      // and its scan job, then its result files (the order of gwasgrid mlm).
      const order = [...new Set(inputs.traits.map((t) => t.group))].flatMap((g) => ready.traits.filter((t) => t.group === g));
      const results = new Map<TraitInputs, TraitSummary>();
      let lastSched: Scheduler | null = null;
      for (const trait of order) {
        const first = order.find((t) => t.group === trait.group) === trait;
        const kin = fileK ? null : kinships[trait.kinship];
        const groupTimings: Record<string, number> = { ...timings, ...(kin ? { kinship: kin.seconds } : {}) };
        if (first) {
          eig = await unlessStopped(
            analysedEigen(
              fileK ?? kin!.K,
              fileK ? inputs.geno.nSamples : inputs.kinN,
              kinshipPositions(trait.samples.analysed, fileK ? null : inputs.kinSamples),
              cfg.mlm.backend,
              log,
              groupTimings,
            ),
          );
          eigenSeconds = groupTimings.eigen;
        } else groupTimings.eigen = eigenSeconds;
        const traitTimings = { ...groupTimings };
        const model = await unlessStopped(fitTrait(eig!, trait.samples, cfg.mlm.backend, log, traitTimings));
        const job = await unlessStopped(prepareScanJob(cfg, inputs, trait, model, traitTimings));
        const transfers = fresh();
        const ctx = startPhase(
          job,
          { jobId: job.jobId, spec: job.spec, model: { bytes: job.bytes, sha256: job.sha256 } },
          feedOf(trait),
          transfers,
          inputs.multi ? trait.samples.traitName : '',
        );
        log.info(`job ready: serving shards${inputs.multi ? ` of ${trait.samples.traitName}` : ''}`, { event: 'ready' });
        const last = trait === order[order.length - 1];
        results.set(
          trait,
          await serveJob(cfg, inputs, trait, job, ctx, kin, traitTimings, t0, () => aborted, (s) =>
            last ? s.finish() : endPhase(s, `the scan of ${trait.samples.traitName} is over: join again for the next trait`),
          ),
        );
        allBroadcasts.push(...transfers.broadcasts);
        lastSched = job.scheduler;
      }
      if (!cfg.keepShards) for (const t of inputs.traits) await new ShardStore(t.base).removeAll();
      const traits = inputs.traits.map((t) => results.get(t)!);
      if (inputs.multi) log.info(`λGC per trait: ${traits.map((r) => `${r.trait} ${r.lambdaGc.toFixed(4)}`).join(', ')}`);
      if (lastSched) await tellWorkers(lastSched, heartbeatMs);
      return {
        ...traits[0],
        broadcasts: allBroadcasts,
        kinship: kinships[0]?.summary ?? null,
        traits,
      };
    } catch (e) {
      const stop =
        (aborted as GwasError | CoordinatorStopped | null) instanceof CoordinatorStopped ? aborted : null;
      const err = stop ?? e;
      // Set by startPhase/endPhase (closures: the compiler cannot see it).
      const ph = phase as PhaseJob | null;
      const current = sched as Scheduler | null;
      if (err instanceof CoordinatorStopped) {
        err.progress = ph
          ? `${ph.scheduler.done} of ${ph.scheduler.total} ${ph.spec.kinship ? 'kinship chunks' : 'shards'} done${phaseWhat ? ` for ${phaseWhat}` : ''}`
          : 'the job was being prepared';
        if (inputs?.multi && 'mlm' in cfg) err.kept = `${cfg.mlm.out}.<trait>.shards/`;
      }
      if (current) {
        if (!(err instanceof CoordinatorStopped)) current.finish();
        await tellWorkers(current, heartbeatMs);
      }
      if (err instanceof CoordinatorStopped) {
        // Workers waiting to join (preparing, or between two phases: they have not joined the current one yet)
        // poll Join, which now answers "stopping"; give them one polling interval to hear it.
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
    `stopped by ${e.signal} before the job was done (${e.progress}); finished work is kept in ${e.kept ?? `${out}.shards/`} and ` +
      `${e.kept ? 'no result file of an unfinished trait' : `no ${out}.assoc.txt`} was written. ` +
      `To resume, run the same command again with the same --out ${out} (finished shards are verified and skipped) and start workers again.`,
    { event: 'stopped', signal: e.signal, exitCode: e.exitCode },
  );
  process.exitCode = e.exitCode;
}

/**
 * Serves one trait's scan until every shard is done and verified; `over` then ends the phase (the last trait:
 * the job is done; otherwise workers join again for the next trait); writes the trait's result files and its
 * `.log.txt`.
 */
async function serveJob(
  cfg: CoordinatorConfig,
  inputs: PreparedInputs,
  trait: TraitInputs,
  job: PreparedJob,
  ctx: ServiceContext,
  kin: { summary: KinshipPhaseSummary; genotypes: Transfer[] } | null,
  timings: Record<string, number>,
  t0: number,
  aborted: () => GwasError | CoordinatorStopped | null,
  over: (sched: Scheduler) => void,
): Promise<TraitSummary> {
  const { mlm } = cfg;
  const { log } = ctx;
  const { scheduler: sched, store, shards } = job;
  const { qc, samples } = trait;
  const tScan = performance.now();
  const stage = inputs.multi ? `distributed scan ${samples.traitName} (shards)` : 'distributed scan (shards)';
  await untilVerified(job, {
    log,
    leaseTimeoutMs: cfg.leaseTimeoutMs,
    aborted,
    report: scanProgress(sched, log, stage, qc.counts.kept),
  });
  over(sched);
  timings.scan = (performance.now() - tScan) / 1000;

  const t = performance.now();
  const out = await writeTraitOutputs({
    store,
    shards,
    base: trait.base,
    formats: mlm.formats ?? ['gemma'],
    lmm: mlm.lmm,
    geno: inputs.geno,
    samples,
    qc,
  });
  timings.merge = (performance.now() - t) / 1000;
  const lambda = out.lambda;
  log.info(
    `genomic inflation λGC${inputs.multi ? ` of ${samples.traitName}` : ''} = ${lambda.value.toFixed(4)} (median χ² of ${lambda.count} p-values / 0.4549364)`,
    { lambdaGc: lambda.value },
  );
  timings.total = (performance.now() - t0) / 1000;
  const logPath = `${trait.base}.log.txt`;
  const rate = (list: Transfer[]) => {
    const bytes = list.reduce((a, b) => a + b.bytes, 0);
    const secs = list.reduce((a, b) => a + b.seconds, 0);
    return { mb: bytes / 1e6, mbps: secs > 0 ? bytes / 1e6 / secs : NaN };
  };
  const model = rate(ctx.broadcasts);
  const kinship = kin?.summary ?? null;
  // Genotype ranges served for this trait's results: in its kinship phase and in its scan.
  const served = [...(kin?.genotypes ?? []), ...(ctx.genotypeTransfers ?? [])];
  const geno = rate(served);
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
    ...(served.length
      ? [
          `## Genotypes served = ${served.length} ranges, ${geno.mb.toFixed(1)} MB at ${geno.mbps.toFixed(1)} MB/s (--genotypes-from-coordinator workers)`,
        ]
      : []),
    ...(cfg.logLines ?? []),
    `## lambda GC = ${lambda.value.toFixed(6)}`,
  ];
  await writeFileAtomic(logPath, mlmLogText(mlm, inputs.geno, samples, qc, job.model, timings, extra));
  log.info(`wrote ${out.outputs.join(', ')} (${qc.counts.kept} SNPs) and ${logPath} in ${timings.total.toFixed(1)} s`);
  return {
    trait: samples.traitName,
    assocPath: out.assocPath,
    outputs: out.outputs,
    logPath,
    lambdaGc: lambda.value,
    shards: shards.length,
    skipped: job.skipped,
    scanSeconds: timings.scan,
  };
}
/** Gives connected workers up to two heartbeats to hear that the job is done (or that the coordinator stops). */
async function tellWorkers(sched: Scheduler, heartbeatMs: number): Promise<void> {
  const until = Date.now() + 2 * heartbeatMs + 500;
  while (sched.untold() > 0 && Date.now() < until) await sched.changed(Math.min(200, until - Date.now()));
}
