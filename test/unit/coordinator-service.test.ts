/**
 * The coordinator's gRPC handlers and the worker's client in one process (real grpc-js on loopback): join, the
 * null model streamed in chunks of at most 1 MiB and verified, leases, a shard result accepted once and then
 * ignored as a duplicate, a result with the wrong line count refused, and a wrong job answered "join again";
 * the kinship phase (partials checked for size, checksum and SNP count, stored once); FetchGenotypes only for
 * the caller's current lease, rows and QC as in the file; a stopping coordinator (no leases, revoked
 * heartbeats, joins answered "stopping").
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
import { pb, CHUNK_BYTES, PROTOCOL_VERSION } from '../../shared/protocol/rpc.js';
import { RejoinRequired } from '../../shared/protocol/status.js';
import { DistributedError } from '../../shared/errors.js';
import { bfilePath, tempDir } from '../helpers/data.js';
import { BedFile } from '../../shared/genotype/plink.js';
import { decodeGenotypes } from '../../shared/protocol/genotypes-codec.js';
import { KINSHIP_LAYOUT } from '../../coordinator/shard-store.js';
import { LeaseInvalid } from '../../shared/protocol/status.js';

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
      const early = await conn.unary<pb.JoinRequest, pb.JoinReply>('join', { protocolVersion: PROTOCOL_VERSION, info: undefined });
      expect(early.retryAfterMs).toBe(50);
      expect(early.job).toBeUndefined();
      impl = coordinatorService(ctx);

      const j = await conn.unary<pb.JoinRequest, pb.JoinReply>('join', { protocolVersion: PROTOCOL_VERSION, info: { host: 'h', pid: 1, threads: 2, version: 'v', name: 'n' } });
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
      await expect(conn.submitShard({ ...header, payload: pb.ShardHeader_Payload.FINAL_ROWS, round: 1 }, lines, trailer)).rejects.toThrow(
        /FarmCPU\/GLM final rows sent to an MLM job/,
      );
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

  it('kinship phase: partials checked and stored once; genotypes only for a current lease; stopping', async () => {
    const log = memoryLogger();
    const geno = await BedFile.open(bfilePath('mouse_hs1940', 'mouse_hs1940'));
    const total = geno.snps.length;
    const n = geno.nSamples;
    const mask = new Uint8Array(total);
    const af = new Float64Array(total).fill(NaN);
    const nMiss = new Int32Array(total);
    for (let j = 0; j < total; j++) {
      mask[j] = j % 3 === 0 ? 0 : 1;
      af[j] = j / total;
      nMiss[j] = j % 7;
    }
    const analysed = Int32Array.from({ length: 100 }, (_, i) => 3 * i);
    const chunks = planShards(total, 8192, mask, 'kinship');
    const store = new ShardStore(join(tempDir('svc-kin'), 'out'), KINSHIP_LAYOUT);
    await store.open({ jobId: 'kin1', method: 'mlm-kinship', totalSnps: total, shardSize: 8192, shards: chunks.length, samples: n });
    const scheduler = new Scheduler(chunks, { leaseTimeoutMs: 5000, log });
    const ctx: ServiceContext = {
      job: { jobId: 'kin1', spec: pb.JobSpec.create({ jobId: 'kin1', kinship: { mode: 1, chunkSize: 8192, maskSha256: 'x' } }), kinshipSamples: n },
      scheduler,
      store,
      log,
      heartbeatMs: 1000,
      leaseTimeoutMs: 5000,
      longPollMs: 200,
      broadcasts: [],
      genotypes: { geno, qc: { mask, af, nMiss }, analysed },
    };
    const { server, port } = await serve(() => coordinatorService(ctx), '127.0.0.1:0', ServerCredentials.createInsecure(), 'tok', log);
    const conn = new Connection(`127.0.0.1:${port}`, 'tok', {}, 5000, log);
    try {
      const j = await conn.unary<pb.JoinRequest, pb.JoinReply>('join', { protocolVersion: PROTOCOL_VERSION, info: undefined });
      const other = await conn.unary<pb.JoinRequest, pb.JoinReply>('join', { protocolVersion: PROTOCOL_VERSION, info: undefined });
      await expect(conn.fetchNullModel(j.workerId, { sha256: 'x', sizeBytes: 1, formatVersion: 1, modelVersion: 1 })).rejects.toBeInstanceOf(RejoinRequired);
      const l = await conn.unary<pb.LeaseRequest, pb.LeaseReply>('lease', { workerId: j.workerId, jobId: 'kin1' });
      expect(l.shard).toMatchObject({ name: 'kinship-00000', start: 0, end: 8192, expectedSnps: chunks[0].expected });

      // Genotypes: only the holder of the current lease gets them, never another range.
      const req = { workerId: j.workerId, jobId: 'kin1', leaseId: l.shard!.leaseId };
      await expect(conn.fetchGenotypes({ ...req, workerId: other.workerId })).rejects.toBeInstanceOf(LeaseInvalid);
      await expect(conn.fetchGenotypes({ ...req, leaseId: 'kinship-00001#1' })).rejects.toBeInstanceOf(LeaseInvalid);
      await expect(conn.fetchGenotypes({ ...req, jobId: 'other' })).rejects.toBeInstanceOf(RejoinRequired);
      const got = await conn.fetchGenotypes(req);
      expect(got.header.encoding).toBe(pb.GenotypesHeader_Encoding.PLINK_BED);
      expect(got.header.rows).toBe(chunks[0].expected);
      expect(got.rows.length).toBe(chunks[0].expected * geno.bytesPerSnp);
      const r = decodeGenotypes(got.header, got.rows, total, 'test');
      expect(Array.from(r.analysed)).toEqual(Array.from(analysed));
      expect(r.source.snps[8191]).toEqual(geno.snps[8191]);
      expect(r.source.snps[8192]).toBeUndefined();
      for (const j2 of [0, 1, 5000, 8191]) {
        expect(r.qc.mask[j2]).toBe(mask[j2]);
        expect(r.qc.af[j2]).toBe(af[j2]);
        expect(r.qc.nMiss[j2]).toBe(nMiss[j2]);
      }
      // The received rows decode to the file's dosages (all samples, and the analysed ones).
      for (const keep of [null, analysed]) {
        const want = geno.blocks({ start: 0, end: 8192, snpMask: mask, keep, blockSize: 1000 });
        for await (const b of r.source.blocks({ start: 0, end: 8192, snpMask: mask, keep, blockSize: 1000 })) {
          const w = (await want.next()).value!;
          expect(Array.from(b.indices)).toEqual(Array.from(w.indices));
          expect(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength).equals(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength))).toBe(true);
        }
        expect((await want.next()).done).toBe(true);
      }
      await expect(r.source.blocks({ start: 0, end: 10, blockSize: 4 }).next()).rejects.toThrow(/SNP 0 did not pass the coordinator's QC/);

      // Partials: size, checksum and SNP count are checked; the first valid one is stored, later ones ignored.
      const data = Buffer.alloc(8 * ((n * (n + 1)) / 2), 7);
      const header = { workerId: j.workerId, jobId: 'kin1', leaseId: l.shard!.leaseId, index: 0, start: 0, end: 8192, samples: n };
      const trailer = { snps: chunks[0].expected, sha256: sha(data), seconds: 1 };
      await expect(conn.submitKinship({ ...header, samples: n - 1 }, data, trailer)).rejects.toThrow(/for 1939 samples/);
      await expect(conn.submitKinship(header, data.subarray(8), { ...trailer, sha256: sha(data.subarray(8)) })).rejects.toThrow(/bytes, expected/);
      await expect(conn.submitKinship(header, data, { ...trailer, snps: 1 })).rejects.toThrow(/sums 1 SNPs, expected/);
      await expect(conn.submitShard(header, data, { lineCount: 1, sha256: sha(data), scanSeconds: 0 })).rejects.toThrow(/kinship phase/);
      expect((await conn.submitKinship(header, data, trailer)).outcome).toBe(pb.SubmitReply_Outcome.ACCEPTED);
      expect((await conn.submitKinship(header, data, trailer)).outcome).toBe(pb.SubmitReply_Outcome.DUPLICATE);
      expect(readFileSync(store.tsvPath(chunks[0])).equals(data)).toBe(true);
      expect(ctx.kinshipTransfers!.length).toBeGreaterThanOrEqual(1);

      // Stopping: no more leases, every heartbeat revokes, joins are told.
      const l1 = await conn.unary<pb.LeaseRequest, pb.LeaseReply>('lease', { workerId: j.workerId, jobId: 'kin1' });
      expect(l1.shard?.name).toBe('kinship-00001');
      scheduler.stop('SIGTERM on the coordinator');
      const hb = await conn.unary<pb.HeartbeatRequest, pb.HeartbeatReply>('heartbeat', { workerId: j.workerId, leaseIds: [l1.shard!.leaseId], snpsDone: 0 });
      expect(hb).toMatchObject({ revoked: [l1.shard!.leaseId], coordinatorStopping: true, jobDone: false });
      expect((await conn.unary<pb.LeaseRequest, pb.LeaseReply>('lease', { workerId: other.workerId, jobId: 'kin1' })).stopping?.reason).toMatch(/SIGTERM/);
      expect((await conn.unary<pb.JoinRequest, pb.JoinReply>('join', { protocolVersion: PROTOCOL_VERSION, info: undefined })).coordinatorStopping).toBe(true);
      expect(scheduler.untold()).toBe(0);
    } finally {
      conn.close();
      await shutdown(server, 500);
      await geno.close();
    }
  });
});
