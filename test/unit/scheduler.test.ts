/**
 * Lease semantics of the coordinator's scheduler on a fake clock: lowest shard first, heartbeats extend,
 * expiry re-leases with the next attempt, revoked leases, duplicates, failures, leaving, unknown workers.
 */
import { Scheduler, planShards, shardName } from '../../coordinator/scheduler.js';
import { memoryLogger } from '../../shared/log.js';
import { GwasError } from '../../shared/errors.js';
import { RejoinRequired } from '../../shared/protocol/status.js';

function setup(shards = 3, ttl = 1000) {
  let now = 0;
  const log = memoryLogger();
  const mask = new Uint8Array(shards * 10).fill(1);
  mask[0] = 0;
  const s = new Scheduler(planShards(shards * 10, 10, mask), { leaseTimeoutMs: ttl, log, now: () => now });
  return { s, log, tick: (ms: number) => (now += ms) };
}

const leaseOf = (r: ReturnType<Scheduler['lease']>) => {
  if (!r || r === 'done' || r === 'stopping') throw new Error(`expected a lease, got ${r}`);
  return r;
};

describe('planShards', () => {
  it('cuts contiguous ranges with deterministic names and QC-pass counts', () => {
    const mask = Uint8Array.from([1, 0, 1, 1, 0, 1, 1]);
    expect(planShards(7, 3, mask)).toEqual([
      { index: 0, name: 'shard-00000', start: 0, end: 3, expected: 2 },
      { index: 1, name: 'shard-00001', start: 3, end: 6, expected: 2 },
      { index: 2, name: 'shard-00002', start: 6, end: 7, expected: 1 },
    ]);
    expect(shardName(12)).toBe('shard-00012');
    expect(() => planShards(7, 0, mask)).toThrow(/shard size/);
  });
});

describe('Scheduler', () => {
  it('leases the lowest pending shard; answers null when all are out and done after finish()', () => {
    const { s } = setup(2);
    const a = s.register('a');
    const b = s.register('b');
    expect(leaseOf(s.lease(a)).id).toBe('shard-00000#1');
    expect(leaseOf(s.lease(b)).shard.name).toBe('shard-00001');
    expect(s.lease(a)).toBeNull();
    s.finish();
    expect(s.lease(a)).toBe('done');
  });

  it('stop(): no more leases, heartbeats revoke everything and say so, done shards stay done, workers are told', () => {
    const { s } = setup(3);
    const a = s.register('a');
    const b = s.register('b');
    const l0 = leaseOf(s.lease(a));
    expect(s.validLease(a, l0.id)).toBe(l0);
    expect(s.validLease(b, l0.id)).toBeNull();
    expect(s.validLease(a, 'shard-00001#1')).toBeNull();
    expect(s.beginCommit(0, a)).toBe(true);
    s.commitDone(0, 1);
    expect(s.validLease(a, l0.id)).toBeNull(); // done: no longer a lease
    const l1 = leaseOf(s.lease(b));
    expect(s.untold()).toBe(2);
    s.stop('SIGTERM on the coordinator');
    expect(s.stopping).toBe('SIGTERM on the coordinator');
    expect(s.heartbeat(b, [l1.id])).toEqual({ revoked: [l1.id], jobDone: false, coordinatorStopping: true });
    expect(s.lease(a)).toBe('stopping');
    expect(s.untold()).toBe(0);
    expect(s.done).toBe(1);
  });

  it('retire(): the phase is over, leases and heartbeats answer "join again"', async () => {
    const { s } = setup(1);
    const a = s.register('a');
    const woke = s.changed(10_000);
    s.retire('the kinship phase is over: join again for the scan');
    await woke; // long-polls wake up at once
    expect(() => s.lease(a)).toThrow(RejoinRequired);
    expect(() => s.heartbeat(a, [])).toThrow(/kinship phase is over/);
  });

  it('heartbeats keep a lease; without them it expires and goes out again as the next attempt', () => {
    const { s, tick, log } = setup(1, 1000);
    const a = s.register('a');
    const b = s.register('b');
    const l1 = leaseOf(s.lease(a));
    tick(800);
    expect(s.heartbeat(a, [l1.id]).revoked).toEqual([]);
    tick(800); // 1600 ms after the lease, 800 after the heartbeat: still valid
    s.sweep();
    expect(s.lease(b)).toBeNull();
    tick(300);
    s.heartbeat(b, []); // b stays in touch
    s.sweep();
    const l2 = leaseOf(s.lease(b));
    expect(l2.id).toBe('shard-00000#2');
    expect(l2.attempt).toBe(2);
    expect(s.heartbeat(a, [l1.id]).revoked).toEqual([l1.id]);
    expect(log.lines.some((l) => /lease shard-00000#1 of worker w1-\w+ expired/.test(l))).toBe(true);
    expect(log.lines.some((l) => /worker w1-\w+ lost/.test(l))).toBe(true);
  });

  it('commits the first result only: later ones (even from the current holder) are duplicates', () => {
    const { s } = setup(1);
    const a = s.register('a');
    const b = s.register('b');
    const l1 = leaseOf(s.lease(a));
    // a's lease expires, b gets the shard, but a's late result arrives first: it is accepted.
    expect(s.beginCommit(l1.shard.index, a)).toBe(true);
    expect(s.beginCommit(0, b)).toBe(false); // while committing
    s.commitDone(0, 1.5);
    expect(s.beginCommit(0, b)).toBe(false);
    expect(s.done).toBe(1);
    expect(s.snpsDone).toBe(9);
    expect(s.allDone).toBe(true);
  });

  it('a failed commit (disk error) puts the shard back in the queue', () => {
    const { s } = setup(1);
    const a = s.register('a');
    leaseOf(s.lease(a));
    expect(s.beginCommit(0, a)).toBe(true);
    s.commitFailed(0);
    expect(leaseOf(s.lease(a)).attempt).toBe(2);
  });

  it('reported failures release the lease; repeated non-retryable ones fail the job', () => {
    const { s } = setup(1);
    const a = s.register('a');
    const err = new GwasError('INPUT_FORMAT', 'cannot read');
    for (let i = 0; i < 3; i++) s.fail(a, leaseOf(s.lease(a)).id, err);
    expect(s.failure).toBe(err);
    expect(s.lease(a)).toBeNull();
  });

  it('a leaving worker releases its leases at once; unknown ids must join again', () => {
    const { s } = setup(1);
    const a = s.register('a');
    const b = s.register('b');
    leaseOf(s.lease(a));
    s.leave(a);
    expect(leaseOf(s.lease(b)).attempt).toBe(2);
    expect(() => s.lease(a)).toThrow(RejoinRequired);
    expect(() => s.heartbeat('w9-0000', [])).toThrow(/unknown worker id/);
  });

  it('resumed shards count as done; requeue undoes it', () => {
    const { s } = setup(2);
    s.markDone(1);
    expect(s.done).toBe(1);
    s.requeue(1);
    expect(s.done).toBe(0);
    const a = s.register('a');
    expect(leaseOf(s.lease(a)).shard.index).toBe(0);
    expect(leaseOf(s.lease(a)).shard.index).toBe(1);
  });

  it('counts workers still to be told that the job is done', () => {
    const { s } = setup(1);
    const a = s.register('a');
    s.register('b');
    s.finish();
    expect(s.untold()).toBe(2);
    expect(s.lease(a)).toBe('done');
    expect(s.untold()).toBe(1);
  });
});
