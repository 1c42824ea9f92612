/**
 * The NATS round layer against a real nats-server: every partition answered once and in order, a worker that
 * vanishes mid-partition is replaced, a NATS server restarted mid-round is survived, duplicates are dropped.
 */
import type { NatsConnection } from 'nats';
import {
  connectNats,
  fetchSetup,
  RoundCoordinator,
  serveRounds,
  type RoundTask,
} from '../../shared/protocol/nats-rounds.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frames.js';
import { memoryLogger } from '../../shared/log.js';
import { startNatsServer, type NatsServer } from '../helpers/nats.js';

/** A deterministic "scan": the partition's range and a checksum of the payload, large enough to need chunks. */
function fakeScan(task: RoundTask, payload: Uint8Array): Uint8Array {
  const p = decodeFrame<{ x: Float64Array }>(payload);
  const out = new Float64Array(100_000 + task.partition);
  for (let i = 0; i < out.length; i++) out[i] = p.x[i % p.x.length] * (task.start + 1) + i;
  return encodeFrame({ start: task.start, end: task.end, out });
}

function expected(start: number, partition: number, x: Float64Array): Float64Array {
  const out = new Float64Array(100_000 + partition);
  for (let i = 0; i < out.length; i++) out[i] = x[i % x.length] * (start + 1) + i;
  return out;
}

/** Bit equality of two float arrays (vitest's deep equality is slow on 10^5 elements and would stall the event loop). */
function sameBits(a: Float64Array, b: Float64Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

describe('FarmCPU rounds over a real nats-server', () => {
  let server: NatsServer;
  const conns: NatsConnection[] = [];
  const log = memoryLogger();
  beforeAll(async () => {
    server = await startNatsServer({ token: 's3cret' });
  });
  afterAll(async () => {
    for (const c of conns) await c.close().catch(() => {});
    await server?.stop();
  });
  const conn = async (name: string) => {
    const c = await connectNats(server.url, { token: 's3cret' }, name, log);
    conns.push(c);
    return c;
  };

  it('runs rounds to the barrier with two workers, survives a vanished worker and a server restart', async () => {
    const job = 'test1';
    const coord = new RoundCoordinator(await conn('coord'), job, log, {
      leaseTimeoutMs: 600,
      roundDeadlineMs: 30_000,
      heartbeatMs: 100,
    });
    const setup = Float64Array.from({ length: 100_000 }, (_, i) => i / 3); // 800 kB: two chunks
    coord.start(encodeFrame({ setup }));
    expect(
      sameBits(
        decodeFrame<{ setup: Float64Array }>(await fetchSetup(await conn('S'), job, log)).setup,
        setup,
      ),
    ).toBe(true);
    const parts = Array.from({ length: 9 }, (_, i) => ({ start: i * 10, end: i * 10 + 10 }));
    const payloadX = Float64Array.from({ length: 200_000 }, (_, i) => i * 0.5); // 1.6 MB: several chunks
    const payload = encodeFrame({ x: payloadX });

    // Worker A is well-behaved; worker B takes one partition and then "dies" (stops heartbeating, never replies).
    const ctlA = new AbortController();
    const a = serveRounds(await conn('A'), job, 'A', async (t, p) => fakeScan(t, p), {
      heartbeatMs: 100,
      log,
      signal: ctlA.signal,
    });
    const ncB = await conn('B');
    let bTook = 0;
    const ctlB = new AbortController();
    const b = serveRounds(
      ncB,
      job,
      'B',
      async (t, p) => {
        if (++bTook === 1) {
          void ncB.close(); // vanish mid-partition
          await new Promise((r) => ctlB.signal.addEventListener('abort', r));
        }
        return fakeScan(t, p);
      },
      { heartbeatMs: 100, log, signal: ctlB.signal },
    ).catch(() => ({ partitions: -1 }));

    const r1 = await coord.runRound(1, payload, parts);
    expect(r1.replies.length).toBe(9);
    r1.replies.forEach((bytes, i) => {
      const d = decodeFrame<{ start: number; out: Float64Array }>(bytes);
      expect(d.start).toBe(parts[i].start);
      expect(sameBits(d.out, expected(parts[i].start, i, payloadX))).toBe(true);
    });
    expect(bTook).toBe(1);
    expect(r1.stats.reassigned).toBeGreaterThanOrEqual(1);

    // Round 2 with the NATS server restarted while it runs.
    const r2p = coord.runRound(2, encodeFrame({ x: new Float64Array([2, 3]) }), parts);
    await new Promise((r) => setTimeout(r, 50));
    await server.restart(300);
    const r2 = await r2p;
    r2.replies.forEach((bytes, i) =>
      expect(
        sameBits(
          decodeFrame<{ out: Float64Array }>(bytes).out,
          expected(parts[i].start, i, new Float64Array([2, 3])),
        ),
      ).toBe(true),
    );

    coord.finish();
    expect((await a).partitions).toBeGreaterThanOrEqual(17);
    ctlB.abort();
    await b;
    await coord.close();
  }, 20_000);

  it('fails a round that cannot finish by its deadline, naming the missing partitions', async () => {
    const coord = new RoundCoordinator(await conn('coord2'), 'test2', log, {
      leaseTimeoutMs: 200,
      roundDeadlineMs: 800,
      heartbeatMs: 100,
    });
    coord.start();
    await expect(coord.runRound(1, encodeFrame({}), [{ start: 0, end: 5 }])).rejects.toThrow(
      /round 1 did not finish within 1 s \(1 of 1 partitions missing\)/,
    );
    await coord.close();
  });
});
