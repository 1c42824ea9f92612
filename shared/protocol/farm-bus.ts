/**
 * FarmCPU's round bus over NATS (docs/nats-protocol.md): the coordinator's {@link NatsRoundBus} implements the
 * same `RoundBus` interface as the in-process bus, so `runFarmCpu` — the whole round logic — is one code path
 * for embedded and distributed runs; {@link FarmPartitionServer} is the worker's side, which calls the same
 * `scanPartition` as the in-process bus. Round requests and partition replies travel as binary frames.
 *
 * Final round: a partition's per-SNP rows do not travel in its NATS reply. The worker submits them to the
 * coordinator over gRPC (SubmitShard, the MLM result path; `submitRows` below) and its reply carries a
 * {@link FinalRowsRef} instead; the coordinator's bus accepts the reply only once the rows it names are stored
 * and verified ({@link FinalRowsStore}), and hands the round logic the same `FinalRows` as an inline reply.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from 'nats';
import type { RoundBus } from '../methods/farmcpu/bus.js';
import { PartitionProducts, scanPartition, type PartitionInputs } from '../methods/farmcpu/partition.js';
import type { PartitionReply, RoundRequest } from '../methods/farmcpu/protocol.js';
import { AnalysedGenotypes, type ImputeMethod } from '../fem/genotypes.js';
import { SnpSubsetSource } from '../genotype/subset.js';
import type { GenotypeSource } from '../genotype/types.js';
import type { LinalgBackend } from '../linalg/backend.js';
import type { InputSpec } from '../methods/inputs.js';
import { openGenotypes } from '../methods/inputs.js';
import type { Logger } from '../log.js';
import { DistributedError } from '../errors.js';
import { decodeFrame, encodeFrame } from './frames.js';
import type { FinalRows } from '../methods/farmcpu/protocol.js';
import { encodeFinalRows, FINAL_ROWS_FORMAT } from './final-rows-codec.js';
import {
  fetchSetup,
  serveRounds,
  type AcceptReply,
  type RoundCoordinator,
  type RoundStats,
  type RoundTask,
} from './nats-rounds.js';

/** Everything a worker needs besides the genotype file (the NATS setup blob of a FarmCPU/GLM job). */
export interface FarmSetup {
  /** Genotype input, paths absolute (the shared filesystem). Phenotype/covariate files are not needed. */
  input: InputSpec;
  /** Source SNP index of each analysis SNP (the analysis SNP list in map order). */
  sourceIndex: Int32Array;
  /** Analysed samples, as indices into the genotype file's samples. */
  analysed: Int32Array;
  impute: ImputeMethod;
  y: Float64Array;
  cv: Float64Array;
  cvCols: number;
  /** Position key of every analysis SNP. */
  keys: Float64Array;
  blockSize: number;
  /** The partitions (SNP ranges of the analysis list), fixed for the job. */
  partitions: Array<{ id: number; start: number; end: number }>;
}

/** Where a final-round reply says its rows went: the result submitted by gRPC (SubmitShard, FINAL_ROWS). */
export interface FinalRowsRef {
  /** The result's name, {@link finalRowsName} of the partition (the coordinator checks it, never opens it). */
  name: string;
  /** sha256 (hex) of the encoded rows, as in the SubmitShard trailer. */
  sha256: string;
  /** Encoded size in bytes and encoding version (shared/protocol/final-rows-codec.ts). */
  bytes: number;
  format: number;
}

/** A partition reply as it travels on NATS: on the final round `rows` is null and `rowsRef` names the rows. */
export type WireReply = PartitionReply & { rowsRef?: FinalRowsRef };

/** The name of partition k's final rows: `final-00003` (file `PREFIX.shards/final-00003.rows`). */
export function finalRowsName(partition: number): string {
  return `final-${String(partition).padStart(5, '0')}`;
}

/** The coordinator's store of final rows received by gRPC (coordinator/farm-results.ts). */
export interface FinalRowsStore {
  /** Transport round `round` is the final one: rows submitted for it are accepted from now on. */
  expectFinal(round: number): void;
  /**
   * The rows a final-round reply of `partition` refers to, read back from the store and verified; a string
   * says why the reply is refused (nothing received, a damaged file, a wrong name): the partition is scanned again.
   * `strict`: rows whose sha256 differs from the reference are refused too (a checkpointed reply).
   */
  load(
    partition: number,
    ref: FinalRowsRef | undefined,
    worker: string,
    strict?: boolean,
  ): Promise<FinalRows | string>;
}

/**
 * Finished rounds kept by the coordinator (coordinator/farm-resume.ts): the replies of a round request, by the
 * request's bytes. A restarted coordinator answers the rounds it finds there without the workers.
 */
export interface RoundCheckpoint {
  get(request: Uint8Array): Promise<Uint8Array[] | null>;
  put(request: Uint8Array, replies: Uint8Array[]): Promise<void>;
}

export class NatsRoundBus implements RoundBus {
  private seq = 0;
  /** Per-round transport statistics, for the log and the benchmark. */
  readonly stats: RoundStats[] = [];

  /**
   * With `finals`, final-round rows are expected by gRPC (a reply must name them); without, inline in the
   * NATS replies (tests of the round layer alone).
   */
  constructor(
    private readonly coord: RoundCoordinator,
    readonly m: number,
    private readonly ranges: Array<{ id: number; start: number; end: number }>,
    private readonly log: Logger,
    private readonly finals?: FinalRowsStore,
    private readonly checkpoint?: RoundCheckpoint,
  ) {}

  /** Rounds answered from the checkpoint (a resumed run). */
  resumed = 0;

  async scan(req: RoundRequest): Promise<PartitionReply[]> {
    // Transport round ids are our own sequence: a worker's cached round payload is keyed by it.
    const id = ++this.seq;
    const payload = encodeFrame(req);
    const saved = this.checkpoint ? await this.checkpoint.get(payload) : null;
    if (saved) {
      const replies = await this.fromCheckpoint(req, saved);
      if (replies) {
        this.resumed++;
        this.stats.push({
          round: id,
          seconds: 0,
          partitions: replies.length,
          reassigned: 0,
          refused: 0,
          workers: 0,
          bytesIn: 0,
        });
        this.log.info(
          `round ${id} (FarmCPU iteration ${req.round}${req.final ? ', final' : ''}): answered from the checkpoint of an earlier run (resumed)`,
          { event: 'round-resumed', round: id, iteration: req.round, final: req.final },
        );
        return replies;
      }
    }
    const loaded = new Map<number, FinalRows>();
    const finals = req.final ? this.finals : undefined;
    let accept: AcceptReply | undefined;
    if (finals) {
      finals.expectFinal(id);
      accept = async (k, bytes, worker) => {
        const r = decodeFrame<WireReply>(bytes);
        const rows = await finals.load(k, r.rowsRef, worker);
        if (typeof rows === 'string') {
          this.log.warn(`round ${id}, partition ${k} (worker ${worker}): ${rows}`, {
            event: 'final-rows-refused',
            round: id,
            partition: k,
            worker,
          });
          return false;
        }
        loaded.set(k, rows);
        return true;
      };
    }
    const { replies, stats } = await this.coord.runRound(id, payload, this.ranges, accept);
    this.stats.push(stats);
    await this.checkpoint
      ?.put(payload, replies)
      .catch((e: unknown) =>
        this.log.warn(`round ${id}: cannot keep its replies for a resume (${(e as Error).message})`),
      );
    this.log.info(
      `round ${id} (FarmCPU iteration ${req.round}${req.final ? ', final' : ''}): ${stats.partitions} partitions by ${stats.workers} worker(s) in ${stats.seconds.toFixed(2)} s` +
        (stats.reassigned ? `, ${stats.reassigned} reassigned` : '') +
        (stats.refused ? `, ${stats.refused} replies refused` : '') +
        `, ${(stats.bytesIn / 1e6).toFixed(2)} MB of NATS replies` +
        (finals ? ` (final rows by gRPC: ${loaded.size} partitions)` : ''),
      {
        event: 'round',
        round: id,
        iteration: req.round,
        final: req.final,
        seconds: stats.seconds,
        reassigned: stats.reassigned,
        refused: stats.refused,
        workers: stats.workers,
        natsBytes: stats.bytesIn,
        rowsByGrpc: finals ? loaded.size : 0,
      },
    );
    return replies.map((b, k) => {
      const r = decodeFrame<WireReply>(b);
      if (r.start !== this.ranges[k].start || r.end !== this.ranges[k].end) {
        throw new DistributedError(
          'PROTOCOL',
          `partition ${k}: reply covers [${r.start}, ${r.end}), expected [${this.ranges[k].start}, ${this.ranges[k].end})`,
        );
      }
      if (finals) {
        r.rows = loaded.get(k) ?? null;
        delete r.rowsRef;
      }
      return r;
    });
  }

  /** The checkpointed replies of a round, checked as live ones; null (run the round) if any does not fit. */
  private async fromCheckpoint(req: RoundRequest, saved: Uint8Array[]): Promise<PartitionReply[] | null> {
    if (saved.length !== this.ranges.length) return null;
    const out: PartitionReply[] = [];
    for (const [k, b] of saved.entries()) {
      const r = decodeFrame<WireReply>(b);
      if (r.start !== this.ranges[k].start || r.end !== this.ranges[k].end) return null;
      if (req.final && this.finals) {
        const rows = await this.finals.load(k, r.rowsRef, 'checkpoint', true);
        if (typeof rows === 'string') {
          this.log.warn(`checkpointed final round, partition ${k}: ${rows}; the round is run again`);
          return null;
        }
        r.rows = rows;
        delete r.rowsRef;
      } else if (req.final && !r.rows) return null;
      out.push(r);
    }
    return out;
  }

  async close(): Promise<void> {}
}

/** One partition's encoded final rows, ready for SubmitShard (worker/farm.ts sends them). */
export interface FinalRowsUpload {
  task: RoundTask;
  name: string;
  /** {@link encodeFinalRows} of the rows, and its sha256 (hex). */
  data: Buffer;
  sha256: string;
  /** Rows (SNPs) and scan seconds, for the trailer. */
  count: number;
  seconds: number;
}

/**
 * Sends a partition's final rows to the coordinator over gRPC; resolves true once the coordinator has them
 * (accepted, or already kept from an earlier attempt), false when it refused them (no NATS reply is sent then,
 * and the partition is scanned again).
 */
export type SubmitRows = (upload: FinalRowsUpload) => Promise<boolean>;

/**
 * The final round on a worker: submits the reply's rows with `submitRows` (gRPC) and returns the encoded NATS
 * reply with the rows replaced by their {@link FinalRowsRef}; null when the coordinator refused the rows.
 */
export async function handOffFinalRows(
  reply: WireReply,
  task: RoundTask,
  submitRows: SubmitRows,
): Promise<Uint8Array | null> {
  if (!reply.rows)
    throw new DistributedError('PROTOCOL', `final round: partition ${task.partition} has no rows`);
  const data = encodeFinalRows(reply.rows);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const name = finalRowsName(task.partition);
  const count = reply.rows.p.length;
  if (!(await submitRows({ task, name, data, sha256, count, seconds: reply.seconds }))) return null;
  return encodeFrame({
    ...reply,
    rows: null,
    rowsRef: { name, sha256, bytes: data.length, format: FINAL_ROWS_FORMAT },
  } satisfies WireReply);
}

/**
 * A worker's FarmCPU state: the genotype file opened once, and per partition it has scanned the imputed
 * genotypes and the cached products (a partition usually comes back to the same worker: the coordinator
 * prefers that), so a round costs only the products with new pseudo-QTNs.
 */
export class FarmPartitionServer {
  private readonly parts = new Map<number, { inputs: PartitionInputs; products: PartitionProducts }>();

  private constructor(
    private readonly setup: FarmSetup,
    private readonly geno: GenotypeSource,
    private readonly raw: GenotypeSource,
    private readonly backend: LinalgBackend,
    private readonly log: Logger,
    private readonly submitRows?: SubmitRows,
  ) {}

  /** With `submitRows`, final rows go to the coordinator by gRPC and the NATS reply names them. */
  static async open(
    setup: FarmSetup,
    backend: LinalgBackend,
    log: Logger,
    submitRows?: SubmitRows,
  ): Promise<FarmPartitionServer> {
    const raw = await openGenotypes(setup.input);
    const bad = (why: string) =>
      new DistributedError(
        'PROTOCOL',
        `the genotypes this worker reads differ from the coordinator's: ${why}`,
        {
          hint: 'workers must see the same genotype files at the same paths (shared filesystem) and run the same gwasgrid version',
        },
      );
    for (const s of setup.sourceIndex)
      if (s < 0 || s >= raw.snps.length)
        throw bad(`SNP index ${s} outside the file's ${raw.snps.length} SNPs`);
    for (const i of setup.analysed)
      if (i < 0 || i >= raw.nSamples)
        throw bad(`sample index ${i} outside the file's ${raw.nSamples} samples`);
    const identity =
      setup.sourceIndex.length === raw.snps.length && setup.sourceIndex.every((v, i) => v === i);
    const geno = identity ? raw : new SnpSubsetSource(raw, setup.sourceIndex);
    return new FarmPartitionServer(setup, geno, raw, backend, log, submitRows);
  }

  /** Scans the task's partition; the encoded reply, or null when the final rows were refused (no reply). */
  async scan(task: RoundTask, payload: Uint8Array): Promise<Uint8Array | null> {
    const req = decodeFrame<RoundRequest>(payload);
    const part = this.setup.partitions[task.partition];
    if (!part || part.start !== task.start || part.end !== task.end) {
      throw new DistributedError(
        'PROTOCOL',
        `partition ${task.partition} [${task.start}, ${task.end}) is not in this job's partition table`,
      );
    }
    let cached = this.parts.get(part.id);
    if (!cached) {
      const s = this.setup;
      const genotypes = await AnalysedGenotypes.load(this.geno, s.analysed, s.impute, part.start, part.end);
      const inputs: PartitionInputs = {
        n: s.analysed.length,
        y: s.y,
        cv: s.cv,
        cvCols: s.cvCols,
        genotypes,
        keys: s.keys,
        backend: this.backend,
        blockSize: s.blockSize,
      };
      cached = { inputs, products: new PartitionProducts(part.start, part.end) };
      this.parts.set(part.id, cached);
      this.log.info(`partition ${part.id}: SNPs [${part.start}, ${part.end}) read and imputed (${s.impute})`);
    }
    const reply: WireReply = await scanPartition(cached.inputs, req, part, cached.products);
    if (req.final && this.submitRows) return handOffFinalRows(reply, task, this.submitRows);
    return encodeFrame(reply);
  }

  async close(): Promise<void> {
    await this.raw.close();
  }
}

/**
 * The worker loop of a FarmCPU/GLM job: fetch the setup, open the genotypes, serve partitions until done
 * (final rows through `submitRows` when given, else inline in the NATS reply).
 */
export async function runFarmWorker(
  nc: NatsConnection,
  job: string,
  worker: string,
  backend: LinalgBackend,
  opts: { heartbeatMs: number; log: Logger; signal?: AbortSignal; submitRows?: SubmitRows },
): Promise<{ partitions: number }> {
  const setup = decodeFrame<FarmSetup>(await fetchSetup(nc, job, opts.log));
  const server = await FarmPartitionServer.open(setup, backend, opts.log, opts.submitRows);
  opts.log.info(
    `FarmCPU job ${job}: ${setup.sourceIndex.length} SNPs × ${setup.analysed.length} samples in ${setup.partitions.length} partitions`,
  );
  try {
    return await serveRounds(nc, job, worker, (t, p) => server.scan(t, p), opts);
  } finally {
    await server.close();
  }
}
