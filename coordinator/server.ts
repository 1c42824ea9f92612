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
import {
  Server,
  type ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  type ServerWritableStream,
  type ServerReadableStream,
} from '@grpc/grpc-js';
import {
  pb,
  CoordinatorService,
  type CoordinatorServer,
  PROTOCOL_VERSION,
  CHUNK_BYTES,
  SERVER_OPTIONS,
} from '../shared/protocol/rpc.js';
import { requireToken } from '../shared/protocol/auth.js';
import { LeaseInvalid, RejoinRequired, toStatus } from '../shared/protocol/status.js';
import { encodeGenotypesHeader, type RangeQc } from '../shared/protocol/genotypes-codec.js';
import { rowChunks } from '../shared/genotype/rows.js';
import type { GenotypeSource } from '../shared/genotype/types.js';
import { upperLength } from '../shared/kinship/kinship.js';
import { DistributedError, GwasError, UsageError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { Scheduler } from './scheduler.js';
import type { ShardStore } from './shard-store.js';

export interface ServedJob {
  jobId: string;
  spec: pb.JobSpec;
  /** Scan phase: the encoded null model and its sha256. */
  model?: { bytes: Buffer; sha256: string };
  /** Kinship phase: the genotype samples n (a partial sum has n(n+1)/2 float64 entries). */
  kinshipSamples?: number;
}

/** What FetchGenotypes serves: the coordinator's open genotype file, its QC and the analysed samples. */
export interface GenotypeFeed {
  geno: GenotypeSource;
  qc: RangeQc;
  analysed: Int32Array;
}

export interface Transfer {
  worker: string;
  bytes: number;
  seconds: number;
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
  broadcasts: Transfer[];
  /** Kinship phase: partial sums received (bytes and seconds from header to trailer). */
  kinshipTransfers?: Transfer[];
  /** Genotype rows served to workers with --genotypes-from-coordinator (absent: FetchGenotypes is refused). */
  genotypes?: GenotypeFeed;
  genotypeTransfers?: Transfer[];
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
  const phase = job.model ? 'scan' : 'kinship';
  const checkJob = (id: string) => {
    if (id !== job.jobId) throw new RejoinRequired('this coordinator runs another job: join again');
  };

  return {
    join: unary(async (req: pb.JoinRequest, call) => {
      if (req.protocolVersion !== PROTOCOL_VERSION) {
        throw new DistributedError(
          'PROTOCOL',
          `worker speaks protocol ${req.protocolVersion}, this coordinator ${PROTOCOL_VERSION}`,
          {
            hint: 'run the same gwasgrid version on the coordinator and the workers',
          },
        );
      }
      if (sched.stopping) return pb.JoinReply.create({ coordinatorStopping: true });
      const i = req.info;
      const label = `${i?.name ? `${i.name}, ` : ''}${i?.host ?? '?'} pid ${i?.pid ?? '?'}, ${i?.threads ?? '?'} thread(s), from ${call.getPeer()}`;
      const workerId = sched.register(label);
      return pb.JoinReply.create({
        workerId,
        job: job.spec,
        heartbeatIntervalMs: ctx.heartbeatMs,
        leaseTimeoutMs: ctx.leaseTimeoutMs,
      });
    }),

    fetchNullModel: (call: ServerWritableStream<pb.FetchNullModelRequest, pb.NullModelChunk>) => {
      const { workerId, sha256 } = call.request;
      try {
        sched.touch(workerId);
        if (!job.model) throw new RejoinRequired('no null model yet (kinship phase): join again');
        if (sha256 !== job.model.sha256)
          throw new DistributedError(
            'PROTOCOL',
            `no null model ${sha256.slice(0, 12)}… here (this job's is ${job.model.sha256.slice(0, 12)}…)`,
          );
      } catch (e) {
        call.emit('error', toStatus(e));
        return;
      }
      void streamModel(call, workerId, job.model);
    },

    lease: unary(async (req: pb.LeaseRequest, call) => {
      sched.touch(req.workerId);
      checkJob(req.jobId);
      const until = Date.now() + ctx.longPollMs;
      for (;;) {
        if (call.cancelled) return pb.LeaseReply.create({ wait: { retryAfterMs: 0 } });
        const r = sched.lease(req.workerId);
        if (r === 'done') return pb.LeaseReply.create({ done: {} });
        if (r === 'stopping') return pb.LeaseReply.create({ stopping: { reason: sched.stopping ?? '' } });
        if (r) {
          const s = r.shard;
          return pb.LeaseReply.create({
            shard: {
              leaseId: r.id,
              index: s.index,
              name: s.name,
              start: s.start,
              end: s.end,
              expectedSnps: s.expected,
              attempt: r.attempt,
            },
          });
        }
        const left = until - Date.now();
        if (left <= 0) return pb.LeaseReply.create({ wait: { retryAfterMs: 0 } });
        await sched.changed(left);
      }
    }),

    heartbeat: unary(async (req: pb.HeartbeatRequest) =>
      pb.HeartbeatReply.create(sched.heartbeat(req.workerId, req.leaseIds)),
    ),

    submitShard: receive<pb.ShardChunk, pb.ShardHeader, pb.ShardTrailer>(
      ctx,
      (m) => ({ header: m.header, data: m.lines, trailer: m.trailer }),
      (h) => {
        if (phase !== 'scan') throw new DistributedError('PROTOCOL', 'shard result in the kinship phase');
        if (h.payload === pb.ShardHeader_Payload.FINAL_ROWS)
          throw new DistributedError('PROTOCOL', 'FarmCPU/GLM final rows sent to an MLM job');
        return MAX_BYTES_PER_LINE * Math.max(1, sched.shards[h.index].expected);
      },
      (h, data, t) => commit(ctx, h, data, t),
    ),

    submitKinship: receive<pb.KinshipChunk, pb.KinshipHeader, pb.KinshipTrailer>(
      ctx,
      (m) => ({ header: m.header, data: m.data, trailer: m.trailer }),
      (h) => {
        if (phase !== 'kinship') throw new DistributedError('PROTOCOL', 'kinship partial in the scan phase');
        if (h.samples !== job.kinshipSamples)
          throw new DistributedError(
            'PROTOCOL',
            `kinship partial for ${h.samples} samples, the genotype file has ${job.kinshipSamples}`,
          );
        return 8 * upperLength(h.samples);
      },
      (h, data, t, seconds) => commitKinship(ctx, h, data, t, seconds),
    ),

    fetchGenotypes: (call: ServerWritableStream<pb.GenotypesRequest, pb.GenotypesChunk>) => {
      const { workerId, jobId, leaseId } = call.request;
      let lease;
      try {
        sched.touch(workerId);
        checkJob(jobId);
        if (!ctx.genotypes)
          throw new DistributedError('PROTOCOL', 'this coordinator does not serve genotypes');
        lease = sched.validLease(workerId, leaseId);
        if (!lease) throw new LeaseInvalid(`lease ${leaseId} is not a current lease of worker ${workerId}`);
      } catch (e) {
        call.emit('error', toStatus(e));
        return;
      }
      void streamGenotypes(call, workerId, ctx.genotypes, lease.shard).catch((e: unknown) => {
        log.warn(`genotypes of ${lease.shard.name} for worker ${workerId}: ${(e as Error).message}`);
        call.emit('error', toStatus(e));
      });
    },

    reportFailure: unary(async (req: pb.FailureReport) => {
      const err = new GwasError((req.code || 'INTERNAL') as GwasError['code'], req.message, {
        retryable: req.retryable,
      });
      sched.fail(req.workerId, req.leaseId, err);
      return pb.FailureReply.create();
    }),

    leave: unary(async (req: pb.LeaveRequest) => {
      sched.leave(req.workerId);
      return pb.LeaveReply.create();
    }),
  };

  /** Streams the encoded model in CHUNK_BYTES pieces, waiting for the transport to drain. */
  async function streamModel(
    call: ServerWritableStream<pb.FetchNullModelRequest, pb.NullModelChunk>,
    workerId: string,
    model: { bytes: Buffer },
  ): Promise<void> {
    const bytes = model.bytes;
    const t0 = performance.now();
    const out = writer(call);
    for (let off = 0; off < bytes.length && !out.gone(); off += CHUNK_BYTES) {
      await out.write(
        pb.NullModelChunk.create({ offset: off, data: bytes.subarray(off, off + CHUNK_BYTES) }),
      );
    }
    if (out.gone()) {
      log.warn(`null model transfer to worker ${workerId} cancelled`);
      return;
    }
    call.end();
    const seconds = (performance.now() - t0) / 1000;
    ctx.broadcasts.push({ worker: workerId, bytes: bytes.length, seconds });
    const mb = bytes.length / 1e6;
    log.info(
      `null model (${mb.toFixed(1)} MB) sent to worker ${workerId} in ${seconds.toFixed(2)} s: ${(mb / seconds).toFixed(1)} MB/s`,
      {
        event: 'broadcast',
        worker: workerId,
        bytes: bytes.length,
        seconds,
      },
    );
  }

  /** Header (metadata, QC, analysed samples), the range's QC-passing rows in ≤ CHUNK_BYTES pieces, trailer. */
  async function streamGenotypes(
    call: ServerWritableStream<pb.GenotypesRequest, pb.GenotypesChunk>,
    workerId: string,
    feed: GenotypeFeed,
    shard: { index: number; name: string; start: number; end: number },
  ): Promise<void> {
    const t0 = performance.now();
    const out = writer(call);
    await out.write(
      pb.GenotypesChunk.create({ header: encodeGenotypesHeader(feed.geno, feed.qc, feed.analysed, shard) }),
    );
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const rows of rowChunks(feed.geno, feed.qc.mask, shard.start, shard.end, CHUNK_BYTES)) {
      if (out.gone()) return;
      hash.update(rows);
      bytes += rows.length;
      await out.write(pb.GenotypesChunk.create({ rows }));
    }
    if (out.gone()) return;
    await out.write(pb.GenotypesChunk.create({ trailer: { sha256: hash.digest('hex') } }));
    call.end();
    const seconds = (performance.now() - t0) / 1000;
    (ctx.genotypeTransfers ??= []).push({ worker: workerId, bytes, seconds });
    log.info(
      `genotypes of ${shard.name} (${(bytes / 1e6).toFixed(1)} MB) sent to worker ${workerId} in ${seconds.toFixed(2)} s`,
      {
        event: 'genotypes',
        worker: workerId,
        shard: shard.name,
        bytes,
        seconds,
      },
    );
  }
}

/** Writes to a server stream with backpressure; `gone()` once the client cancelled. */
function writer<T>(call: ServerWritableStream<unknown, T>): {
  write: (m: T) => Promise<void>;
  gone: () => boolean;
} {
  let gone = false;
  call.on('cancelled', () => (gone = true));
  return {
    gone: () => gone,
    async write(m: T) {
      if (gone || call.write(m)) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          call.off('drain', done);
          call.off('cancelled', done);
          resolve();
        };
        call.on('drain', done);
        call.on('cancelled', done);
      });
    },
  };
}

/**
 * Receives one client-streamed upload (header, data pieces, trailer) — shards, kinship partials, FarmCPU final
 * rows: the header first and once (`onHeader` checks it and returns the most data bytes accepted), data only
 * between header and trailer and never past that size, then `done` with the data and the seconds since the
 * header. Any breach answers the call with a PROTOCOL error (`what` names the upload) and nothing is stored.
 */
export function receiveUpload<M, H, T>(
  what: string,
  parts: (m: M) => { header?: H; data?: Buffer; trailer?: T },
  onHeader: (h: H) => number,
  done: (h: H, data: Buffer, t: T, seconds: number) => Promise<pb.SubmitReply>,
) {
  return (call: ServerReadableStream<M, pb.SubmitReply>, cb: sendUnaryData<pb.SubmitReply>) => {
    let header: H | undefined;
    let trailer: T | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let max = 0;
    let t0 = 0;
    let failed: unknown = null;
    const protocol = (why: string) => new DistributedError('PROTOCOL', `${what}: ${why}`);
    call.on('data', (m: M) => {
      if (failed) return;
      try {
        const p = parts(m);
        if (p.header) {
          if (header) throw protocol('two headers');
          header = p.header;
          t0 = performance.now();
          max = onHeader(header);
        } else if (p.data) {
          if (!header || trailer) throw protocol('data outside header … trailer');
          size += p.data.length;
          if (size > max) throw protocol(`more than the ${max} bytes accepted`);
          chunks.push(p.data);
        } else if (p.trailer) {
          if (!header || trailer) throw protocol('trailer without header, or twice');
          trailer = p.trailer;
        }
      } catch (e) {
        failed = e;
      }
    });
    call.on('error', () => {});
    call.on('end', () => {
      if (failed) return cb(toStatus(failed));
      if (!header || !trailer) return cb(toStatus(protocol('incomplete (no header or no trailer)')));
      done(header, Buffer.concat(chunks), trailer, (performance.now() - t0) / 1000).then(
        (r) => cb(null, r),
        (e) => cb(toStatus(e)),
      );
    });
  };
}

/**
 * A client-streaming result of a leased phase: {@link receiveUpload} with the header checked against the job's
 * shard table (`limit` = most data bytes accepted, which may also refuse the phase).
 */
function receive<
  M,
  H extends { workerId: string; jobId: string; index: number; start: number; end: number },
  T,
>(
  ctx: ServiceContext,
  parts: (m: M) => { header?: H; data?: Buffer; trailer?: T },
  limit: (h: H) => number,
  done: (h: H, data: Buffer, t: T, seconds: number) => Promise<pb.SubmitReply>,
) {
  const { scheduler: sched, job } = ctx;
  const protocol = (why: string) => new DistributedError('PROTOCOL', `result: ${why}`);
  return receiveUpload<M, H, T>(
    'result',
    parts,
    (header) => {
      sched.touch(header.workerId);
      if (header.jobId !== job.jobId) throw new RejoinRequired('this coordinator runs another job: join again');
      const s = sched.shards[header.index];
      if (!s || s.start !== header.start || s.end !== header.end)
        throw protocol(`no shard ${header.index} [${header.start}, ${header.end}) in this job`);
      return limit(header);
    },
    done,
  );
}

/**
 * The service while the job is being prepared (QC, kinship, null model): Join asks workers to come back after
 * `retryAfterMs`; every other call is answered "join first" (a worker of a previous coordinator process re-joins).
 * Once `stopping()` gives a reason (SIGTERM while preparing), Join answers that the coordinator is stopping.
 */
export function preparingService(
  retryAfterMs: number,
  stopping: () => string | null = () => null,
): CoordinatorServer {
  const notYet = () => new RejoinRequired('the coordinator is preparing the job: join first');
  const refuse = unary(async () => {
    throw notYet();
  });
  const drain = <A, B>(call: ServerReadableStream<A, B>, cb: sendUnaryData<B>) => {
    call.on('data', () => {});
    call.on('error', () => {});
    cb(toStatus(notYet()));
  };
  return {
    join: unary(async () =>
      stopping() !== null
        ? pb.JoinReply.create({ coordinatorStopping: true })
        : pb.JoinReply.create({ retryAfterMs }),
    ),
    fetchNullModel: (call) => call.emit('error', toStatus(notYet())),
    fetchGenotypes: (call) => call.emit('error', toStatus(notYet())),
    lease: refuse,
    heartbeat: refuse,
    submitShard: drain,
    submitKinship: drain,
    reportFailure: refuse,
    leave: refuse,
  };
}

/** Checks a received shard result and writes it, unless the shard is already done (a duplicate). */
async function commit(
  ctx: ServiceContext,
  h: pb.ShardHeader,
  data: Buffer,
  t: pb.ShardTrailer,
): Promise<pb.SubmitReply> {
  const { scheduler: sched, log } = ctx;
  const shard = sched.shards[h.index];
  const hex = createHash('sha256').update(data).digest('hex');
  if (hex !== t.sha256)
    throw new DistributedError(
      'PROTOCOL',
      `${shard.name} from worker ${h.workerId}: checksum mismatch (damaged in transit)`,
    );
  let lines = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 10) lines++;
  if (
    lines !== t.lineCount ||
    lines !== shard.expected ||
    (data.length > 0 && data[data.length - 1] !== 10)
  ) {
    throw new DistributedError(
      'PROTOCOL',
      `${shard.name} from worker ${h.workerId} has ${lines} lines, expected ${shard.expected}`,
      { hint: 'the worker read different inputs: check that it sees the same files as the coordinator' },
    );
  }
  return store(ctx, h, data, hex, t.scanSeconds, () =>
    log.info(`duplicate result for ${shard.name} from worker ${h.workerId} ignored`, {
      event: 'duplicate',
      worker: h.workerId,
      shard: shard.name,
    }),
  );
}

/** Checks a received kinship partial (size, checksum, SNP count) and writes it, unless the chunk is done. */
async function commitKinship(
  ctx: ServiceContext,
  h: pb.KinshipHeader,
  data: Buffer,
  t: pb.KinshipTrailer,
  seconds: number,
): Promise<pb.SubmitReply> {
  const { scheduler: sched, log } = ctx;
  const chunk = sched.shards[h.index];
  const hex = createHash('sha256').update(data).digest('hex');
  if (hex !== t.sha256)
    throw new DistributedError(
      'PROTOCOL',
      `${chunk.name} from worker ${h.workerId}: checksum mismatch (damaged in transit)`,
    );
  if (data.length !== 8 * upperLength(h.samples))
    throw new DistributedError(
      'PROTOCOL',
      `${chunk.name} from worker ${h.workerId}: ${data.length} bytes, expected ${8 * upperLength(h.samples)}`,
    );
  if (t.snps !== chunk.expected) {
    throw new DistributedError(
      'PROTOCOL',
      `${chunk.name} from worker ${h.workerId} sums ${t.snps} SNPs, expected ${chunk.expected}`,
      {
        hint: 'the worker read different inputs: check that it sees the same files as the coordinator',
      },
    );
  }
  (ctx.kinshipTransfers ??= []).push({ worker: h.workerId, bytes: data.length, seconds });
  return store(ctx, h, data, hex, t.seconds, () =>
    log.info(`duplicate kinship partial for ${chunk.name} from worker ${h.workerId} ignored`, {
      event: 'duplicate',
      worker: h.workerId,
      shard: chunk.name,
    }),
  );
}

/** The first valid result for a shard is written (atomically, with its checksum); later ones are duplicates. */
async function store(
  ctx: ServiceContext,
  h: { index: number; workerId: string },
  data: Buffer,
  hex: string,
  seconds: number,
  duplicate: () => void,
): Promise<pb.SubmitReply> {
  const { scheduler: sched } = ctx;
  const shard = sched.shards[h.index];
  if (!sched.beginCommit(h.index, h.workerId)) {
    duplicate();
    return pb.SubmitReply.create({
      outcome: pb.SubmitReply_Outcome.DUPLICATE,
      jobDone: sched.finished,
      coordinatorStopping: !!sched.stopping,
    });
  }
  try {
    await ctx.store.write(shard, data, hex);
  } catch (e) {
    sched.commitFailed(h.index);
    throw e;
  }
  sched.commitDone(h.index, seconds);
  return pb.SubmitReply.create({
    outcome: pb.SubmitReply_Outcome.ACCEPTED,
    jobDone: sched.finished,
    coordinatorStopping: !!sched.stopping,
  });
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
      if (n <= 3 || n % 100 === 0)
        log.warn(
          `refused ${method} from ${peer}: wrong or missing join token (${n} refusals from this host)`,
          { event: 'refused', peer },
        );
    }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  ).catch((e: Error) => {
    throw new UsageError(
      `cannot listen on ${address}: ${e.message}`,
      'choose another --listen address or port',
    );
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
