/**
 * What a worker holds for one job: the genotype file opened from the job spec's paths (on the shared
 * filesystem), the samples aligned exactly as on the coordinator (checked by count and fingerprint), the
 * numeric backend, and the null model (fetched once, cached by its sha256).
 */
import { openGenotypes, loadSamples } from '../shared/methods/inputs.js';
import type { GenotypeSource } from '../shared/genotype/types.js';
import type { AlignedSamples } from '../shared/samples/align.js';
import type { NullModel } from '../shared/lmm/null.js';
import type { LinalgBackend } from '../shared/linalg/backend.js';
import { selectBackend } from '../shared/linalg/select.js';
import { ScanPool } from '../shared/lmm/scan-pool.js';
import type { Logger } from '../shared/log.js';
import { DistributedError } from '../shared/errors.js';
import { samplesFingerprint, type JobDescription } from '../shared/protocol/job.js';
import { decodeNullModel, hashEncoded } from '../shared/protocol/null-model-codec.js';
import type { Connection } from './connection.js';

const SAME_FILES = 'the worker must see the same input files as the coordinator (same paths, same contents)';

export class WorkerJob {
  private pool: { model: NullModel; threads: number; pool: ScanPool } | null = null;

  private constructor(
    readonly id: string,
    readonly spec: JobDescription,
    readonly geno: GenotypeSource,
    readonly samples: AlignedSamples,
    readonly backend: LinalgBackend,
  ) {}

  static async open(id: string, spec: JobDescription, log: Logger): Promise<WorkerJob> {
    const geno = await openGenotypes(spec.input);
    try {
      if (geno.snps.length !== spec.totalSnps) {
        throw new DistributedError('PROTOCOL', `${geno.label} has ${geno.snps.length} SNPs here, ${spec.totalSnps} on the coordinator`, { hint: SAME_FILES });
      }
      let exclude: Uint8Array | null = null;
      if (spec.excludedSamples?.length) {
        exclude = new Uint8Array(geno.nSamples);
        for (const i of spec.excludedSamples) {
          if (i >= geno.nSamples) throw new DistributedError('PROTOCOL', `excluded sample ${i} is beyond the ${geno.nSamples} samples here`, { hint: SAME_FILES });
          exclude[i] = 1;
        }
      }
      const samples = await loadSamples(geno, spec.input, log, exclude);
      if (samples.analysed.length !== spec.analysedSamples || samplesFingerprint(samples.analysed) !== spec.samplesSha256) {
        throw new DistributedError(
          'PROTOCOL',
          `the analysed samples differ from the coordinator's (${samples.analysed.length} here, ${spec.analysedSamples} there)`,
          { hint: SAME_FILES },
        );
      }
      const { backend } = await selectBackend(spec.backend);
      log.info(`job ${id.slice(0, 12)}…: ${geno.label}, ${samples.analysed.length} samples, -lmm ${spec.lmm}; backend ${backend.detail}`);
      return new WorkerJob(id, spec, geno, samples, backend);
    } catch (e) {
      await geno.close();
      throw e;
    }
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
    await this.geno.close();
  }
}

/** Null models by sha256 (at most `keep`, most recent first: U is n² doubles). */
export class NullModelCache {
  private readonly models = new Map<string, NullModel>();
  constructor(private readonly keep = 1) {}

  async get(conn: Connection, workerId: string, spec: JobDescription, log: Logger): Promise<NullModel> {
    const ref = spec.nullModel;
    const hit = this.models.get(ref.sha256);
    if (hit) return hit;
    const t = performance.now();
    const bytes = await conn.retry(() => conn.fetchNullModel(workerId, ref));
    const seconds = (performance.now() - t) / 1000;
    if (hashEncoded(bytes) !== ref.sha256) throw new DistributedError('PROTOCOL', 'the received null model does not match its sha256');
    const model = decodeNullModel(bytes);
    if (model.n !== spec.analysedSamples) throw new DistributedError('PROTOCOL', `null model for ${model.n} samples, job has ${spec.analysedSamples}`);
    log.info(`null model received: ${(bytes.length / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s (${(bytes.length / 1e6 / seconds).toFixed(1)} MB/s), sha256 verified`, {
      event: 'model',
      bytes: bytes.length,
      seconds,
    });
    this.models.set(ref.sha256, model);
    while (this.models.size > this.keep) this.models.delete(this.models.keys().next().value!);
    return model;
  }
}
