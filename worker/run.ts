/**
 * The worker loop: join → (job spec, null model) → lease a shard → compute → submit → lease … until the
 * coordinator says the job is done.
 *
 * - Two kinds of job: the kinship phase (leases are kinship chunks; the result is a partial sum, SubmitKinship)
 *   and the scan (leases are SNP shards; the result is the output lines, SubmitShard). When the coordinator
 *   moves from one to the other it answers "join again"; the worker re-joins and gets the new job (its open
 *   files are reused when the inputs are the same).
 * - Heartbeats run every `heartbeat_interval_ms` while a lease is computed; a revoked lease (expired and handed
 *   to another worker, or done elsewhere) stops the computation and drops its result.
 * - A coordinator that is down is retried for `--timeout` (since the last successful call); then the worker
 *   fails with the reason. A coordinator that restarted does not know this worker: the worker joins again,
 *   keeps its open job and cached null model when the job is the same, and re-sends a finished result (the
 *   new coordinator accepts it if the shard is not done yet).
 * - A coordinator stopped by SIGTERM/SIGINT says so (lease, heartbeat, join replies): the worker drops its
 *   lease and exits 0 (`stopped: true`); the coordinator resumes from its `PREFIX.shards/` when restarted.
 * - A shard that cannot be computed here (unreadable input, disagreement with the coordinator) is reported to
 *   the coordinator, which hands it to another worker, and the worker exits with that error.
 */
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { NullModel } from '../shared/lmm/null.js';
import { DistributedError, GwasError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { PROTOCOL_VERSION, pb } from '../shared/protocol/rpc.js';
import { LeaseInvalid, RejoinRequired } from '../shared/protocol/status.js';
import { fromJobSpec } from '../shared/protocol/job.js';
import { decodeGenotypes } from '../shared/protocol/genotypes-codec.js';
import type { TlsFlags } from '../shared/protocol/tls.js';
import { Connection, sleep } from './connection.js';
import { NullModelCache, WorkerJob, type FetchRange } from './job.js';
import { ShardRevoked, computeCmlmShard, computeKinship, computeShard } from './shard.js';
import type { CmlmScanModel } from '../shared/protocol/cmlm-model-codec.js';

export interface WorkerConfig {
  coordinator: string;
  token: string;
  tls: TlsFlags;
  /** Give up after the coordinator has been unreachable this long. */
  timeoutMs: number;
  threads: number;
  name?: string;
  log: Logger;
  /** Receive each leased range's genotypes (and QC, metadata, samples) from the coordinator: no shared filesystem. */
  genotypesFromCoordinator?: boolean;
  /** Aborting stops after the current step and leaves (SIGTERM). */
  signal?: AbortSignal;
}

/** The coordinator runs a job whose rounds go over NATS (FarmCPU, GLM): the caller switches to worker/farm.ts. */
export class NatsJobOffer extends Error {
  /** `workerId`: this worker's id at the coordinator (its final rows go back over gRPC under it). */
  constructor(
    readonly spec: pb.JobSpec,
    readonly workerId = '',
  ) {
    super(`the coordinator runs a ${spec.method} job over NATS`);
  }
}

export interface WorkerSummary {
  /** Results accepted from this worker (shards and kinship chunks). */
  shards: number;
  /** The coordinator stopped before the job was done (SIGTERM/SIGINT on its side). */
  stopped: boolean;
}

interface Session {
  workerId: string;
  heartbeatMs: number;
}

/** The coordinator says it is stopping: unwinds to the main loop. */
class CoordinatorStopping extends Error {}

const version = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Prefixes every line with `worker NAME/ID:` so that interleaved logs (embedded mode) stay readable. */
function tagged(base: Logger, tag: () => string): Logger {
  return {
    info: (m, f) => base.info(`${tag()}: ${m}`, f),
    warn: (m, f) => base.warn(`${tag()}: ${m}`, f),
    progress: (stage, done, total, f) => base.progress(`${tag()}: ${stage}`, done, total, f),
  };
}

export async function runWorker(cfg: WorkerConfig): Promise<WorkerSummary> {
  let workerId = '';
  const log = tagged(cfg.log, () => `worker ${[cfg.name, workerId].filter(Boolean).join('/') || process.pid}`);
  const conn = new Connection(cfg.coordinator, cfg.token, cfg.tls, cfg.timeoutMs, log, cfg.signal);
  const models = new NullModelCache();
  /** Mutable state shared by the closures below. */
  const st: {
    session: Session | null;
    job: WorkerJob | null;
    model: NullModel | null;
    cmlmModel: CmlmScanModel | null;
    accepted: number;
    jobDone: boolean;
    stopping: string | null;
  } = {
    session: null,
    job: null,
    model: null,
    cmlmModel: null,
    accepted: 0,
    jobDone: false,
    stopping: null,
  };
  const stopping = (reason: string) => {
    st.stopping ??= reason || 'the coordinator is stopping';
  };

  const join = async (): Promise<Session> => {
    let reply: pb.JoinReply;
    for (let told = false; ; told = true) {
      reply = await conn.retry(() =>
        conn.unary<pb.JoinRequest, pb.JoinReply>('join', {
          protocolVersion: PROTOCOL_VERSION,
          info: { host: hostname(), pid: process.pid, threads: cfg.threads, version, name: cfg.name ?? '' },
        }),
      );
      if (reply.coordinatorStopping) {
        stopping('the coordinator is stopping');
        throw new CoordinatorStopping();
      }
      if (reply.job) break;
      if (cfg.signal?.aborted) throw new DistributedError('UNAVAILABLE', 'stopped while the coordinator was preparing the job');
      if (!told) log.info(`${conn.peer} is preparing the job; waiting`, { event: 'waiting' });
      await sleep(reply.retryAfterMs || 1000);
    }
    if (reply.job.method !== 'mlm' && reply.job.nats) throw new NatsJobOffer(reply.job, reply.workerId);
    const { id, job: spec } = fromJobSpec(reply.job);
    if (st.job?.id !== id) {
      const previous = st.job;
      st.job = null;
      try {
        st.job = await WorkerJob.open(id, spec, log, { remote: !!cfg.genotypesFromCoordinator, previous });
      } finally {
        await previous?.close();
      }
    }
    st.model = spec.nullModel && spec.method === 'mlm' ? await models.get(conn, reply.workerId, spec, log) : null;
    st.cmlmModel = spec.method === 'cmlm' ? await models.getCmlm(conn, reply.workerId, spec, log) : null;
    workerId = reply.workerId;
    log.info(`joined ${conn.peer} as worker ${reply.workerId} (${cfg.threads} thread(s))${spec.kinship ? ' for the kinship phase' : ''}`, {
      event: 'session',
      worker: reply.workerId,
      phase: spec.kinship ? 'kinship' : 'scan',
    });
    return { workerId: reply.workerId, heartbeatMs: reply.heartbeatIntervalMs };
  };

  /** Runs `fn` with a session, joining (again) when there is none or the coordinator forgot this worker. */
  const withSession = async <T>(fn: (s: Session) => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        st.session ??= await join();
        return await fn(st.session);
      } catch (e) {
        if (!(e instanceof RejoinRequired)) throw e;
        log.info(`${e.message} (the coordinator restarted or changed job)`);
        st.session = null;
      }
    }
  };

  /** One lease: heartbeats while computing, then the result submitted (re-joining if needed). */
  const runLease = async (s: Session, shard: pb.Shard): Promise<void> => {
    const forJob = st.job!;
    const kinship = !!forJob.spec.kinship;
    log.info(`${kinship ? 'kinship' : 'scanning'} ${shard.name} [${shard.start}, ${shard.end}), ${shard.expectedSnps} SNPs (lease ${shard.leaseId})`, {
      event: kinship ? 'kinship' : 'scan',
      shard: shard.name,
    });
    let revoked = false;
    let snpsDone = 0;
    const beat = setInterval(() => {
      conn
        .unary<pb.HeartbeatRequest, pb.HeartbeatReply>('heartbeat', { workerId: s.workerId, leaseIds: [shard.leaseId], snpsDone }, s.heartbeatMs * 2)
        .then((r) => {
          if (r.coordinatorStopping) stopping('the coordinator is stopping');
          if (r.revoked.length && !revoked && !r.coordinatorStopping) log.info(`lease ${shard.leaseId} revoked by the coordinator; dropping ${shard.name}`);
          if (r.revoked.length) revoked = true;
          if (r.jobDone) st.jobDone = revoked = true;
        })
        .catch(() => {
          // Unreachable or restarted coordinator: keep computing, the submission retries and re-joins.
        });
    }, s.heartbeatMs);
    const isRevoked = () => revoked || !!cfg.signal?.aborted;
    const fetch: FetchRange = async () => {
      const r = await conn.retry(() => conn.fetchGenotypes({ workerId: s.workerId, jobId: forJob.id, leaseId: shard.leaseId }));
      log.info(`genotypes of ${shard.name} received: ${(r.rows.length / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(2)} s`, { event: 'genotypes', shard: shard.name, bytes: r.rows.length });
      return decodeGenotypes(r.header, r.rows, forJob.spec.totalSnps, `${conn.peer} ${shard.name}`);
    };
    let result: { data: Buffer; count: number; seconds: number };
    try {
      if (kinship) {
        const k = await computeKinship(forJob, shard, { revoked: isRevoked, fetch });
        result = { data: k.data, count: k.snps, seconds: k.seconds };
      } else if (forJob.spec.method === 'cmlm') {
        const r = await computeCmlmShard(forJob, st.cmlmModel!, shard, { revoked: isRevoked, onProgress: (d) => (snpsDone = d), fetch });
        result = { data: r.data, count: r.lines, seconds: r.seconds };
      } else {
        const r = await computeShard(forJob, st.model!, shard, { threads: cfg.threads, revoked: isRevoked, onProgress: (d) => (snpsDone = d), fetch });
        result = { data: r.data, count: r.lines, seconds: r.seconds };
      }
    } catch (e) {
      if (e instanceof ShardRevoked || e instanceof LeaseInvalid) return;
      if (e instanceof RejoinRequired) throw e;
      const err = e instanceof GwasError ? e : new GwasError('INTERNAL', (e as Error)?.stack ?? String(e));
      await conn
        .unary('reportFailure', { workerId: s.workerId, leaseId: shard.leaseId, code: err.code, message: err.message, retryable: err.retryable }, 5000)
        .catch(() => {});
      throw e;
    } finally {
      clearInterval(beat);
    }
    if (st.stopping) return; // the coordinator is going away: do not wait for it
    const sha256 = createHash('sha256').update(result.data).digest('hex');
    const reply = await withSession(async (cur) => {
      if (st.job?.id !== forJob.id) return null; // the coordinator now runs another job: this result is of no use
      const head = { workerId: cur.workerId, jobId: forJob.id, leaseId: shard.leaseId, index: shard.index, start: shard.start, end: shard.end };
      return conn.retry(() =>
        kinship
          ? conn.submitKinship({ ...head, samples: forJob.kinshipN }, result.data, { snps: result.count, sha256, seconds: result.seconds })
          : conn.submitShard(head, result.data, { lineCount: result.count, sha256, scanSeconds: result.seconds }),
      );
    });
    if (!reply) return;
    if (reply.outcome === pb.SubmitReply_Outcome.ACCEPTED) {
      st.accepted++;
      log.info(`${shard.name} done: ${result.count} SNPs in ${result.seconds.toFixed(2)} s`, { event: 'submitted', shard: shard.name });
    } else log.info(`${shard.name} was already done by another worker; result dropped`, { event: 'duplicate', shard: shard.name });
    if (reply.jobDone) st.jobDone = true;
    if (reply.coordinatorStopping) stopping('the coordinator is stopping');
  };

  try {
    while (!st.jobDone && !st.stopping && !cfg.signal?.aborted) {
      try {
        await withSession(async (s) => {
          const r = await conn.retry(() =>
            conn.unary<pb.LeaseRequest, pb.LeaseReply>('lease', { workerId: s.workerId, jobId: st.job!.id }, s.heartbeatMs + 30_000),
          );
          if (r.done) st.jobDone = true;
          else if (r.stopping) stopping(r.stopping.reason);
          else if (r.shard) await runLease(s, r.shard);
          else if (r.wait?.retryAfterMs) await sleep(r.wait.retryAfterMs);
        });
      } catch (e) {
        if (!(e instanceof CoordinatorStopping)) throw e;
      }
    }
    if (st.jobDone) log.info(`the coordinator says the job is done (${st.accepted} results accepted from this worker); exiting`, { event: 'done' });
    else if (st.stopping) {
      log.info(
        `${st.stopping} before the job is done (${st.accepted} results accepted from this worker); exiting. ` +
          'Restarted with the same --out, the coordinator resumes from its finished shards: start workers again then.',
        { event: 'coordinator-stopped' },
      );
    } else if (st.session) {
      await conn.unary('leave', { workerId: st.session.workerId }, 2000).catch(() => {});
      log.info('left the job');
    }
    return { shards: st.accepted, stopped: !!st.stopping && !st.jobDone };
  } finally {
    await st.job?.close();
    conn.close();
  }
}
