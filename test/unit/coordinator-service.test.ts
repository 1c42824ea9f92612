/**
 * The coordinator's gRPC handlers and the worker's client in one process (real grpc-js on loopback): join, the
 * null model streamed in chunks of at most 1 MiB and verified, leases, a shard result accepted once and then
 * ignored as a duplicate, a result with the wrong line count refused, and a wrong job answered "join again".
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServerCredentials } from '@grpc/grpc-js';
import { coordinatorService, preparingService, serve, shutdown, type ServiceContext } from '../../coordinator/server.js';
import { Scheduler, planShards } from '../../coordinator/scheduler.js';
import { ShardStore } from '../../coordinator/shard-store.js';
import { Connection } from '../../worker/connection.js';
import { memoryLogger } from '../../shared/log.js';
import { pb, CHUNK_BYTES } from '../../shared/protocol/rpc.js';
import { RejoinRequired } from '../../shared/protocol/status.js';
import { DistributedError } from '../../shared/errors.js';
import { tempDir } from '../helpers/data.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('coordinator service ⇄ worker connection', () => {
  it('serves the job, streams the model in chunks, accepts a shard once and refuses bad results', async () => {
    const log = memoryLogger();
    const model = Buffer.alloc(3 * CHUNK_BYTES + 12345);
    for (let i = 0; i < model.length; i++) model[i] = (i * 7919) & 255;
    const shards = planShards(4, 2, Uint8Array.from([1, 1, 1, 0]));
    const store = new ShardStore(join(tempDir('svc'), 'out'));
    await store.open({ jobId: 'job1', method: 'mlm', totalSnps: 4, shardSize: 2, shards: 2, nullModelSha256: sha(model) });
    const scheduler = new Scheduler(shards, { leaseTimeoutMs: 5000, log });
    const ref = { sha256: sha(model), sizeBytes: model.length, formatVersion: 1, modelVersion: 1 };
    const ctx: ServiceContext = {
      job: { jobId: 'job1', spec: pb.JobSpec.create({ jobId: 'job1', nullModel: ref }), model: { bytes: model, sha256: ref.sha256 } },
      scheduler,
      store,
      log,
      heartbeatMs: 1000,
      leaseTimeoutMs: 5000,
      longPollMs: 200,
      broadcasts: [],
    };
    let impl = preparingService(50);
    const { server, port } = await serve(() => impl, '127.0.0.1:0', ServerCredentials.createInsecure(), 'tok', log);
    const conn = new Connection(`127.0.0.1:${port}`, 'tok', {}, 5000, log);
    try {
      // While preparing: come back later.
      const early = await conn.unary<pb.JoinRequest, pb.JoinReply>('join', { protocolVersion: 1, info: undefined });
      expect(early.retryAfterMs).toBe(50);
      expect(early.job).toBeUndefined();
      impl = coordinatorService(ctx);

      const j = await conn.unary<pb.JoinRequest, pb.JoinReply>('join', { protocolVersion: 1, info: { host: 'h', pid: 1, threads: 2, version: 'v', name: 'n' } });
      expect(j.job?.jobId).toBe('job1');
      const got = await conn.fetchNullModel(j.workerId, ref);
      expect(Buffer.from(got).equals(model)).toBe(true);
      expect(got.byteOffset % 8).toBe(0);
      expect(ctx.broadcasts).toHaveLength(1);

      await expect(conn.unary('join', { protocolVersion: 99, info: undefined })).rejects.toThrow(/protocol 99/);
      await expect(conn.unary('lease', { workerId: j.workerId, jobId: 'other' })).rejects.toBeInstanceOf(RejoinRequired);
      await expect(conn.unary('lease', { workerId: 'w0-x', jobId: 'job1' })).rejects.toBeInstanceOf(RejoinRequired);

      const l = await conn.unary<pb.LeaseRequest, pb.LeaseReply>('lease', { workerId: j.workerId, jobId: 'job1' });
      expect(l.shard).toMatchObject({ name: 'shard-00000', start: 0, end: 2, expectedSnps: 2, attempt: 1 });
      const lines = Buffer.from('a\tline\nb\tline\n');
      const header = { workerId: j.workerId, jobId: 'job1', leaseId: l.shard!.leaseId, index: 0, start: 0, end: 2 };
      const trailer = { lineCount: 2, sha256: sha(lines), scanSeconds: 0.1 };
      await expect(conn.submitShard(header, Buffer.from('a\n'), { ...trailer, lineCount: 1, sha256: sha(Buffer.from('a\n')) })).rejects.toThrow(
        /has 1 lines, expected 2/,
      );
      await expect(conn.submitShard(header, lines, { ...trailer, sha256: sha(Buffer.from('x')) })).rejects.toThrow(/checksum mismatch/);
      await expect(conn.submitShard({ ...header, end: 3 }, lines, trailer)).rejects.toBeInstanceOf(DistributedError);
      expect((await conn.submitShard(header, lines, trailer)).outcome).toBe(pb.SubmitReply_Outcome.ACCEPTED);
      expect((await conn.submitShard(header, lines, trailer)).outcome).toBe(pb.SubmitReply_Outcome.DUPLICATE);
      expect(readFileSync(store.tsvPath(shards[0]))).toEqual(lines);
      expect(log.lines.some((x) => /duplicate result for shard-00000/.test(x))).toBe(true);

      const hb = await conn.unary<pb.HeartbeatRequest, pb.HeartbeatReply>('heartbeat', { workerId: j.workerId, leaseIds: [l.shard!.leaseId], snpsDone: 0 });
      expect(hb.revoked).toEqual([l.shard!.leaseId]);
      // Nothing to lease while shard 1 is out: the long-poll answers `wait`, then `done` after finish().
      const l1 = await conn.unary<pb.LeaseRequest, pb.LeaseReply>('lease', { workerId: j.workerId, jobId: 'job1' });
      expect(l1.shard?.name).toBe('shard-00001');
      expect((await conn.unary<pb.LeaseRequest, pb.LeaseReply>('lease', { workerId: j.workerId, jobId: 'job1' })).wait).toBeDefined();
      scheduler.finish();
      expect((await conn.unary<pb.LeaseRequest, pb.LeaseReply>('lease', { workerId: j.workerId, jobId: 'job1' })).done).toBeDefined();
    } finally {
      conn.close();
      await shutdown(server, 500);
    }
  });
});
