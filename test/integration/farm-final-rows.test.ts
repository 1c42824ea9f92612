/**
 * The final round of a distributed FarmCPU/GLM run, failure by failure, with real parts in one process: a real
 * nats-server (rounds), the coordinator's real gRPC service (natsJobService: join token, SubmitShard FINAL_ROWS
 * into PREFIX.shards/) and real worker clients (worker/connection.ts, grpcRowsSubmitter). The partition scans are
 * synthetic (the rows are a function of the partition), so every fault is placed exactly:
 * - a worker that dies after its rows arrived by gRPC but before its NATS reply: the partition is re-leased, the
 *   second submission is a duplicate (ignored), the second reply is accepted — one result kept;
 * - rows whose sha256 does not match (damaged in transit): refused, no reply, the partition scanned again;
 * - a stored file damaged before the reply is checked: the reply is refused, the file deleted, the partition
 *   scanned and submitted again.
 * The bus must still hand the round logic every partition's rows bit for bit.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServerCredentials } from '@grpc/grpc-js';
import type { NatsConnection } from 'nats';
import { natsJobService } from '../../coordinator/farm-run.js';
import { FarmResults } from '../../coordinator/farm-results.js';
import { serve, shutdown } from '../../coordinator/server.js';
import { Connection } from '../../worker/connection.js';
import { grpcRowsSubmitter, type GrpcLink } from '../../worker/farm.js';
import { memoryLogger } from '../../shared/log.js';
import { pb, PROTOCOL_VERSION } from '../../shared/protocol/rpc.js';
import {
  connectNats,
  RoundCoordinator,
  serveRounds,
  type RoundTask,
} from '../../shared/protocol/nats-rounds.js';
import {
  handOffFinalRows,
  NatsRoundBus,
  type SubmitRows,
  type WireReply,
} from '../../shared/protocol/farm-bus.js';
import { decodeFrame } from '../../shared/protocol/frames.js';
import type { FinalRows, RoundRequest } from '../../shared/methods/farmcpu/protocol.js';
import { startNatsServer, type NatsServer } from '../helpers/nats.js';
import { tempDir } from '../helpers/data.js';

const bits = (a: Float64Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The synthetic final rows of SNPs [start, end): distinct per SNP, with the specials a real scan yields. */
function rowsOf(start: number, end: number): FinalRows {
  const n = end - start;
  const f = (k: number) =>
    Float64Array.from({ length: n }, (_, i) => Math.sin(k * 1000 + start + i) / (i + 1));
  const r: FinalRows = {
    start,
    effect: f(1),
    se: f(2),
    p: f(3).map(Math.abs),
    log10p: f(4),
    nMiss: Int32Array.from({ length: n }, (_, i) => (start + i) % 5),
    af: f(5),
    afAll: f(6),
    a1Sum: f(7),
  };
  r.effect[0] = NaN;
  r.se[0] = NaN;
  r.p[1] = 0;
  r.log10p[1] = -Infinity;
  return r;
}

function replyOf(task: RoundTask, round: number): WireReply {
  return {
    round,
    partition: task.partition,
    start: task.start,
    end: task.end,
    leads: [],
    rewardP: new Float64Array(0),
    candidates: [],
    minP: 0,
    minNonZeroP: 1e-9,
    seconds: 0.01,
    rows: rowsOf(task.start, task.end),
  };
}

describe('FarmCPU/GLM final rows over gRPC, with faults', () => {
  let nats: NatsServer;
  const conns: NatsConnection[] = [];
  beforeAll(async () => {
    nats = await startNatsServer({ token: 'nt' });
  });
  afterAll(async () => {
    for (const c of conns) await c.close().catch(() => {});
    await nats?.stop();
  });

  it('a worker dead before its NATS reply, a damaged transfer and a damaged file: one verified result per partition', async () => {
    const log = memoryLogger();
    const natsConn = async (name: string) => {
      const c = await connectNats(nats.url, { token: 'nt' }, name, log);
      conns.push(c);
      return c;
    };
    const job = 'finalrows1';
    const prefix = join(tempDir('farm-final'), 'out');
    const ranges = [0, 1, 2, 3].map((id) => ({ id, start: id * 50, end: id * 50 + (id === 3 ? 33 : 50) }));
    const m = 183;
    const spec = pb.JobSpec.create({ jobId: 'job-final', method: 'farmcpu', nats: { url: nats.url, job } });
    const results = new FarmResults(prefix, spec.jobId, 'farmcpu', log);
    await results.open(ranges, m);
    const service = natsJobService(spec, 100, results, log);
    const { server, port } = await serve(
      () => service,
      '127.0.0.1:0',
      ServerCredentials.createInsecure(),
      'tok',
      log,
    );
    const coord = new RoundCoordinator(await natsConn('coord'), job, log, {
      leaseTimeoutMs: 400,
      roundDeadlineMs: 8_000,
      heartbeatMs: 100,
    });
    coord.start();
    const bus = new NatsRoundBus(coord, m, ranges, log, results);
    const grpc: Connection[] = [];
    /** A worker's gRPC side: joins (the coordinator checks the id on SubmitShard) and submits like worker/farm.ts. */
    const joinGrpc = async (): Promise<SubmitRows> => {
      const conn = new Connection(`127.0.0.1:${port}`, 'tok', {}, 5000, log);
      grpc.push(conn);
      const j = await conn.unary<pb.JoinRequest, pb.JoinReply>('join', {
        protocolVersion: PROTOCOL_VERSION,
        info: undefined,
      });
      const link: GrpcLink = {
        coordinator: '',
        token: 'tok',
        tls: {},
        timeoutMs: 5000,
        workerId: j.workerId,
      };
      return grpcRowsSubmitter(conn, link, spec, log);
    };
    const scanOf =
      (submit: SubmitRows, after?: (task: RoundTask) => Promise<void>) =>
      async (task: RoundTask, payload: Uint8Array) => {
        const req = decodeFrame<RoundRequest>(payload);
        const out = await handOffFinalRows(replyOf(task, req.round), task, submit);
        if (out && after) await after(task);
        return out;
      };

    try {
      const round = bus.scan({
        round: 3,
        qtns: [],
        binSizes: [],
        leadsWithGenotypes: 0,
        genotypeMaxP: 0,
        final: true,
      });

      // Worker A: its rows reach the coordinator by gRPC, then it dies (NATS gone) before replying.
      const ncA = await natsConn('A');
      const submitA = await joinGrpc();
      let died!: () => void;
      const aDied = new Promise<void>((r) => (died = r));
      const a = serveRounds(
        ncA,
        job,
        'A',
        scanOf(submitA, async () => {
          await ncA.close();
          died();
          throw new Error('worker A died');
        }),
        { heartbeatMs: 100, log },
      ).catch(() => {}); // A's own failure ("died")
      await aDied;
      const fileA = join(`${prefix}.shards`, 'final-00000.rows');
      expect(existsSync(fileA)).toBe(true);

      // Worker F: its first submission is damaged in transit; after its second it damages the stored file.
      const submitF0 = await joinGrpc();
      let calls = 0;
      const submitF: SubmitRows = (u) =>
        ++calls === 1 ? submitF0({ ...u, sha256: '0'.repeat(64) }) : submitF0(u);
      const ctlF = new AbortController();
      const f = serveRounds(
        await natsConn('F'),
        job,
        'F',
        scanOf(submitF, async (task) => {
          if (calls === 2)
            writeFileSync(join(`${prefix}.shards`, `final-0000${task.partition}.rows`), 'damaged');
        }),
        { heartbeatMs: 100, log, signal: ctlF.signal },
      );

      const replies = await round;
      ctlF.abort();
      coord.finish();
      await Promise.all([a, f.catch(() => {})]);

      // The round logic gets every partition's rows, bit for bit.
      expect(replies).toHaveLength(4);
      for (const [k, r] of replies.entries()) {
        const want = rowsOf(ranges[k].start, ranges[k].end);
        expect(r.rows, `partition ${k}`).not.toBeNull();
        for (const c of ['effect', 'se', 'p', 'log10p', 'nMiss', 'af', 'afAll', 'a1Sum'] as const)
          expect(bits(r.rows![c]).equals(bits(want[c])), `partition ${k} ${c}`).toBe(true);
        expect((r as WireReply).rowsRef).toBeUndefined();
      }
      const st = results.stats;
      // Kept: partition 0 from A; the damaged file of the second partition F sent was replaced by a resubmission.
      expect(st.received).toBe(5);
      expect(st.duplicates).toBe(1);
      expect(st.refused).toBe(1);
      expect(st.kept.map((x) => x.name)).toEqual([
        'final-00000',
        'final-00001',
        'final-00002',
        'final-00003',
      ]);
      for (const k of st.kept) {
        const data = readFileSync(join(`${prefix}.shards`, `${k.name}.rows`));
        expect(createHash('sha256').update(data).digest('hex')).toBe(k.sha256);
        expect(readFileSync(join(`${prefix}.shards`, `${k.name}.rows.sha256`), 'utf8')).toBe(
          `${k.sha256}  ${k.name}.rows\n`,
        );
      }
      const [stats] = bus.stats;
      expect(stats.reassigned).toBe(2); // A's partition, and the one whose transfer was refused
      expect(stats.refused).toBe(1); // the reply whose stored file was damaged
      expect(log.lines.some((l) => /checksum mismatch \(damaged in transit\); refused/.test(l))).toBe(true);
      expect(log.lines.some((l) => /does not match its checksum \(deleted\)/.test(l))).toBe(true);
      expect(log.lines.some((l) => /duplicate final rows for final-00000/.test(l))).toBe(true);

      // --no-keep-shards: the final rows go, files of others (an MLM job.json) stay.
      writeFileSync(join(`${prefix}.shards`, 'job.json'), '{}');
      await results.finish(false);
      expect(existsSync(fileA)).toBe(false);
      expect(existsSync(join(`${prefix}.shards`, 'farm.json'))).toBe(false);
      expect(existsSync(join(`${prefix}.shards`, 'job.json'))).toBe(true);
    } finally {
      for (const c of grpc) c.close();
      await coord.close();
      await shutdown(server);
    }
  }, 30_000);
});
