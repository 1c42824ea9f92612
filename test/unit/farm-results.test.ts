/**
 * The FarmCPU/GLM coordinator's SubmitShard (final rows) over real grpc-js on loopback: the join token, the
 * header checks (job, worker, payload kind, final round, partition range), the size limit, the row count, an
 * accepted result written with its sha256 and read back bit for bit, a duplicate ignored; a NATS reply whose
 * name or result does not match is refused; and `PREFIX.shards/` is cleaned of an earlier run's final rows.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServerCredentials } from '@grpc/grpc-js';
import { natsJobService } from '../../coordinator/farm-run.js';
import { FarmResults } from '../../coordinator/farm-results.js';
import { serve, shutdown } from '../../coordinator/server.js';
import { Connection } from '../../worker/connection.js';
import { memoryLogger } from '../../shared/log.js';
import { pb, PROTOCOL_VERSION } from '../../shared/protocol/rpc.js';
import { RejoinRequired } from '../../shared/protocol/status.js';
import { encodeFinalRows, FINAL_ROWS_FORMAT } from '../../shared/protocol/final-rows-codec.js';
import type { FinalRows } from '../../shared/methods/farmcpu/protocol.js';
import { tempDir } from '../helpers/data.js';
import { farmStoreKey } from '../../coordinator/farm-resume.js';
import { encodeFrame } from '../../shared/protocol/frames.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function rowsOf(start: number, n: number): FinalRows {
  const f = (k: number) => Float64Array.from({ length: n }, (_, i) => k + (start + i) / 7);
  return {
    start,
    effect: f(1),
    se: f(2),
    p: f(3),
    log10p: f(4),
    nMiss: Int32Array.from({ length: n }, (_, i) => i),
    af: f(5),
    afAll: f(6),
    a1Sum: f(7),
  };
}

describe('FarmCPU/GLM coordinator: final rows by SubmitShard', () => {
  it('checks every header field, the size and count, keeps one result per partition', async () => {
    const log = memoryLogger();
    const prefix = join(tempDir('farm-results'), 'out');
    // An earlier FarmCPU run with the same --out (another job id) left final rows; an MLM job.json is not ours.
    mkdirSync(`${prefix}.shards`, { recursive: true });
    writeFileSync(join(`${prefix}.shards`, 'farm.json'), JSON.stringify({ format: 1, jobId: 'old' }));
    writeFileSync(join(`${prefix}.shards`, 'final-00007.rows'), 'old');
    writeFileSync(join(`${prefix}.shards`, 'job.json'), '{}');
    const ranges = [
      { id: 0, start: 0, end: 4 },
      { id: 1, start: 4, end: 7 },
    ];
    const results = new FarmResults(prefix, 'job-f', 'glm', log);
    await results.open(ranges, 7);
    expect(existsSync(join(`${prefix}.shards`, 'final-00007.rows'))).toBe(false);
    expect(existsSync(join(`${prefix}.shards`, 'job.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(`${prefix}.shards`, 'farm.json'), 'utf8')).jobId).toBe('job-f');

    const spec = pb.JobSpec.create({ jobId: 'job-f', method: 'glm', nats: { url: 'nats://x:1', job: 'j' } });
    const service = natsJobService(spec, 1000, results, log);
    const { server, port } = await serve(
      () => service,
      '127.0.0.1:0',
      ServerCredentials.createInsecure(),
      'tok',
      log,
    );
    const conn = new Connection(`127.0.0.1:${port}`, 'tok', {}, 5000, log);
    const intruder = new Connection(`127.0.0.1:${port}`, 'wrong', {}, 5000, log);
    try {
      const j = await conn.unary<pb.JoinRequest, pb.JoinReply>('join', {
        protocolVersion: PROTOCOL_VERSION,
        info: undefined,
      });
      const data = encodeFinalRows(rowsOf(4, 3));
      const head = (o: Partial<pb.ShardHeader> = {}) =>
        pb.ShardHeader.create({
          workerId: j.workerId,
          jobId: 'job-f',
          index: 1,
          start: 4,
          end: 7,
          payload: pb.ShardHeader_Payload.FINAL_ROWS,
          round: 5,
          ...o,
        });
      const tail = (o: Partial<pb.ShardTrailer> = {}) =>
        pb.ShardTrailer.create({ lineCount: 3, sha256: sha(data), ...o });
      const submit = (h = head(), d: Buffer = data, t = tail()) => conn.submitShard(h, d, t);

      // No final round yet.
      await expect(submit()).rejects.toThrow(/not the final round \(none running\)/);
      results.expectFinal(5);
      await expect(intruder.submitShard(head(), data, tail())).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
      });
      await expect(submit(head({ jobId: 'other' }))).rejects.toBeInstanceOf(RejoinRequired);
      await expect(submit(head({ workerId: 'w9' }))).rejects.toThrow(/w9 has not joined/);
      await expect(submit(head({ payload: pb.ShardHeader_Payload.ASSOC_LINES }))).rejects.toThrow(
        /only FINAL_ROWS/,
      );
      await expect(submit(head({ round: 4 }))).rejects.toThrow(/round 4 is not the final round \(5\)/);
      await expect(submit(head({ end: 8 }))).rejects.toThrow(/no partition 1 \[4, 8\)/);
      await expect(submit(head({ index: 2 }))).rejects.toThrow(/no partition 2/);
      await expect(submit(head(), Buffer.concat([data, Buffer.alloc(8)]))).rejects.toThrow(/more than the/);
      const short = encodeFinalRows(rowsOf(4, 2));
      await expect(submit(head(), short, tail({ sha256: sha(short), lineCount: 2 }))).rejects.toThrow(
        /2 rows, expected 3/,
      );
      await expect(submit(head(), short, tail({ sha256: sha(short) }))).rejects.toThrow(
        /rows \[4, 6\), expected \[4, 7\)/,
      );
      const shifted = encodeFinalRows(rowsOf(5, 3));
      await expect(submit(head(), shifted, tail({ sha256: sha(shifted) }))).rejects.toThrow(
        /rows \[5, 8\), expected \[4, 7\)/,
      );
      await expect(submit(head(), data, tail({ sha256: sha(short) }))).rejects.toThrow(/checksum mismatch/);
      expect(results.stats.received).toBe(0);
      expect(existsSync(join(`${prefix}.shards`, 'final-00001.rows'))).toBe(false);

      expect((await submit()).outcome).toBe(pb.SubmitReply_Outcome.ACCEPTED);
      expect((await submit()).outcome).toBe(pb.SubmitReply_Outcome.DUPLICATE);
      const file = join(`${prefix}.shards`, 'final-00001.rows');
      expect(readFileSync(file).equals(data)).toBe(true);
      expect(readFileSync(`${file}.sha256`, 'utf8')).toBe(`${sha(data)}  final-00001.rows\n`);
      expect(results.stats).toMatchObject({ received: 1, duplicates: 1, refused: 4, bytes: data.length });

      // The NATS reply's reference: checked by name and against what was received, never opened as a path.
      const ref = { name: 'final-00001', sha256: sha(data), bytes: data.length, format: FINAL_ROWS_FORMAT };
      const got = await results.load(1, ref, 'W');
      expect(typeof got).not.toBe('string');
      expect(Buffer.from((got as FinalRows).p.buffer).equals(Buffer.from(rowsOf(4, 3).p.buffer))).toBe(true);
      expect(await results.load(1, { ...ref, name: '../../etc/passwd' }, 'W')).toMatch(
        /names "..\/..\/etc\/passwd"/,
      );
      expect(await results.load(1, undefined, 'W')).toMatch(/names no final rows/);
      expect(await results.load(1, { ...ref, format: 9 }, 'W')).toMatch(/format 9/);
      expect(await results.load(0, { ...ref, name: 'final-00000' }, 'W')).toMatch(
        /no final rows for final-00000/,
      );
      // A worker whose rows differ from the kept ones: the first result is kept, with a warning.
      expect(typeof (await results.load(1, { ...ref, sha256: 'f'.repeat(64) }, 'W'))).not.toBe('string');
      expect(log.lines.some((l) => /computed rows with sha256 ffffffffffff…/.test(l))).toBe(true);

      // (An MLM coordinator refuses FINAL_ROWS: test/unit/coordinator-service.test.ts.)
      await results.finish(true);
      expect(existsSync(file)).toBe(true);
    } finally {
      conn.close();
      intruder.close();
      await shutdown(server);
    }
  });

  it('resume: the round checkpoint by request hash, verified; the store key follows the setup and the input files', async () => {
    const log = memoryLogger();
    const dir = tempDir('farm-resume');
    const prefix = join(dir, 'out');
    const ranges = [{ id: 0, start: 0, end: 4 }];
    const input = join(dir, 'geno.txt');
    writeFileSync(input, 'x');
    const setup = encodeFrame({ y: new Float64Array([1, 2, 3]) });
    const key = await farmStoreKey(setup, { geno: input });
    expect(await farmStoreKey(encodeFrame({ y: new Float64Array([1, 2, 3]) }), { geno: input })).toBe(key);
    expect(await farmStoreKey(encodeFrame({ y: new Float64Array([1, 2, 4]) }), { geno: input })).not.toBe(
      key,
    );
    utimesSync(input, new Date(1e12), new Date(1e12));
    const touched = await farmStoreKey(setup, { geno: input });
    expect(touched).not.toBe(key);

    const first = new FarmResults(prefix, 'run-1', 'farmcpu', log);
    expect((await first.open(ranges, 4, touched)).resumed).toBe(false);
    const req = encodeFrame({ round: 1, qtns: [] });
    const replies = [encodeFrame({ partition: 0, minP: NaN }), new Uint8Array([1, 2, 3])];
    expect(await first.rounds.get(req)).toBeNull();
    await first.rounds.put(req, replies);
    const back = await first.rounds.get(req);
    expect(back?.map((b) => Buffer.from(b).toString('hex'))).toEqual(
      replies.map((b) => Buffer.from(b).toString('hex')),
    );
    expect(await first.rounds.get(encodeFrame({ round: 2, qtns: [] }))).toBeNull();

    // Same inputs in a new process: kept and reused; a damaged checkpoint file is not used.
    const second = new FarmResults(prefix, 'run-2', 'farmcpu', log);
    expect((await second.open(ranges, 4, touched)).resumed).toBe(true);
    expect(await second.rounds.get(req)).not.toBeNull();
    const file = second.rounds.path(req);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    expect(await second.rounds.get(req)).toBeNull();
    expect(log.lines.some((l) => /does not match its checksum; the round is run again/.test(l))).toBe(true);
    await second.rounds.put(req, replies);

    // Other inputs: the earlier checkpoint is deleted, never reused.
    const third = new FarmResults(prefix, 'run-3', 'farmcpu', log);
    expect((await third.open(ranges, 4, key)).resumed).toBe(false);
    expect(readdirSync(`${prefix}.shards`).filter((f) => f.startsWith('round-'))).toEqual([]);
    expect(await third.rounds.get(req)).toBeNull();
  });
});
