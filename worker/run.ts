/**
 * The worker loop: join → (job spec, null model) → lease a shard → compute → submit → lease … until the
 * coordinator says the job is done.
 *
 * - Heartbeats run every `heartbeat_interval_ms` while a shard is computed; a revoked lease (expired and handed
 *   to another worker, or done elsewhere) stops the scan and drops its result.
 * - A coordinator that is down is retried for `--timeout` (since the last successful call); then the worker
 *   fails with the reason. A coordinator that restarted does not know this worker: the worker joins again,
 *   keeps its open job and cached null model when the job is the same, and re-sends a finished result (the
 *   new coordinator accepts it if the shard is not done yet).
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
import { RejoinRequired } from '../shared/protocol/status.js';
import { fromJobSpec } from '../shared/protocol/job.js';
import type { TlsFlags } from '../shared/protocol/tls.js';
import { Connection, sleep } from './connection.js';
import { NullModelCache, WorkerJob } from './job.js';
import { ShardRevoked, computeShard } from './shard.js';

export interface WorkerConfig {
  coordinator: string;
  token: string;
  tls: TlsFlags;
  /** Give up after the coordinator has been unreachable this long. */
  timeoutMs: number;
  threads: number;
  name?: string;
  log: Logger;
  /** Aborting stops after the current step and leaves (SIGTERM). */
  signal?: AbortSignal;
}

/** The coordinator runs a job whose rounds go over NATS (FarmCPU, GLM): the caller switches to worker/farm.ts. */
export class NatsJobOffer extends Error {
  constructor(readonly spec: pb.JobSpec) {
    super(`the coordinator runs a ${spec.method} job over NATS`);
  }
}

interface Session {
  workerId: string;
  heartbeatMs: number;
}

const version = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Prefixes every line with `worker NAME/ID:` so that interleaved logs (embedded mode) stay readable. */
function tagged(base: Logger, tag: () => string): Logger {
  return {
    info: (m, f) => base.info(`${tag()}: ${m}`, f),
    warn: (m, f) => base.warn(`${tag()}: ${m}`, f),
    progress: (stage, done, total, f) => base.progress(`${tag()}: ${stage}`, done, total, f),
  };
}

export async function runWorker(cfg: WorkerConfig): Promise<{ shards: number }> {
  let workerId = '';
  const log = tagged(cfg.log, () => `worker ${[cfg.name, workerId].filter(Boolean).join('/') || process.pid}`);
  const conn = new Connection(cfg.coordinator, cfg.token, cfg.tls, cfg.timeoutMs, log, cfg.signal);
  const models = new NullModelCache();
  /** Mutable state shared by the closures below. */
  const st: { session: Session | null; job: WorkerJob | null; model: NullModel | null; accepted: number; jobDone: boolean } = {
    session: null,
    job: null,
    model: null,
    accepted: 0,
    jobDone: false,
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
      if (reply.job) break;
      if (cfg.signal?.aborted) throw new DistributedError('UNAVAILABLE', 'stopped while the coordinator was preparing the job');
      if (!told) log.info(`${conn.peer} is preparing the job; waiting`, { event: 'waiting' });
      await sleep(reply.retryAfterMs || 1000);
    }
    if (reply.job.method !== 'mlm' && reply.job.nats) throw new NatsJobOffer(reply.job);
    const { id, job: spec } = fromJobSpec(reply.job);
    if (st.job?.id !== id) {
      await st.job?.close();
      st.job = null;
      st.job = await WorkerJob.open(id, spec, log);
    }
    st.model = await models.get(conn, reply.workerId, spec, log);
    workerId = reply.workerId;
    log.info(`joined ${conn.peer} as worker ${reply.workerId} (${cfg.threads} thread(s))`, { event: 'session', worker: reply.workerId });
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

  const runShard = async (s: Session, shard: pb.Shard): Promise<void> => {
    const forJob = st.job!;
    log.info(`scanning ${shard.name} [${shard.start}, ${shard.end}), ${shard.expectedSnps} SNPs (lease ${shard.leaseId})`, {
      event: 'scan',
      shard: shard.name,
    });
    let revoked = false;
    let snpsDone = 0;
    const beat = setInterval(() => {
      conn
        .unary<pb.HeartbeatRequest, pb.HeartbeatReply>('heartbeat', { workerId: s.workerId, leaseIds: [shard.leaseId], snpsDone }, s.heartbeatMs * 2)
        .then((r) => {
          if (r.revoked.length && !revoked) log.info(`lease ${shard.leaseId} revoked by the coordinator; dropping ${shard.name}`);
          if (r.revoked.length) revoked = true;
          if (r.jobDone) st.jobDone = revoked = true;
        })
        .catch(() => {
          // Unreachable or restarted coordinator: keep computing, the submission retries and re-joins.
        });
    }, s.heartbeatMs);
    let result: Awaited<ReturnType<typeof computeShard>>;
    try {
      result = await computeShard(forJob, st.model!, shard, {
        threads: cfg.threads,
        revoked: () => revoked || !!cfg.signal?.aborted,
        onProgress: (d) => (snpsDone = d),
      });
    } catch (e) {
      if (e instanceof ShardRevoked) return;
      const err = e instanceof GwasError ? e : new GwasError('INTERNAL', (e as Error)?.stack ?? String(e));
      await conn
        .unary('reportFailure', { workerId: s.workerId, leaseId: shard.leaseId, code: err.code, message: err.message, retryable: err.retryable }, 5000)
        .catch(() => {});
      throw e;
    } finally {
      clearInterval(beat);
    }
    const sha256 = createHash('sha256').update(result.data).digest('hex');
    const trailer = { lineCount: result.lines, sha256, scanSeconds: result.seconds };
    const reply = await withSession(async (cur) => {
      if (st.job?.id !== forJob.id) return null; // the coordinator now runs another job: this result is of no use
      const header = { workerId: cur.workerId, jobId: forJob.id, leaseId: shard.leaseId, index: shard.index, start: shard.start, end: shard.end };
      return conn.retry(() => conn.submitShard(header, result.data, trailer));
    });
    if (!reply) return;
    if (reply.outcome === pb.SubmitReply_Outcome.ACCEPTED) {
      st.accepted++;
      log.info(`${shard.name} done: ${result.lines} SNPs in ${result.seconds.toFixed(2)} s`, { event: 'submitted', shard: shard.name });
    } else log.info(`${shard.name} was already done by another worker; result dropped`, { event: 'duplicate', shard: shard.name });
    if (reply.jobDone) st.jobDone = true;
  };

  try {
    while (!st.jobDone && !cfg.signal?.aborted) {
      await withSession(async (s) => {
        const r = await conn.retry(() =>
          conn.unary<pb.LeaseRequest, pb.LeaseReply>('lease', { workerId: s.workerId, jobId: st.job!.id }, s.heartbeatMs + 30_000),
        );
        if (r.done) st.jobDone = true;
        else if (r.shard) await runShard(s, r.shard);
        else if (r.wait?.retryAfterMs) await sleep(r.wait.retryAfterMs);
      });
    }
    if (st.jobDone) log.info(`the coordinator says the job is done (${st.accepted} shards accepted from this worker); exiting`, { event: 'done' });
    else if (st.session) {
      await conn.unary('leave', { workerId: st.session.workerId }, 2000).catch(() => {});
      log.info('left the job');
    }
    return { shards: st.accepted };
  } finally {
    await st.job?.close();
    conn.close();
  }
}
