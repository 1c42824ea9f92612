/**
 * The coordinator's gRPC service (proto/gwasgrid/v1/distributed.proto): thin handlers over the scheduler
 * (leases) and the shard store (results on disk). Every handler runs behind the join-token check
 * (shared/protocol/auth.ts) and answers errors through one mapping (shared/protocol/status.ts).
 *
 * No request names a path: the only files this service reads or writes are the coordinator's own job inputs
 * (already read before serving) and `PREFIX.shards/shard-NNNNN.tsv` named from the shard index, which is
 * checked against the job's shard table.
 */
import { createHash } from 'node:crypto';
import { Server, type ServerCredentials, type ServerUnaryCall, type sendUnaryData, type ServerWritableStream, type ServerReadableStream } from '@grpc/grpc-js';
import { pb, CoordinatorService, type CoordinatorServer, PROTOCOL_VERSION, CHUNK_BYTES, SERVER_OPTIONS } from '../shared/protocol/rpc.js';
import { requireToken } from '../shared/protocol/auth.js';
import { RejoinRequired, toStatus } from '../shared/protocol/status.js';
import { DistributedError, GwasError, UsageError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { Scheduler } from './scheduler.js';
import type { ShardStore } from './shard-store.js';

export interface ServedJob {
  jobId: string;
  spec: pb.JobSpec;
  /** The encoded null model and its sha256. */
  model: { bytes: Buffer; sha256: string };
}

export interface ServiceContext {
  job: ServedJob;
  scheduler: Scheduler;
  store: ShardStore;
  log: Logger;
  heartbeatMs: number;
  leaseTimeoutMs: number;
  /** Longest a Lease call waits for a free shard before answering `wait`. */
  longPollMs: number;
  /** Null-model broadcasts, for the summary: bytes and seconds per transfer. */
  broadcasts: Array<{ worker: string; bytes: number; seconds: number }>;
}

/** Largest accepted shard result per expected line (a formatted line is about 150 bytes). */
const MAX_BYTES_PER_LINE = 4096;

function unary<Req, Res>(fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
    fn(call.request, call).then(
      (res) => cb(null, res),
      (e) => cb(toStatus(e)),
    );
  };
}

export function coordinatorService(ctx: ServiceContext): CoordinatorServer {
  const { job, scheduler: sched, log } = ctx;
  const checkJob = (id: string) => {
    if (id !== job.jobId) throw new RejoinRequired('this coordinator runs another job: join again');
  };

  return {
    join: unary(async (req: pb.JoinRequest, call) => {
      if (req.protocolVersion !== PROTOCOL_VERSION) {
        throw new DistributedError('PROTOCOL', `worker speaks protocol ${req.protocolVersion}, this coordinator ${PROTOCOL_VERSION}`, {
          hint: 'run the same gwasgrid version on the coordinator and the workers',
        });
      }
      const i = req.info;
      const label = `${i?.name ? `${i.name}, ` : ''}${i?.host ?? '?'} pid ${i?.pid ?? '?'}, ${i?.threads ?? '?'} thread(s), from ${call.getPeer()}`;
      const workerId = sched.register(label);
      return pb.JoinReply.create({ workerId, job: job.spec, heartbeatIntervalMs: ctx.heartbeatMs, leaseTimeoutMs: ctx.leaseTimeoutMs });
    }),

    fetchNullModel: (call: ServerWritableStream<pb.FetchNullModelRequest, pb.NullModelChunk>) => {
      const { workerId, sha256 } = call.request;
      try {
        sched.touch(workerId);
        if (sha256 !== job.model.sha256) throw new DistributedError('PROTOCOL', `no null model ${sha256.slice(0, 12)}… here (this job's is ${job.model.sha256.slice(0, 12)}…)`);
      } catch (e) {
        call.emit('error', toStatus(e));
        return;
      }
      void streamModel(call, workerId);
    },

    lease: unary(async (req: pb.LeaseRequest, call) => {
      sched.touch(req.workerId);
      checkJob(req.jobId);
      const until = Date.now() + ctx.longPollMs;
      for (;;) {
        if (call.cancelled) return pb.LeaseReply.create({ wait: { retryAfterMs: 0 } });
        const r = sched.lease(req.workerId);
        if (r === 'done') return pb.LeaseReply.create({ done: {} });
        if (r) {
          const s = r.shard;
          return pb.LeaseReply.create({
            shard: { leaseId: r.id, index: s.index, name: s.name, start: s.start, end: s.end, expectedSnps: s.expected, attempt: r.attempt },
          });
        }
        const left = until - Date.now();
        if (left <= 0) return pb.LeaseReply.create({ wait: { retryAfterMs: 0 } });
        await sched.changed(left);
      }
    }),

    heartbeat: unary(async (req: pb.HeartbeatRequest) => pb.HeartbeatReply.create(sched.heartbeat(req.workerId, req.leaseIds))),

    submitShard: (call: ServerReadableStream<pb.ShardChunk, pb.SubmitReply>, cb: sendUnaryData<pb.SubmitReply>) => {
      let header: pb.ShardHeader | undefined;
      let trailer: pb.ShardTrailer | undefined;
      const parts: Buffer[] = [];
      let size = 0;
      let failed: unknown = null;
      const protocol = (why: string) => new DistributedError('PROTOCOL', `shard result: ${why}`);
      call.on('data', (m: pb.ShardChunk) => {
        if (failed) return;
        try {
          if (m.header) {
            if (header) throw protocol('two headers');
            header = m.header;
            sched.touch(header.workerId);
            checkJob(header.jobId);
            const s = sched.shards[header.index];
            if (!s || s.start !== header.start || s.end !== header.end) throw protocol(`no shard ${header.index} [${header.start}, ${header.end}) in this job`);
          } else if (m.lines) {
            if (!header || trailer) throw protocol('lines outside header … trailer');
            size += m.lines.length;
            if (size > MAX_BYTES_PER_LINE * Math.max(1, sched.shards[header.index].expected)) throw protocol('too large');
            parts.push(m.lines);
          } else if (m.trailer) {
            if (!header || trailer) throw protocol('trailer without header, or twice');
            trailer = m.trailer;
          }
        } catch (e) {
          failed = e;
        }
      });
      call.on('error', () => {});
      call.on('end', () => {
        if (failed) return cb(toStatus(failed));
        if (!header || !trailer) return cb(toStatus(protocol('incomplete (no header or no trailer)')));
        commit(ctx, header, Buffer.concat(parts), trailer).then(
          (r) => cb(null, r),
          (e) => cb(toStatus(e)),
        );
      });
    },

    reportFailure: unary(async (req: pb.FailureReport) => {
      const err = new GwasError((req.code || 'INTERNAL') as GwasError['code'], req.message, { retryable: req.retryable });
      sched.fail(req.workerId, req.leaseId, err);
      return pb.FailureReply.create();
    }),

    leave: unary(async (req: pb.LeaveRequest) => {
      sched.leave(req.workerId);
      return pb.LeaveReply.create();
    }),
  };

  /** Streams the encoded model in CHUNK_BYTES pieces, waiting for the transport to drain. */
  async function streamModel(call: ServerWritableStream<pb.FetchNullModelRequest, pb.NullModelChunk>, workerId: string): Promise<void> {
    const bytes = job.model.bytes;
    const t0 = performance.now();
    let gone = false;
    call.on('cancelled', () => (gone = true));
    for (let off = 0; off < bytes.length && !gone; off += CHUNK_BYTES) {
      const ok = call.write(pb.NullModelChunk.create({ offset: off, data: bytes.subarray(off, off + CHUNK_BYTES) }));
      if (!ok) {
        await new Promise<void>((resolve) => {
          const done = () => {
            call.off('drain', done);
            call.off('cancelled', done);
            resolve();
          };
          call.on('drain', done);
          call.on('cancelled', done);
        });
      }
    }
    if (gone) {
      log.warn(`null model transfer to worker ${workerId} cancelled`);
      return;
    }
    call.end();
    const seconds = (performance.now() - t0) / 1000;
    ctx.broadcasts.push({ worker: workerId, bytes: bytes.length, seconds });
    const mb = bytes.length / 1e6;
    log.info(`null model (${mb.toFixed(1)} MB) sent to worker ${workerId} in ${seconds.toFixed(2)} s: ${(mb / seconds).toFixed(1)} MB/s`, {
      event: 'broadcast',
      worker: workerId,
      bytes: bytes.length,
      seconds,
    });
  }
}

/**
 * The service while the job is being prepared (QC, kinship, null model): Join asks workers to come back after
 * `retryAfterMs`; every other call is answered "join first" (a worker of a previous coordinator process re-joins).
 */
export function preparingService(retryAfterMs: number): CoordinatorServer {
  const notYet = () => new RejoinRequired('the coordinator is preparing the job: join first');
  const refuse = unary(async () => {
    throw notYet();
  });
  return {
    join: unary(async () => pb.JoinReply.create({ retryAfterMs })),
    fetchNullModel: (call) => call.emit('error', toStatus(notYet())),
    lease: refuse,
    heartbeat: refuse,
    submitShard: (call, cb) => {
      call.on('data', () => {});
      call.on('error', () => {});
      cb(toStatus(notYet()));
    },
    reportFailure: refuse,
    leave: refuse,
  };
}

/** Checks a received shard result and writes it, unless the shard is already done (a duplicate). */
async function commit(ctx: ServiceContext, h: pb.ShardHeader, data: Buffer, t: pb.ShardTrailer): Promise<pb.SubmitReply> {
  const { scheduler: sched, store, log } = ctx;
  const shard = sched.shards[h.index];
  const hex = createHash('sha256').update(data).digest('hex');
  if (hex !== t.sha256) throw new DistributedError('PROTOCOL', `${shard.name} from worker ${h.workerId}: checksum mismatch (damaged in transit)`);
  let lines = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 10) lines++;
  if (lines !== t.lineCount || lines !== shard.expected || (data.length > 0 && data[data.length - 1] !== 10)) {
    throw new DistributedError(
      'PROTOCOL',
      `${shard.name} from worker ${h.workerId} has ${lines} lines, expected ${shard.expected}`,
      { hint: 'the worker read different inputs: check that it sees the same files as the coordinator' },
    );
  }
  if (!sched.beginCommit(h.index, h.workerId)) {
    log.info(`duplicate result for ${shard.name} from worker ${h.workerId} ignored`, { event: 'duplicate', worker: h.workerId, shard: shard.name });
    return pb.SubmitReply.create({ outcome: pb.SubmitReply_Outcome.DUPLICATE, jobDone: sched.finished });
  }
  try {
    await store.write(shard, data, hex);
  } catch (e) {
    sched.commitFailed(h.index);
    throw e;
  }
  sched.commitDone(h.index, t.scanSeconds);
  return pb.SubmitReply.create({ outcome: pb.SubmitReply_Outcome.ACCEPTED, jobDone: sched.finished });
}

/**
 * Starts a gRPC server on `address` (HOST:PORT; port 0 = any free port). Calls go to `impl()` at the time of
 * the call, so the service can be switched from preparing to serving without rebinding.
 */
export async function serve(
  impl: () => CoordinatorServer,
  address: string,
  credentials: ServerCredentials,
  token: string,
  log: Logger,
): Promise<{ server: Server; port: number }> {
  const server = new Server(SERVER_OPTIONS);
  const refused = new Map<string, number>();
  const current: Record<string, (...args: unknown[]) => void> = {};
  for (const name of Object.keys(CoordinatorService)) {
    current[name] = (...args: unknown[]) => (impl()[name] as (...a: unknown[]) => void)(...args);
  }
  server.addService(
    CoordinatorService,
    requireToken(CoordinatorService, current as unknown as CoordinatorServer, token, (peer, method) => {
      const host = peer.replace(/:\d+$/, '');
      const n = (refused.get(host) ?? 0) + 1;
      refused.set(host, n);
      if (n <= 3 || n % 100 === 0) log.warn(`refused ${method} from ${peer}: wrong or missing join token (${n} refusals from this host)`, { event: 'refused', peer });
    }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  ).catch((e: Error) => {
    throw new UsageError(`cannot listen on ${address}: ${e.message}`, 'choose another --listen address or port');
  });
  return { server, port };
}

/** Graceful shutdown, forced after `ms`. */
export function shutdown(server: Server, ms = 3000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, ms);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
