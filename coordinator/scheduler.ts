/**
 * Shard scheduling for a distributed scan: which worker computes which shard, and until when. Pure state and
 * a clock: no sockets, no files (the gRPC handlers in server.ts and the disk store call into it).
 *
 * Shards are contiguous ranges of SNP indices, `shard-00012` = [12·size, 13·size) (in the kinship phase, the
 * same scheduler hands out kinship chunks, `kinship-00003`). A shard is pending, leased, committing (its result is
 * being written) or done.
 *
 * Lease semantics:
 * - A worker pulls a lease for the lowest pending shard. The lease `shard-00012#2` is attempt 2 of that shard;
 *   it is valid until its deadline, now + lease timeout.
 * - Every heartbeat of the holder moves the deadline of the leases it names to now + lease timeout; leases it
 *   no longer holds (expired and handed out again, or the shard is done) are returned as revoked.
 * - A lease whose deadline passes expires: the shard is pending again, and the next lease is attempt + 1.
 *   A worker not heard from for a lease timeout is logged as lost (its leases expire by the same rule).
 * - The first valid result for a shard is committed, from whoever sends it: results are deterministic, so the
 *   holder of an expired lease, or a worker that computed the shard for an earlier coordinator process of the
 *   same job, gives the same bytes. Any later result for a done (or committing) shard is a duplicate.
 * - A worker reporting a failure releases its lease at once. A shard that fails `maxFailures` times with a
 *   non-retryable error fails the job.
 * - {@link Scheduler.stop} (SIGTERM/SIGINT on the coordinator): no more leases; every heartbeat revokes the
 *   worker's leases and says the coordinator is stopping; shards done so far stay done.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../shared/log.js';
import { GwasError } from '../shared/errors.js';
import { RejoinRequired } from '../shared/protocol/status.js';

export interface ShardSpec {
  index: number;
  /** `shard-00012`. */
  name: string;
  /** SNP indices [start, end) of the genotype file. */
  start: number;
  end: number;
  /** SNPs of the range that pass QC: the number of result lines. */
  expected: number;
}

export function shardName(index: number, prefix = 'shard'): string {
  return `${prefix}-${String(index).padStart(5, '0')}`;
}

/**
 * Splits [0, total) into shards of `size` SNP indices; `mask` (QC keep flags) gives each shard's line count.
 * Names are `PREFIX-00012` (`shard-…` for scan shards, `kinship-…` for kinship chunks).
 */
export function planShards(total: number, size: number, mask: Uint8Array, prefix = 'shard'): ShardSpec[] {
  if (!(Number.isInteger(size) && size > 0))
    throw new RangeError(`shard size must be a whole number ≥ 1, not ${size}`);
  const shards: ShardSpec[] = [];
  for (let start = 0, index = 0; start < total; start += size, index++) {
    const end = Math.min(total, start + size);
    let expected = 0;
    for (let i = start; i < end; i++) expected += mask[i] ? 1 : 0;
    shards.push({ index, name: shardName(index, prefix), start, end, expected });
  }
  return shards;
}

export interface Lease {
  id: string;
  shard: ShardSpec;
  worker: string;
  attempt: number;
  deadline: number;
}

type ShardState =
  | { state: 'pending' }
  | { state: 'leased'; lease: Lease }
  | { state: 'committing'; worker: string }
  | { state: 'done'; worker: string | null };

interface WorkerEntry {
  id: string;
  label: string;
  lastSeen: number;
  lost: boolean;
  leases: Set<string>;
  told: boolean;
  shardsDone: number;
}

export interface SchedulerOptions {
  leaseTimeoutMs: number;
  log: Logger;
  now?: () => number;
  maxFailures?: number;
}

export class Scheduler {
  private readonly state: ShardState[];
  private readonly attempts: number[];
  private readonly failures: number[];
  private readonly leases = new Map<string, Lease>();
  private readonly workers = new Map<string, WorkerEntry>();
  private readonly listeners = new Set<() => void>();
  private readonly session = randomBytes(2).toString('hex');
  private readonly now: () => number;
  private seq = 0;
  private doneCount = 0;
  private doneSnps = 0;
  private jobDone = false;
  private stopReason: string | null = null;
  private retiredWhy: string | null = null;
  /** Set when a shard failed too often: the job cannot finish. */
  failure: GwasError | null = null;

  constructor(
    readonly shards: ShardSpec[],
    private readonly opts: SchedulerOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.state = shards.map(() => ({ state: 'pending' }));
    this.attempts = shards.map(() => 0);
    this.failures = shards.map(() => 0);
  }

  get total(): number {
    return this.shards.length;
  }
  get done(): number {
    return this.doneCount;
  }
  get snpsDone(): number {
    return this.doneSnps;
  }
  get allDone(): boolean {
    return this.doneCount === this.shards.length;
  }
  /** Whether workers are being told the job is done. */
  get finished(): boolean {
    return this.jobDone;
  }
  /** Why the coordinator is stopping before the job is done (null while it is not). */
  get stopping(): string | null {
    return this.stopReason;
  }

  /** Calls `fn` after every change of shard state (for long-polls and the coordinator's main loop). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves after the next change, or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve();
      }, ms);
      const off = this.onChange(() => {
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  private emit(): void {
    for (const fn of [...this.listeners]) fn();
  }

  /** Marks a shard done without a worker (verified on disk when the coordinator resumes). */
  markDone(index: number): void {
    if (this.state[index].state === 'done') return;
    this.state[index] = { state: 'done', worker: null };
    this.doneCount++;
    this.doneSnps += this.shards[index].expected;
  }

  /** Puts a done shard back in the queue (its file failed verification). */
  requeue(index: number): void {
    if (this.state[index].state !== 'done') return;
    this.state[index] = { state: 'pending' };
    this.doneCount--;
    this.doneSnps -= this.shards[index].expected;
    this.emit();
  }

  /** From now on, lease requests and heartbeats answer that the job is done. */
  finish(): void {
    this.jobDone = true;
    this.emit();
  }

  /**
   * The coordinator is stopping before the job is done: from now on, lease requests answer `'stopping'` and
   * heartbeats revoke every lease. Shards already done stay done; leased ones are simply abandoned.
   */
  stop(reason: string): void {
    if (this.stopReason !== null || this.jobDone) return;
    this.stopReason = reason;
    for (const w of this.workers.values()) w.told = false;
    this.emit();
  }

  /**
   * The phase is over (e.g. every kinship chunk is done and the coordinator moves on to the scan): from now on,
   * lease requests and heartbeats answer "join again" ({@link RejoinRequired}), and waiting long-polls wake up.
   */
  retire(why: string): void {
    this.retiredWhy = why;
    this.emit();
  }

  /** Marks the worker as told (it joined and was answered "stopping"). */
  told(workerId: string): void {
    const w = this.workers.get(workerId);
    if (w) w.told = true;
  }

  register(label: string): string {
    const id = `w${++this.seq}-${this.session}`;
    this.workers.set(id, {
      id,
      label,
      lastSeen: this.now(),
      lost: false,
      leases: new Set(),
      told: false,
      shardsDone: 0,
    });
    this.opts.log.info(`worker ${id} joined (${label})`, { event: 'joined', worker: id });
    return id;
  }

  /** Records contact from a worker; throws {@link RejoinRequired} for an id this coordinator did not issue. */
  touch(id: string): void {
    const w = this.workers.get(id);
    if (!w) throw new RejoinRequired(`unknown worker id ${id || '(none)'}: join again`);
    w.lastSeen = this.now();
    if (w.lost) {
      w.lost = false;
      this.opts.log.info(`worker ${id} is back`, { event: 'back', worker: id });
    }
  }

  workerLabel(id: string): string {
    return this.workers.get(id)?.label ?? id;
  }

  /**
   * A lease for the lowest pending shard, `'done'` when the job is done, `'stopping'` when the coordinator is
   * stopping, or null when every unfinished shard is leased or being committed (ask again later).
   */
  lease(workerId: string): Lease | 'done' | 'stopping' | null {
    if (this.retiredWhy !== null) throw new RejoinRequired(this.retiredWhy);
    this.touch(workerId);
    this.sweep();
    if (this.jobDone) {
      this.workers.get(workerId)!.told = true;
      return 'done';
    }
    if (this.stopReason !== null) {
      this.workers.get(workerId)!.told = true;
      return 'stopping';
    }
    if (this.failure) return null;
    const index = this.state.findIndex((s) => s.state === 'pending');
    if (index < 0) return null;
    const shard = this.shards[index];
    const attempt = ++this.attempts[index];
    const lease: Lease = {
      id: `${shard.name}#${attempt}`,
      shard,
      worker: workerId,
      attempt,
      deadline: this.now() + this.opts.leaseTimeoutMs,
    };
    this.state[index] = { state: 'leased', lease };
    this.leases.set(lease.id, lease);
    this.workers.get(workerId)!.leases.add(lease.id);
    this.opts.log.info(
      `lease ${shard.name} [${shard.start}, ${shard.end}) → worker ${workerId} (attempt ${attempt})`,
      {
        event: 'lease',
        worker: workerId,
        shard: shard.name,
        attempt,
      },
    );
    return lease;
  }

  /**
   * Extends the worker's valid leases among `leaseIds`; returns the ones it no longer holds (all of them when
   * the coordinator is stopping).
   */
  heartbeat(
    workerId: string,
    leaseIds: string[],
  ): { revoked: string[]; jobDone: boolean; coordinatorStopping: boolean } {
    if (this.retiredWhy !== null) throw new RejoinRequired(this.retiredWhy);
    this.touch(workerId);
    const stopping = this.stopReason !== null && !this.jobDone;
    const revoked: string[] = [];
    for (const id of leaseIds) {
      if (stopping) {
        revoked.push(id);
        continue;
      }
      if (this.validLease(workerId, id))
        this.leases.get(id)!.deadline = this.now() + this.opts.leaseTimeoutMs;
      else revoked.push(id);
    }
    if (this.jobDone || stopping) this.workers.get(workerId)!.told = true;
    return { revoked, jobDone: this.jobDone, coordinatorStopping: stopping };
  }

  /** The lease `leaseId` if it is current (not expired, not done) and held by `workerId`; else null. */
  validLease(workerId: string, leaseId: string): Lease | null {
    const lease = this.leases.get(leaseId);
    const s = lease && this.state[lease.shard.index];
    return lease && lease.worker === workerId && s?.state === 'leased' && s.lease === lease ? lease : null;
  }

  /**
   * Claims the right to commit a result for shard `index`: false when the shard is already done or being
   * committed (the result is a duplicate). On true, call {@link commitDone} or {@link commitFailed}.
   */
  beginCommit(index: number, workerId: string): boolean {
    const s = this.state[index];
    if (s.state === 'done' || s.state === 'committing') return false;
    if (s.state === 'leased') this.dropLease(s.lease);
    this.state[index] = { state: 'committing', worker: workerId };
    return true;
  }

  commitDone(index: number, seconds: number): void {
    const s = this.state[index];
    if (s.state !== 'committing') throw new Error(`commitDone: ${this.shards[index].name} is ${s.state}`);
    this.state[index] = { state: 'done', worker: s.worker };
    this.doneCount++;
    this.doneSnps += this.shards[index].expected;
    const w = this.workers.get(s.worker);
    if (w) w.shardsDone++;
    this.opts.log.info(
      `${this.shards[index].name} finished by worker ${s.worker}: ${this.shards[index].expected} SNPs in ${seconds.toFixed(2)} s`,
      { event: 'finished', worker: s.worker, shard: this.shards[index].name },
    );
    this.emit();
  }

  commitFailed(index: number): void {
    if (this.state[index].state === 'committing') this.state[index] = { state: 'pending' };
    this.emit();
  }

  /** The worker could not compute its lease. */
  fail(workerId: string, leaseId: string, err: GwasError): void {
    this.touch(workerId);
    const lease = this.leases.get(leaseId);
    if (!lease || lease.worker !== workerId) return;
    const index = lease.shard.index;
    const s = this.state[index];
    if (s.state === 'leased' && s.lease === lease) this.state[index] = { state: 'pending' };
    this.dropLease(lease);
    this.opts.log.warn(`worker ${workerId} failed on ${lease.shard.name}: ${err.message}`, {
      event: 'failed',
      worker: workerId,
      shard: lease.shard.name,
    });
    if (!err.retryable && ++this.failures[index] >= (this.opts.maxFailures ?? 3)) {
      this.failure ??= err;
      this.opts.log.warn(`${lease.shard.name} failed ${this.failures[index]} times; giving up`);
    }
    this.emit();
  }

  /** The worker left: its leases go back to the queue at once. */
  leave(workerId: string): void {
    const w = this.workers.get(workerId);
    if (!w) return;
    for (const id of [...w.leases]) this.expire(this.leases.get(id)!, 'the worker left');
    this.workers.delete(workerId);
    this.opts.log.info(`worker ${workerId} left (${w.shardsDone} shards done)`, {
      event: 'left',
      worker: workerId,
    });
    this.emit();
  }

  /** Expires overdue leases and marks silent workers lost. */
  sweep(): void {
    const now = this.now();
    let changed = false;
    for (const lease of [...this.leases.values()]) {
      if (lease.deadline < now) {
        this.expire(lease, `no heartbeat for ${(this.opts.leaseTimeoutMs / 1000).toFixed(1)} s`);
        changed = true;
      }
    }
    for (const w of this.workers.values()) {
      if (!w.lost && now - w.lastSeen > this.opts.leaseTimeoutMs) {
        w.lost = true;
        this.opts.log.warn(
          `worker ${w.id} lost (no contact for ${((now - w.lastSeen) / 1000).toFixed(1)} s)`,
          { event: 'lost', worker: w.id },
        );
      }
    }
    if (changed) this.emit();
  }

  /** Workers still to be told that the job is done (not lost, not left, not yet told). */
  untold(): number {
    let n = 0;
    for (const w of this.workers.values()) if (!w.lost && !w.told) n++;
    return n;
  }

  get workerCount(): number {
    return this.workers.size;
  }

  private expire(lease: Lease, why: string): void {
    const index = lease.shard.index;
    const s = this.state[index];
    if (s.state === 'leased' && s.lease === lease) {
      this.state[index] = { state: 'pending' };
      this.opts.log.warn(
        `lease ${lease.id} of worker ${lease.worker} expired (${why}); ${lease.shard.name} back in the queue`,
        {
          event: 'expired',
          worker: lease.worker,
          shard: lease.shard.name,
        },
      );
    }
    this.dropLease(lease);
  }

  private dropLease(lease: Lease): void {
    this.leases.delete(lease.id);
    this.workers.get(lease.worker)?.leases.delete(lease.id);
  }
}
