/**
 * What a worker holds for one job, and where its per-shard inputs come from:
 * - shared filesystem (default): the genotype file opened from the job spec's paths, the samples aligned exactly
 *   as on the coordinator (checked by count and fingerprint); each shard's QC computed here from the range
 *   (the same rules as the coordinator's, checked against its count);
 * - `--genotypes-from-coordinator`: nothing is opened; for every lease the coordinator sends the range's SNP
 *   metadata, its QC (mask, af, n_miss), the analysed samples and the genotype rows (FetchGenotypes).
 * Plus the numeric backend, the kinship accumulator (kinship phase) and the null model (fetched once, cached by
 * its sha256). Opening the scan job after the kinship job reuses the open files when the inputs are the same.
 * A CMLM job (method "cmlm") has the same two sources; its per-shard filter is the CMLM one (`snpFilterRange`,
 * or the coordinator's filter sent with the rows), and its model is the encoded CMLM scan model.
 */
import { openGenotypes, loadSamples, qcRange, kinshipChunk, kinshipChunkFromMask } from '../shared/methods/inputs.js';
import { snpFilterRange, type SnpFilter } from '../shared/methods/cmlm.js';
import { decodeCmlmModel, type CmlmScanModel } from '../shared/protocol/cmlm-model-codec.js';
import type { GenotypeSource } from '../shared/genotype/types.js';
import type { AlignedSamples } from '../shared/samples/align.js';
import type { NullModel } from '../shared/lmm/null.js';
import type { LinalgBackend } from '../shared/linalg/backend.js';
import { selectBackend } from '../shared/linalg/select.js';
import { KinshipAccumulator } from '../shared/kinship/kinship.js';
import { ScanPool } from '../shared/lmm/scan-pool.js';
import type { Logger } from '../shared/log.js';
import { DistributedError } from '../shared/errors.js';
import { excludedMask, kinshipSamplesOf, samplesFingerprint, type JobDescription } from '../shared/protocol/job.js';
import { decodeNullModel, hashEncoded } from '../shared/protocol/null-model-codec.js';
import type { RangeQc, ReceivedRange } from '../shared/protocol/genotypes-codec.js';
import type { Connection } from './connection.js';

const SAME_FILES = 'the worker must see the same input files as the coordinator (same paths, same contents)';

/** A leased range: SNP indices [start, end), and how many pass QC on the coordinator. */
export interface LeasedRange {
  name: string;
  start: number;
  end: number;
  expectedSnps: number;
}

/** The inputs of the single-process scan for one shard. */
export interface ShardInputs {
  geno: GenotypeSource;
  analysed: Int32Array;
  qc: RangeQc;
}

/** Fetches the leased range from the coordinator (--genotypes-from-coordinator). */
export type FetchRange = () => Promise<ReceivedRange>;

interface LocalFiles {
  geno: GenotypeSource;
  samples: AlignedSamples;
  key: string;
}

/** What must be equal for two jobs to read the same files the same way. */
const inputsKey = (spec: JobDescription) =>
  JSON.stringify([spec.input, spec.qc, spec.totalSnps, spec.totalSamples, spec.excludedSamples ?? [], spec.analysedSamples, spec.samplesSha256]);

export class WorkerJob {
  private pool: { model: NullModel; threads: number; pool: ScanPool } | null = null;
  private kin: KinshipAccumulator | null = null;
  /** The samples of a computed kinship: all (null) or those kept by --mind on the coordinator. */
  readonly kinSamples: Int32Array | null;

  private constructor(
    readonly id: string,
    readonly spec: JobDescription,
    readonly backend: LinalgBackend,
    private files: LocalFiles | null,
  ) {
    this.kinSamples = kinshipSamplesOf(spec);
  }

  /** Rows and columns of a kinship partial: the genotype samples, less those removed by --mind. */
  get kinshipN(): number {
    return this.kinSamples ? this.kinSamples.length : this.spec.totalSamples;
  }

  /** Genotypes from the coordinator (nothing opened here). */
  get remote(): boolean {
    return this.files === null;
  }

  /**
   * Opens the job. `previous` (the job this worker held before, e.g. the kinship phase) hands over its open
   * files when they are the same inputs; the caller still closes `previous`.
   */
  static async open(id: string, spec: JobDescription, log: Logger, opts: { remote: boolean; previous?: WorkerJob | null }): Promise<WorkerJob> {
    const { backend } = await selectBackend(spec.backend);
    const what = spec.kinship
      ? `kinship phase (--gk ${spec.kinship.mode}, chunks of ${spec.kinship.chunkSize} SNPs)`
      : spec.cmlm
        ? `CMLM scan (g = ${spec.cmlm.groupCount}, basis rank ${spec.cmlm.rank})`
        : `-lmm ${spec.lmm}`;
    if (opts.remote) {
      log.info(`job ${id.slice(0, 12)}…: ${spec.totalSnps} SNPs, ${spec.analysedSamples} analysed samples, ${what}; genotypes from the coordinator; backend ${backend.detail}`, {
        event: 'job-open',
        remote: true,
      });
      return new WorkerJob(id, spec, backend, null);
    }
    const key = inputsKey(spec);
    const prev = opts.previous?.files?.key === key ? opts.previous.files : null;
    if (prev) opts.previous!.files = null;
    const files = prev ?? (await openFiles(spec, key, log));
    log.info(`job ${id.slice(0, 12)}…: ${files.geno.label}, ${files.samples.analysed.length} samples, ${what}; backend ${backend.detail}`, {
      event: 'job-open',
      remote: false,
      reused: !!prev,
    });
    return new WorkerJob(id, spec, backend, files);
  }

  /** The scan's inputs for `shard`: the coordinator's (fetched) or this worker's QC of the range (checked). */
  async scanInputs(shard: LeasedRange, fetch: FetchRange): Promise<ShardInputs> {
    if (!this.files) {
      const r = checkReceived(await fetch(), shard, this.spec);
      return { geno: r.source, analysed: r.analysed, qc: r.qc };
    }
    const { geno, samples } = this.files;
    const qc = await qcRange(geno, samples, this.spec.qc, shard.start, shard.end);
    checkCount(qc.counts.kept, shard);
    return { geno, analysed: samples.analysed, qc };
  }

  /**
   * A CMLM shard's inputs: the CMLM SNP filter of the range computed here (checked against the coordinator's
   * count), or the coordinator's filter and rows (--genotypes-from-coordinator).
   */
  async cmlmInputs(shard: LeasedRange, fetch: FetchRange): Promise<{ geno: GenotypeSource; analysed: Int32Array; filter: SnpFilter }> {
    const cmlm = this.spec.cmlm;
    if (!cmlm) throw new DistributedError('PROTOCOL', 'a CMLM shard outside a CMLM job');
    if (!this.files) {
      const r = checkReceived(await fetch(), shard, this.spec);
      return { geno: r.source, analysed: r.analysed, filter: { ...r.qc, kept: shard.expectedSnps } };
    }
    const { geno, samples } = this.files;
    const filter = await snpFilterRange(geno, samples, { maf: this.spec.qc.maf, miss: this.spec.qc.miss, extract: cmlm.extract }, shard.start, shard.end);
    checkCount(filter.kept, shard);
    return { geno, analysed: samples.analysed, filter };
  }

  /** The partial kinship sum of a kinship chunk (the accumulator's buffer: use it before the next chunk). */
  async kinshipPartial(shard: LeasedRange, fetch: FetchRange): Promise<{ snps: number; partial: Float64Array }> {
    const mode = this.spec.kinship?.mode;
    if (!mode) throw new DistributedError('PROTOCOL', 'a kinship chunk outside the kinship phase');
    this.kin ??= new KinshipAccumulator(this.kinshipN, mode, this.backend);
    if (!this.files) {
      const r = checkReceived(await fetch(), shard, this.spec);
      return kinshipChunkFromMask(r.source, r.qc.mask, this.kin, shard.start, shard.end, this.kinSamples);
    }
    const { geno, samples } = this.files;
    const { qc, snps, partial } = await kinshipChunk(geno, samples, this.spec.qc, this.kin, shard.start, shard.end, this.kinSamples);
    checkCount(qc.counts.kept, shard);
    return { snps, partial };
  }

  /** The scanning threads for `model`, started once and reused for every shard of the job. */
  async scanPool(model: NullModel, threads: number): Promise<ScanPool> {
    if (this.pool?.model !== model || this.pool.threads !== threads) {
      await this.pool?.pool.close();
      this.pool = { model, threads, pool: await ScanPool.create(model, this.spec.lmm, threads) };
    }
    return this.pool.pool;
  }

  async close(): Promise<void> {
    await this.pool?.pool.close();
    this.pool = null;
    this.kin = null;
    await this.files?.geno.close();
    this.files = null;
  }
}

async function openFiles(spec: JobDescription, key: string, log: Logger): Promise<LocalFiles> {
  const geno = await openGenotypes(spec.input);
  try {
    if (geno.snps.length !== spec.totalSnps || (spec.totalSamples && geno.nSamples !== spec.totalSamples)) {
      throw new DistributedError(
        'PROTOCOL',
        `${geno.label} has ${geno.snps.length} SNPs × ${geno.nSamples} samples here, ${spec.totalSnps} × ${spec.totalSamples} on the coordinator`,
        { hint: SAME_FILES },
      );
    }
    // Samples removed by --mind on the coordinator are removed here too (the fingerprint below checks the result).
    const samples = await loadSamples(geno, spec.input, log, excludedMask(spec));
    if (samples.analysed.length !== spec.analysedSamples || samplesFingerprint(samples.analysed) !== spec.samplesSha256) {
      throw new DistributedError(
        'PROTOCOL',
        `the analysed samples differ from the coordinator's (${samples.analysed.length} here, ${spec.analysedSamples} there)`,
        { hint: SAME_FILES },
      );
    }
    return { geno, samples, key };
  } catch (e) {
    await geno.close();
    throw e;
  }
}

function checkCount(kept: number, shard: LeasedRange): void {
  if (kept !== shard.expectedSnps) {
    throw new DistributedError('PROTOCOL', `${shard.name}: ${kept} SNPs pass QC here, ${shard.expectedSnps} on the coordinator`, { hint: SAME_FILES });
  }
}

/** The received range must be the leased one, with the job's samples and the lease's count of QC-passing SNPs. */
function checkReceived(r: ReceivedRange, shard: LeasedRange, spec: JobDescription): ReceivedRange {
  const bad = (why: string) => new DistributedError('PROTOCOL', `genotypes of ${shard.name} from the coordinator: ${why}`);
  if (r.source.start !== shard.start || r.source.end !== shard.end) throw bad(`range [${r.source.start}, ${r.source.end}), leased [${shard.start}, ${shard.end})`);
  if (r.source.nSamples !== spec.totalSamples) throw bad(`${r.source.nSamples} samples, the job has ${spec.totalSamples}`);
  if (r.analysed.length !== spec.analysedSamples || samplesFingerprint(r.analysed) !== spec.samplesSha256) throw bad('analysed samples differ from the job spec');
  let kept = 0;
  for (let j = shard.start; j < shard.end; j++) kept += r.qc.mask[j];
  checkCount(kept, shard);
  return r;
}

/**
 * Null models (MLM) and CMLM scan models by sha256 (at most `keep`, most recent first: U is n² doubles), fetched
 * with the same FetchNullModel stream and checked against the job spec's hash.
 */
export class NullModelCache {
  private readonly models = new Map<string, NullModel | CmlmScanModel>();
  constructor(private readonly keep = 1) {}

  async get(conn: Connection, workerId: string, spec: JobDescription, log: Logger): Promise<NullModel> {
    if (spec.method !== 'mlm') throw new DistributedError('PROTOCOL', `a ${spec.method} job has no MLM null model`);
    return (await this.fetch(conn, workerId, spec, log, 'null model', decodeNullModel)) as NullModel;
  }

  /** The CMLM scan model of a CMLM job (design, n × rank basis, delta, scale). */
  async getCmlm(conn: Connection, workerId: string, spec: JobDescription, log: Logger): Promise<CmlmScanModel> {
    if (spec.method !== 'cmlm' || !spec.cmlm) throw new DistributedError('PROTOCOL', 'not a CMLM job');
    const { groupCount, rank } = spec.cmlm;
    const model = (await this.fetch(conn, workerId, spec, log, 'CMLM scan model', decodeCmlmModel)) as CmlmScanModel;
    if (model.g !== groupCount || model.basis.rank !== rank) {
      throw new DistributedError('PROTOCOL', `CMLM scan model for g = ${model.g}, rank ${model.basis.rank}; the job names g = ${groupCount}, rank ${rank}`);
    }
    return model;
  }

  private async fetch(
    conn: Connection,
    workerId: string,
    spec: JobDescription,
    log: Logger,
    what: string,
    decode: (bytes: Uint8Array) => NullModel | CmlmScanModel,
  ): Promise<NullModel | CmlmScanModel> {
    const ref = spec.nullModel;
    if (!ref) throw new DistributedError('PROTOCOL', 'the job has no null model (kinship phase)');
    const hit = this.models.get(ref.sha256);
    if (hit) return hit;
    const t = performance.now();
    const bytes = await conn.retry(() => conn.fetchNullModel(workerId, ref));
    const seconds = (performance.now() - t) / 1000;
    if (hashEncoded(bytes) !== ref.sha256) throw new DistributedError('PROTOCOL', `the received ${what} does not match its sha256`);
    const model = decode(bytes);
    const n = 'design' in model ? model.design.n : model.n;
    if (n !== spec.analysedSamples) throw new DistributedError('PROTOCOL', `${what} for ${n} samples, job has ${spec.analysedSamples}`);
    log.info(`${what} received: ${(bytes.length / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s (${(bytes.length / 1e6 / seconds).toFixed(1)} MB/s), sha256 verified`, {
      event: 'model',
      bytes: bytes.length,
      seconds,
    });
    this.models.set(ref.sha256, model);
    while (this.models.size > this.keep) this.models.delete(this.models.keys().next().value!);
    return model;
  }
}
