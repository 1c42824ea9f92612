/**
 * FarmCPU's round bus over NATS (docs/nats-protocol.md): the coordinator's {@link NatsRoundBus} implements the
 * same `RoundBus` interface as the in-process bus, so `runFarmCpu` — the whole round logic — is one code path
 * for embedded and distributed runs; {@link FarmPartitionServer} is the worker's side, which calls the same
 * `scanPartition` as the in-process bus. Round requests and partition replies travel as binary frames.
 */
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
import {
  fetchSetup,
  serveRounds,
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

export class NatsRoundBus implements RoundBus {
  private seq = 0;
  /** Per-round transport statistics, for the log and the benchmark. */
  readonly stats: RoundStats[] = [];

  constructor(
    private readonly coord: RoundCoordinator,
    readonly m: number,
    private readonly ranges: Array<{ id: number; start: number; end: number }>,
    private readonly log: Logger,
  ) {}

  async scan(req: RoundRequest): Promise<PartitionReply[]> {
    // Transport round ids are our own sequence: a worker's cached round payload is keyed by it.
    const id = ++this.seq;
    const { replies, stats } = await this.coord.runRound(id, encodeFrame(req), this.ranges);
    this.stats.push(stats);
    this.log.info(
      `round ${id} (FarmCPU iteration ${req.round}${req.final ? ', final' : ''}): ${stats.partitions} partitions by ${stats.workers} worker(s) in ${stats.seconds.toFixed(2)} s` +
        (stats.reassigned ? `, ${stats.reassigned} reassigned` : '') +
        `, ${(stats.bytesIn / 1e6).toFixed(2)} MB of replies`,
      {
        event: 'round',
        round: id,
        iteration: req.round,
        seconds: stats.seconds,
        reassigned: stats.reassigned,
        workers: stats.workers,
      },
    );
    return replies.map((b, k) => {
      const r = decodeFrame<PartitionReply>(b);
      if (r.start !== this.ranges[k].start || r.end !== this.ranges[k].end) {
        throw new DistributedError(
          'PROTOCOL',
          `partition ${k}: reply covers [${r.start}, ${r.end}), expected [${this.ranges[k].start}, ${this.ranges[k].end})`,
        );
      }
      return r;
    });
  }

  async close(): Promise<void> {}
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
  ) {}

  static async open(setup: FarmSetup, backend: LinalgBackend, log: Logger): Promise<FarmPartitionServer> {
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
    return new FarmPartitionServer(setup, geno, raw, backend, log);
  }

  async scan(task: RoundTask, payload: Uint8Array): Promise<Uint8Array> {
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
    const reply = await scanPartition(cached.inputs, req, part, cached.products);
    return encodeFrame(reply);
  }

  async close(): Promise<void> {
    await this.raw.close();
  }
}

/** The worker loop of a FarmCPU/GLM job: fetch the setup, open the genotypes, serve partitions until done. */
export async function runFarmWorker(
  nc: NatsConnection,
  job: string,
  worker: string,
  backend: LinalgBackend,
  opts: { heartbeatMs: number; log: Logger; signal?: AbortSignal },
): Promise<{ partitions: number }> {
  const setup = decodeFrame<FarmSetup>(await fetchSetup(nc, job, opts.log));
  const server = await FarmPartitionServer.open(setup, backend, opts.log);
  opts.log.info(
    `FarmCPU job ${job}: ${setup.sourceIndex.length} SNPs × ${setup.analysed.length} samples in ${setup.partitions.length} partitions`,
  );
  try {
    return await serveRounds(nc, job, worker, (t, p) => server.scan(t, p), opts);
  } finally {
    await server.close();
  }
}
