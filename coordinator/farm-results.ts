/**
 * The final rows of a distributed FarmCPU/GLM run, coordinator side: on the final round every partition's
 * per-SNP rows arrive by gRPC (SubmitShard with `payload: FINAL_ROWS`, the MLM result path: header, data
 * pieces, trailer with row count and sha256) and are kept in the shard store beside the output,
 * `PREFIX.shards/final-00003.rows` + `.sha256` (coordinator/shard-store.ts, FINAL_ROWS_LAYOUT). The NATS reply of
 * that partition then only names the result; {@link FarmResults.load} reads it back, verified, for the round
 * logic (shared/protocol/farm-bus.ts NatsRoundBus).
 *
 * Rules (as for MLM shards):
 * - the header must name this job, a worker that joined, the running final round and a partition of the job's
 *   table with its exact range; the data may not exceed the encoded size of that range; the trailer's sha256
 *   must match the bytes (else the result is refused: "damaged in transit") and the rows must decode as the
 *   partition's (format version, start, count);
 * - the first valid result for (round, partition) is written (atomically, checksum file last); any later one
 *   is answered DUPLICATE and ignored — every attempt computes the same bytes;
 * - no request names a path: files are named from the partition index, checked against the table; the name in
 *   a NATS reply is compared with that, never opened.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { DistributedError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { FinalRows } from '../shared/methods/farmcpu/protocol.js';
import { pb } from '../shared/protocol/rpc.js';
import { RejoinRequired } from '../shared/protocol/status.js';
import { decodeFinalRows, finalRowsSize, FINAL_ROWS_FORMAT } from '../shared/protocol/final-rows-codec.js';
import { finalRowsName, type FinalRowsRef, type FinalRowsStore } from '../shared/protocol/farm-bus.js';
import { FINAL_ROWS_LAYOUT, ShardStore } from './shard-store.js';
import { receiveUpload } from './server.js';
import type { ShardSpec } from './scheduler.js';
import { RoundFiles } from './farm-resume.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface FinalResultsStats {
  /** Results accepted (written) from SubmitShard. */
  received: number;
  /** Later results for a partition already kept (ignored). */
  duplicates: number;
  /** Results refused (bad header, checksum, size or encoding). */
  refused: number;
  /** Bytes of accepted results. */
  bytes: number;
  /** Results reused from an earlier run's `PREFIX.shards/` (a resumed run; verified against their checksums). */
  resumed: number;
  /** The kept result of every partition: name and sha256, in partition order. */
  kept: Array<{ name: string; sha256: string }>;
}

export class FarmResults implements FinalRowsStore {
  readonly store: ShardStore;
  private parts: ShardSpec[] = [];
  private finalRound = 0;
  /** partition → sha256 of its kept result (of the current final round). */
  private readonly kept = new Map<number, string>();
  private readonly committing = new Set<number>();
  private readonly counts = { received: 0, duplicates: 0, refused: 0, bytes: 0, resumed: 0 };
  /** The store belongs to the same scan inputs as an earlier run: its final rows and rounds may be reused. */
  private resuming = false;
  /** The round checkpoint in the same folder (coordinator/farm-resume.ts). */
  readonly rounds: RoundFiles;

  constructor(
    prefix: string,
    private readonly jobId: string,
    private readonly method: string,
    private readonly log: Logger,
  ) {
    this.store = new ShardStore(prefix, FINAL_ROWS_LAYOUT);
    this.rounds = new RoundFiles(this.store.dir, log);
  }

  /**
   * Prepares `PREFIX.shards/` for this job's partitions. `storeKey` names the scan inputs (farm-resume.ts
   * `farmStoreKey`; default: the job id, no resume): files of an earlier run with the same key are kept for
   * reuse (final rows, round checkpoint); those of another key are deleted first. Other files there (MLM
   * shards) are left alone.
   */
  async open(
    ranges: Array<{ id: number; start: number; end: number }>,
    totalSnps: number,
    storeKey: string = this.jobId,
  ): Promise<{ resumed: boolean }> {
    this.parts = ranges.map((r) => ({
      index: r.id,
      name: finalRowsName(r.id),
      start: r.start,
      end: r.end,
      expected: r.end - r.start,
    }));
    const manifest = join(this.store.dir, FINAL_ROWS_LAYOUT.manifest);
    const old = await fsp.readFile(manifest, 'utf8').then(
      (t) => {
        try {
          return JSON.parse(t) as { jobId?: string };
        } catch {
          return {};
        }
      },
      () => null,
    );
    if (old && old.jobId !== storeKey) {
      const n = await this.removeFiles();
      this.log.info(
        `${this.store.dir}: removed ${n} file(s) of an earlier FarmCPU/GLM run with other inputs`,
      );
    }
    this.resuming = !!old && old.jobId === storeKey;
    if (this.resuming)
      this.log.info(
        `${this.store.dir}: an earlier run of the same job left rounds and final rows here; resuming`,
        {
          event: 'resuming',
          dir: this.store.dir,
        },
      );
    await this.store.open({
      jobId: storeKey,
      method: this.method,
      totalSnps,
      shardSize: Math.max(0, ...this.parts.map((p) => p.expected)),
      shards: this.parts.length,
    });
    return { resumed: this.resuming };
  }

  /** From now on, rows for transport round `round` are accepted; rows kept for an earlier round are forgotten. */
  expectFinal(round: number): void {
    if (round !== this.finalRound) this.kept.clear();
    this.finalRound = round;
  }

  get stats(): FinalResultsStats {
    return {
      ...this.counts,
      kept: [...this.kept.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([k, hex]) => ({ name: this.parts[k].name, sha256: hex })),
    };
  }

  /**
   * Checks a SubmitShard header (job, worker, round, partition and range, payload kind); returns the largest
   * data size accepted (the encoded size of the partition's rows).
   */
  checkHeader(h: pb.ShardHeader, knownWorker: (id: string) => boolean): number {
    if (h.jobId !== this.jobId) throw new RejoinRequired('this coordinator runs another job: join again');
    if (!knownWorker(h.workerId))
      throw new RejoinRequired(
        `worker ${h.workerId || '(none)'} has not joined this coordinator: join again`,
      );
    const bad = (why: string) => new DistributedError('PROTOCOL', `final rows: ${why}`);
    if (h.payload !== pb.ShardHeader_Payload.FINAL_ROWS)
      throw bad('this coordinator runs a FarmCPU/GLM job: only FINAL_ROWS results are accepted');
    if (!this.finalRound || h.round !== this.finalRound)
      throw bad(
        `round ${h.round ?? 0} is not the final round${this.finalRound ? ` (${this.finalRound})` : ' (none running)'}`,
      );
    const s = this.parts[h.index];
    if (!s || s.start !== h.start || s.end !== h.end)
      throw bad(`no partition ${h.index} [${h.start}, ${h.end}) in this job`);
    return finalRowsSize(s.expected);
  }

  /** A received result: verified (checksum, count, encoding), then kept unless the partition already has one. */
  async submit(h: pb.ShardHeader, data: Buffer, t: pb.ShardTrailer): Promise<pb.SubmitReply> {
    const s = this.parts[h.index];
    const refuse = (why: string, hint?: string) => {
      this.counts.refused++;
      this.log.warn(`${s.name} from worker ${h.workerId}: ${why}; refused`, {
        event: 'final-rows-refused',
        partition: h.index,
        worker: h.workerId,
      });
      return new DistributedError('PROTOCOL', `${s.name} from worker ${h.workerId}: ${why}`, { hint });
    };
    const hex = sha256(data);
    if (hex !== t.sha256) throw refuse('checksum mismatch (damaged in transit)');
    if (t.lineCount !== s.expected) throw refuse(`${t.lineCount} rows, expected ${s.expected}`);
    try {
      decodeFinalRows(data, { start: s.start, count: s.expected });
    } catch (e) {
      throw refuse((e as Error).message, 'run the same gwasgrid version on the coordinator and the workers');
    }
    if (h.round !== this.finalRound) throw refuse(`round ${h.round} is over`);
    if (this.kept.has(h.index) || this.committing.has(h.index)) {
      this.counts.duplicates++;
      this.log.info(`duplicate final rows for ${s.name} from worker ${h.workerId} ignored`, {
        event: 'duplicate',
        worker: h.workerId,
        shard: s.name,
      });
      return pb.SubmitReply.create({ outcome: pb.SubmitReply_Outcome.DUPLICATE });
    }
    this.committing.add(h.index);
    try {
      await this.store.write(s, data, hex);
    } finally {
      this.committing.delete(h.index);
    }
    if (h.round !== this.finalRound)
      return pb.SubmitReply.create({ outcome: pb.SubmitReply_Outcome.DUPLICATE });
    this.kept.set(h.index, hex);
    this.counts.received++;
    this.counts.bytes += data.length;
    this.log.info(
      `${s.name}: final rows of partition ${h.index} from worker ${h.workerId} by SubmitShard (${data.length} bytes, sha256 ${hex.slice(0, 12)}…)`,
      {
        event: 'final-rows',
        partition: h.index,
        round: h.round,
        worker: h.workerId,
        bytes: data.length,
        sha256: hex,
        file: this.store.tsvPath(s),
      },
    );
    return pb.SubmitReply.create({ outcome: pb.SubmitReply_Outcome.ACCEPTED });
  }

  /** See {@link FinalRowsStore.load}. A kept file that fails its checksum is deleted, so a resubmission is kept. */
  async load(
    partition: number,
    ref: FinalRowsRef | undefined,
    worker: string,
    strict = false,
  ): Promise<FinalRows | string> {
    const s = this.parts[partition];
    if (!s) return `no partition ${partition} in this job`;
    if (!ref) return 'the reply names no final rows (its rows must come by SubmitShard)';
    if (ref.name !== s.name)
      return `the reply names ${JSON.stringify(ref.name)}, partition ${partition} is ${s.name}`;
    if (ref.format !== FINAL_ROWS_FORMAT)
      return `final rows format ${ref.format}, this coordinator reads ${FINAL_ROWS_FORMAT}`;
    let hex = this.kept.get(partition);
    if (!hex && this.resuming) hex = await this.adopt(s);
    if (!hex) return `no final rows for ${s.name} were received by SubmitShard`;
    const data = await this.store.read(s);
    if (!data || sha256(data) !== hex) {
      this.kept.delete(partition);
      await this.store.discard(s);
      return `${this.store.tsvPath(s)} is missing or does not match its checksum (deleted)`;
    }
    if (ref.sha256 !== hex && strict) return `${s.name} holds other rows than the reply names`;
    if (ref.sha256 !== hex)
      this.log.warn(
        `${s.name}: worker ${worker} computed rows with sha256 ${ref.sha256.slice(0, 12)}…, the kept result (first received) has ${hex.slice(0, 12)}…; keeping the first (workers should run the same gwasgrid version and --backend)`,
        { event: 'final-rows-differ', partition, worker },
      );
    try {
      return decodeFinalRows(data, { start: s.start, count: s.expected });
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** A resumed run: the earlier run's verified rows of a partition become its kept result. */
  private async adopt(s: ShardSpec): Promise<string | undefined> {
    const data = await this.store.read(s);
    if (!data) return undefined;
    const hex = sha256(data);
    this.kept.set(s.index, hex);
    this.counts.resumed++;
    return hex;
  }

  /**
   * After a successful run: keeps the final rows and the round checkpoint (`keep`, the default of --keep-shards:
   * running the same command again reuses them) or deletes them.
   */
  async finish(keep: boolean): Promise<void> {
    if (keep) return;
    await this.removeFiles();
    await fsp.rmdir(this.store.dir).catch(() => {}); // only if empty: MLM shards of the same --out stay
  }

  /** Deletes this store's files (manifest, final rows, round checkpoint, checksums); returns how many. */
  private async removeFiles(): Promise<number> {
    let n = 0;
    const files = await fsp.readdir(this.store.dir).catch(() => [] as string[]);
    for (const f of files) {
      if (
        f === FINAL_ROWS_LAYOUT.manifest ||
        /^final-\d+\.rows(\.sha256)?$/.test(f) ||
        /^round-[0-9a-f]+\.replies(\.sha256)?$/.test(f)
      ) {
        await fsp.rm(join(this.store.dir, f), { force: true });
        n++;
      }
    }
    return n;
  }
}

/**
 * The SubmitShard handler of a FarmCPU/GLM coordinator: a client stream of header, data pieces and trailer,
 * checked piece by piece (header first, size limit), then handed to {@link FarmResults.submit}.
 */
export function submitFinalRows(results: FarmResults, knownWorker: (id: string) => boolean) {
  return receiveUpload<pb.ShardChunk, pb.ShardHeader, pb.ShardTrailer>(
    'final rows',
    (m) => ({ header: m.header, data: m.lines, trailer: m.trailer }),
    (header) => results.checkHeader(header, knownWorker),
    (header, data, trailer) => results.submit(header, data, trailer),
  );
}
