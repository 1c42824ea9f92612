/**
 * Synchronised rounds over NATS (FarmCPU): the coordinator publishes a round (an id and an opaque payload, e.g.
 * the pseudo-QTN set with its genotype vectors) and a list of SNP partitions; workers pull partitions, scan them
 * and send back one reply each; the round ends when every partition has a reply (the barrier). The subjects and
 * message schemas are documented in docs/nats-protocol.md — keep the two in step.
 *
 * Fault tolerance, all on the coordinator's side, all idempotent:
 * - a pulled partition is a lease: the worker heartbeats it every `heartbeatMs`; a lease not heard from for
 *   `leaseTimeoutMs` goes back to the queue and another worker scans it (a vanished worker, a lost message);
 * - replies are keyed by (round, partition): the first complete reply wins, later ones (a slow first attempt,
 *   a retry after a lost acknowledgement) are acknowledged and dropped — every attempt computes the same bytes;
 * - every worker → coordinator message is a request that is retried until acknowledged, so a NATS server
 *   restart (the client reconnects by itself) loses nothing; a lost coordinator → worker message shows up as a
 *   lease that expires.
 * - the round has a deadline (`roundDeadlineMs`): a round that cannot finish (no workers left) fails with a
 *   clear error instead of hanging.
 * Large messages are split into chunks below NATS's default 1 MiB payload limit.
 */
import { connect, type ConnectionOptions, type Msg, type NatsConnection, type Subscription } from 'nats';
import { DistributedError } from '../errors.js';
import type { Logger } from '../log.js';
import { decodeFrame, encodeFrame } from './frames.js';

/** Bytes per chunk of a round payload or a reply (NATS's default max_payload is 1 MiB). */
export const CHUNK_BYTES = 512 * 1024;

export interface Partition {
  start: number;
  end: number;
}

/** What a pull returns. */
export type PullReply =
  | {
      kind: 'task';
      round: number;
      partition: number;
      start: number;
      end: number;
      attempt: number;
      payloadChunks: number;
      payloadBytes: number;
    }
  | { kind: 'wait'; retryAfterMs: number }
  | { kind: 'done' };

export interface NatsAuth {
  token?: string;
  user?: string;
  pass?: string;
  /** CA file for TLS (also turns TLS on); client certificate and key for mutual TLS. */
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** Subjects of one job: `gwasgrid.<job>.<verb>`. */
export function subjects(job: string) {
  const p = `gwasgrid.${job}`;
  return {
    setup: `${p}.setup`,
    pull: `${p}.pull`,
    data: `${p}.data`,
    beat: `${p}.beat`,
    reply: `${p}.reply`,
    control: `${p}.control`,
  };
}

/** Connects with reconnection forever (a restarted server is waited for) and the given credentials. */
export async function connectNats(
  url: string,
  auth: NatsAuth,
  name: string,
  log: Logger,
): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers: url.split(','),
    name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: false,
    pingInterval: 5000,
  };
  if (auth.token) opts.token = auth.token;
  if (auth.user) {
    opts.user = auth.user;
    opts.pass = auth.pass;
  }
  if (auth.tlsCa || auth.tlsCert)
    opts.tls = { caFile: auth.tlsCa, certFile: auth.tlsCert, keyFile: auth.tlsKey };
  let nc: NatsConnection;
  try {
    nc = await connect(opts);
  } catch (e) {
    throw new DistributedError('UNAVAILABLE', `cannot connect to NATS at ${url}: ${(e as Error).message}`, {
      hint: 'check --nats URL and the NATS credentials (--nats-token, --nats-user/--nats-pass, --nats-tls-ca)',
    });
  }
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') log.warn(`NATS connection lost (${String(s.data)}); reconnecting`);
      else if (s.type === 'reconnect') log.info(`NATS reconnected to ${String(s.data)}`);
    }
  })().catch(() => {});
  return nc;
}

function chunksOf(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length || out.length === 0; o += CHUNK_BYTES)
    out.push(bytes.subarray(o, Math.min(bytes.length, o + CHUNK_BYTES)));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

interface LeaseState {
  partition: number;
  attempt: number;
  worker: string;
  lastHeard: number;
}

interface RoundState {
  id: number;
  payload: Uint8Array[];
  payloadBytes: number;
  partitions: Partition[];
  pending: number[];
  leases: Map<number, LeaseState>;
  replies: (Uint8Array | null)[];
  /** Chunks of replies being received, by `partition/attempt/worker`. */
  partial: Map<string, (Uint8Array | null)[]>;
  /** Partitions whose complete reply is being checked by the round's `accept` (later replies are dropped). */
  checking: Set<number>;
  accept?: AcceptReply;
  remaining: number;
  resolve: () => void;
  attempts: number;
  reassigned: number;
  refused: number;
}

/**
 * Checks a partition's complete reply before it counts (e.g. that the result it names arrived by gRPC and is
 * stored intact). Resolving false (or rejecting) refuses the reply: the partition goes back to the head of the
 * queue and is scanned again.
 */
export type AcceptReply = (partition: number, reply: Uint8Array, worker: string) => Promise<boolean>;

export interface RoundStats {
  round: number;
  seconds: number;
  partitions: number;
  /** Partitions scanned again because a lease expired. */
  reassigned: number;
  /** Replies refused by the round's `accept` check (those partitions were scanned again). */
  refused: number;
  workers: number;
  bytesIn: number;
}

/**
 * The coordinator's side: serves pulls, payload chunks, heartbeats and replies on the job's subjects, and runs
 * one round at a time.
 */
export class RoundCoordinator {
  private round: RoundState | null = null;
  private finished = false;
  private readonly subs: Subscription[] = [];
  private readonly workers = new Set<string>();
  private bytesIn = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private setup: Uint8Array[] = [];
  /** The worker whose reply was accepted for each partition (affinity for the next round). */
  private readonly owner = new Map<number, string>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly job: string,
    private readonly log: Logger,
    private readonly opts: { leaseTimeoutMs: number; roundDeadlineMs: number; heartbeatMs: number },
  ) {}

  /** Starts serving; `setup` is the job's per-run data every worker fetches once (inputs, covariates, …). */
  start(setup: Uint8Array = new Uint8Array(0)): void {
    this.setup = chunksOf(setup);
    const s = subjects(this.job);
    this.subs.push(this.nc.subscribe(s.setup, { callback: (err, m) => !err && this.onSetup(m) }));
    this.subs.push(this.nc.subscribe(s.pull, { callback: (err, m) => !err && this.onPull(m) }));
    this.subs.push(this.nc.subscribe(s.data, { callback: (err, m) => !err && this.onData(m) }));
    this.subs.push(this.nc.subscribe(s.beat, { callback: (err, m) => !err && this.onBeat(m) }));
    this.subs.push(this.nc.subscribe(s.reply, { callback: (err, m) => !err && this.onReply(m) }));
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.round(this.opts.leaseTimeoutMs / 4)));
  }

  /**
   * Runs one round to its barrier; resolves with one reply per partition, in partition order. With `accept`,
   * a complete reply counts only once the check passes (see {@link AcceptReply}).
   */
  async runRound(
    id: number,
    payload: Uint8Array,
    partitions: Partition[],
    accept?: AcceptReply,
  ): Promise<{ replies: Uint8Array[]; stats: RoundStats }> {
    if (this.round) throw new Error('a round is already running');
    const t0 = performance.now();
    const bytes0 = this.bytesIn;
    let resolve!: () => void;
    const barrier = new Promise<void>((r) => (resolve = r));
    const st: RoundState = {
      id,
      payload: chunksOf(payload),
      payloadBytes: payload.length,
      partitions,
      pending: partitions.map((_, i) => i),
      leases: new Map(),
      replies: partitions.map(() => null),
      partial: new Map(),
      checking: new Set(),
      accept,
      remaining: partitions.length,
      resolve,
      attempts: 0,
      reassigned: 0,
      refused: 0,
    };
    this.round = st;
    this.workers.clear();
    let timer: NodeJS.Timeout | null = null;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new DistributedError(
              'DEADLINE',
              `round ${id} did not finish within ${Math.round(this.opts.roundDeadlineMs / 1000)} s (${st.remaining} of ${partitions.length} partitions missing)`,
              {
                hint: 'check that workers are running and reach the NATS server; raise --round-deadline for very large partitions',
              },
            ),
          ),
        this.opts.roundDeadlineMs,
      );
    });
    try {
      if (partitions.length > 0) await Promise.race([barrier, deadline]);
    } finally {
      if (timer) clearTimeout(timer);
      this.round = null;
    }
    return {
      replies: st.replies as Uint8Array[],
      stats: {
        round: id,
        seconds: (performance.now() - t0) / 1000,
        partitions: partitions.length,
        reassigned: st.reassigned,
        refused: st.refused,
        workers: this.workers.size,
        bytesIn: this.bytesIn - bytes0,
      },
    };
  }

  /** Tells pulling workers that the job is over; they exit. */
  finish(): void {
    this.finished = true;
    this.nc.publish(subjects(this.job).control, encodeFrame({ kind: 'done' }));
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const s of this.subs) s.unsubscribe();
    await this.nc.flush().catch(() => {});
  }

  private respond(m: Msg, v: unknown): void {
    if (m.reply) m.respond(encodeFrame(v));
  }

  private onSetup(m: Msg): void {
    const { chunk } = decodeFrame<{ chunk: number }>(m.data);
    if (chunk < 0 || chunk >= this.setup.length) return this.respond(m, { chunks: this.setup.length });
    if (m.reply) m.respond(this.setup[chunk]);
  }

  private onPull(m: Msg): void {
    const req = decodeFrame<{ worker: string }>(m.data);
    if (this.finished) return this.respond(m, { kind: 'done' } satisfies PullReply);
    const st = this.round;
    if (!st || st.pending.length === 0)
      return this.respond(m, { kind: 'wait', retryAfterMs: 100 } satisfies PullReply);
    // Affinity: a worker gets back the partitions it answered last round (its cached genotypes and products
    // make them cheaper there), then unowned ones, then anyone's.
    let at = st.pending.findIndex((p) => this.owner.get(p) === req.worker);
    if (at < 0) at = st.pending.findIndex((p) => !this.owner.has(p));
    if (at < 0) at = 0;
    const partition = st.pending.splice(at, 1)[0];
    const attempt = ++st.attempts;
    st.leases.set(partition, { partition, attempt, worker: req.worker, lastHeard: Date.now() });
    this.workers.add(req.worker);
    const p = st.partitions[partition];
    this.respond(m, {
      kind: 'task',
      round: st.id,
      partition,
      start: p.start,
      end: p.end,
      attempt,
      payloadChunks: st.payload.length,
      payloadBytes: st.payloadBytes,
    } satisfies PullReply);
  }

  private onData(m: Msg): void {
    const req = decodeFrame<{ round: number; chunk: number }>(m.data);
    const st = this.round;
    if (!st || st.id !== req.round || !(req.chunk >= 0 && req.chunk < st.payload.length)) {
      return this.respond(m, { gone: true });
    }
    if (m.reply) m.respond(st.payload[req.chunk]);
  }

  private onBeat(m: Msg): void {
    const b = decodeFrame<{ round: number; partition: number; attempt: number }>(m.data);
    const l = this.round && this.round.id === b.round ? this.round.leases.get(b.partition) : undefined;
    if (l && l.attempt === b.attempt) l.lastHeard = Date.now();
  }

  private onReply(m: Msg): void {
    const r = decodeFrame<{
      round: number;
      partition: number;
      attempt: number;
      worker: string;
      chunk: number;
      chunks: number;
      data: Uint8Array;
    }>(m.data);
    this.respond(m, { ok: true });
    const st = this.round;
    if (!st || st.id !== r.round || !(r.partition >= 0 && r.partition < st.partitions.length)) return;
    if (st.replies[r.partition] || st.checking.has(r.partition)) return; // already complete: duplicate
    this.bytesIn += r.data.length;
    const key = `${r.partition}/${r.attempt}/${r.worker}`;
    let parts = st.partial.get(key);
    if (!parts) st.partial.set(key, (parts = new Array<Uint8Array | null>(r.chunks).fill(null)));
    parts[r.chunk] = r.data;
    if (parts.some((x) => x === null)) return;
    st.partial.delete(key);
    const reply = concat(parts as Uint8Array[]);
    // The partition is answered (or being checked): no lease to expire, nothing pending.
    st.leases.delete(r.partition);
    const q = st.pending.indexOf(r.partition);
    if (q >= 0) st.pending.splice(q, 1);
    if (!st.accept) return this.complete(st, r.partition, reply, r.worker);
    st.checking.add(r.partition);
    st.accept(r.partition, reply, r.worker)
      .catch((e: unknown) => {
        this.log.warn(`round ${st.id}: checking partition ${r.partition}: ${(e as Error).message}`);
        return false;
      })
      .then((ok) => {
        st.checking.delete(r.partition);
        if (this.round !== st || st.replies[r.partition]) return;
        if (ok) return this.complete(st, r.partition, reply, r.worker);
        st.refused++;
        st.pending.unshift(r.partition);
        this.log.warn(
          `round ${st.id}: reply for partition ${r.partition} from worker ${r.worker} refused; scanning it again`,
          { event: 'reply-refused', round: st.id, partition: r.partition, worker: r.worker },
        );
      });
  }

  private complete(st: RoundState, partition: number, reply: Uint8Array, worker: string): void {
    st.replies[partition] = reply;
    this.owner.set(partition, worker);
    if (--st.remaining === 0) st.resolve();
  }

  private sweep(): void {
    const st = this.round;
    if (!st) return;
    const now = Date.now();
    for (const l of [...st.leases.values()]) {
      if (now - l.lastHeard > this.opts.leaseTimeoutMs && !st.replies[l.partition]) {
        st.leases.delete(l.partition);
        st.pending.unshift(l.partition);
        st.reassigned++;
        this.log.warn(
          `round ${st.id}: partition ${l.partition} not heard from worker ${l.worker} for ${this.opts.leaseTimeoutMs} ms; handing it to another worker`,
          {
            event: 'lease-expired',
            round: st.id,
            partition: l.partition,
          },
        );
      }
    }
  }
}

/** Fetches the job's setup blob (see {@link RoundCoordinator.start}), retrying through NATS outages. */
export async function fetchSetup(
  nc: NatsConnection,
  job: string,
  log: Logger,
  timeoutMs = 5000,
): Promise<Uint8Array> {
  const s = subjects(job);
  const ask = async (chunk: number): Promise<Uint8Array> => {
    for (let tries = 0; ; tries++) {
      try {
        return (await nc.request(s.setup, encodeFrame({ chunk }), { timeout: timeoutMs })).data;
      } catch (e) {
        if (tries >= 20) {
          throw new DistributedError('UNAVAILABLE', `no answer on ${s.setup} (${(e as Error).message})`, {
            hint: 'the coordinator is not serving this job on this NATS server: check --nats and that the coordinator runs',
          });
        }
        if (tries === 0) log.warn(`waiting for the coordinator on ${s.setup} (${(e as Error).message})`);
        await new Promise((r) => setTimeout(r, 250 * Math.min(8, tries + 1)));
      }
    }
  };
  const { chunks } = decodeFrame<{ chunks: number }>(await ask(-1));
  const parts: Uint8Array[] = [];
  for (let c = 0; c < chunks; c++) parts.push(await ask(c));
  return concat(parts);
}

export interface RoundTask {
  round: number;
  partition: number;
  start: number;
  end: number;
  attempt: number;
}

/**
 * The worker's side: pull a partition, fetch the round payload once per round (cached), heartbeat while
 * `scan` runs, send the reply in acknowledged chunks; until the coordinator says done or `signal` aborts.
 * A `scan` that resolves null has no reply to send (its result was refused elsewhere): the partition is dropped
 * without a reply, its lease expires and the coordinator hands it out again.
 */
export async function serveRounds(
  nc: NatsConnection,
  job: string,
  worker: string,
  scan: (task: RoundTask, payload: Uint8Array) => Promise<Uint8Array | null>,
  opts: { heartbeatMs: number; log: Logger; signal?: AbortSignal; requestTimeoutMs?: number },
): Promise<{ partitions: number }> {
  const s = subjects(job);
  const timeout = opts.requestTimeoutMs ?? 2000;
  let done = false;
  const control = nc.subscribe(s.control, {
    callback: (err, m) => {
      if (!err && decodeFrame<{ kind: string }>(m.data).kind === 'done') done = true;
    },
  });
  /** A request retried until answered (NATS restarts, a busy coordinator), unless the job ends. */
  const request = async (subject: string, body: Uint8Array): Promise<Uint8Array> => {
    for (let tries = 0; ; tries++) {
      if (opts.signal?.aborted) throw new DistributedError('UNAVAILABLE', 'stopped');
      try {
        return (await nc.request(subject, body, { timeout })).data;
      } catch (e) {
        if (done) throw new DistributedError('UNAVAILABLE', 'the job ended');
        if (tries === 0 || tries % 10 === 0)
          opts.log.warn(`NATS request on ${subject} failed (${(e as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, Math.min(1000, 100 * (tries + 1))));
      }
    }
  };
  let cache = null as { round: number; payload: Uint8Array } | null;
  let count = 0;
  try {
    while (!done && !opts.signal?.aborted) {
      let reply: PullReply;
      try {
        reply = decodeFrame<PullReply>(await request(s.pull, encodeFrame({ worker })));
      } catch (e) {
        if (done || opts.signal?.aborted) break;
        throw e;
      }
      if (reply.kind === 'done') break;
      if (reply.kind === 'wait') {
        await new Promise((r) => setTimeout(r, reply.retryAfterMs));
        continue;
      }
      const task: RoundTask = reply;
      if (cache?.round !== task.round) {
        const parts: Uint8Array[] = [];
        let gone = false;
        for (let c = 0; c < reply.payloadChunks; c++) {
          const d = await request(s.data, encodeFrame({ round: task.round, chunk: c }));
          if (d.length < 256 && tryGone(d)) {
            gone = true;
            break;
          }
          parts.push(d);
        }
        if (gone) continue; // the round ended meanwhile
        cache = { round: task.round, payload: concat(parts) };
      }
      const beat = setInterval(() => {
        try {
          nc.publish(
            s.beat,
            encodeFrame({ round: task.round, partition: task.partition, attempt: task.attempt }),
          );
        } catch {
          // closed or draining connection: the lease will expire, which is the right outcome
        }
      }, opts.heartbeatMs);
      let out: Uint8Array | null;
      try {
        out = await scan(task, cache.payload);
      } finally {
        clearInterval(beat);
      }
      if (!out) {
        opts.log.warn(
          `round ${task.round}, partition ${task.partition}: no reply sent; the coordinator hands the partition out again when the lease expires`,
        );
        continue;
      }
      const chunks = chunksOf(out);
      for (let c = 0; c < chunks.length; c++) {
        await request(
          s.reply,
          encodeFrame({
            round: task.round,
            partition: task.partition,
            attempt: task.attempt,
            worker,
            chunk: c,
            chunks: chunks.length,
            data: chunks[c],
          }),
        );
      }
      count++;
    }
  } finally {
    control.unsubscribe();
  }
  return { partitions: count };
}

function tryGone(d: Uint8Array): boolean {
  try {
    return decodeFrame<{ gone?: boolean }>(d).gone === true;
  } catch {
    return false;
  }
}
