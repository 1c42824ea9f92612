/**
 * One lease on a worker, with the single-process code:
 * - a scan shard: its inputs (QC of the range here, or the coordinator's with --genotypes-from-coordinator),
 *   then `scanRange` over [start, end) on all the worker's threads (one pool of scanning threads per job,
 *   reused from shard to shard). The lines come back in SNP order, exactly as `gwasgrid mlm` writes them (with
 *   the job's `rowValues`, each followed by its row's full-precision values: shared/results/row-values.ts).
 * - a CMLM shard: the CMLM SNP filter of the range (`snpFilterRange`, or the coordinator's), then `scanCmlm` with
 *   the received scan model (missing genotypes imputed as 1); each line is `cmlmShardLine`: the `.assoc.txt` line of
 *   `gwasgrid cmlm` plus the exact GAPIT MAF, log10 p and effect for the coordinator's GAPIT CSV.
 * - a kinship chunk: the partial sum Σ z zᵀ over the chunk's QC-passing SNPs (a fresh partial of the job's
 *   accumulator, as qcPass computes it, over the samples kept by --mind), packed as its upper triangle, float64
 *   little-endian.
 */
import { scanRange } from '../shared/methods/mlm.js';
import { scanCmlm, cmlmShardLine } from '../shared/methods/cmlm.js';
import type { CmlmScanModel } from '../shared/protocol/cmlm-model-codec.js';
import { packUpper } from '../shared/kinship/kinship.js';
import { mlmRowValues } from '../shared/results/rows.js';
import { withRowValues } from '../shared/results/row-values.js';
import type { NullModel } from '../shared/lmm/null.js';
import type { FetchRange, LeasedRange, WorkerJob } from './job.js';

export type ShardRange = LeasedRange;

/** Thrown from inside the scan when the lease was revoked: the work is dropped. */
export class ShardRevoked extends Error {
  constructor() {
    super('lease revoked');
  }
}

export async function computeShard(
  job: WorkerJob,
  model: NullModel,
  shard: ShardRange,
  opts: { threads: number; revoked: () => boolean; onProgress?: (snps: number) => void; fetch: FetchRange },
): Promise<{ data: Buffer; lines: number; seconds: number }> {
  const t = performance.now();
  const { spec, backend } = job;
  const { geno, analysed, qc } = await job.scanInputs(shard, opts.fetch);
  if (opts.revoked()) throw new ShardRevoked();
  const parts: string[] = [];
  const pool = await job.scanPool(model, opts.threads);
  await scanRange(
    geno,
    { analysed },
    qc,
    model,
    spec.lmm,
    backend,
    { start: shard.start, end: shard.end, blockSize: spec.blockSize || undefined, pool, onProgress: opts.onProgress },
    (_snp, line, row) => {
      if (opts.revoked()) throw new ShardRevoked();
      parts.push(spec.rowValues ? withRowValues(line, mlmRowValues(spec.lmm, row)) : line);
    },
  );
  return { data: Buffer.from(parts.join(''), 'utf8'), lines: parts.length, seconds: (performance.now() - t) / 1000 };
}

export async function computeCmlmShard(
  job: WorkerJob,
  model: CmlmScanModel,
  shard: ShardRange,
  opts: { revoked: () => boolean; onProgress?: (snps: number) => void; fetch: FetchRange },
): Promise<{ data: Buffer; lines: number; seconds: number }> {
  const t = performance.now();
  const { geno, analysed, filter } = await job.cmlmInputs(shard, opts.fetch);
  if (opts.revoked()) throw new ShardRevoked();
  const parts: string[] = [];
  await scanCmlm(
    geno,
    { analysed },
    filter,
    model,
    job.backend,
    { start: shard.start, end: shard.end, blockSize: job.spec.blockSize || undefined, onProgress: opts.onProgress },
    (snp, r, maf) => {
      if (opts.revoked()) throw new ShardRevoked();
      parts.push(cmlmShardLine(geno, filter, snp, r, maf));
    },
  );
  return { data: Buffer.from(parts.join(''), 'utf8'), lines: parts.length, seconds: (performance.now() - t) / 1000 };
}

export async function computeKinship(
  job: WorkerJob,
  shard: ShardRange,
  opts: { revoked: () => boolean; fetch: FetchRange },
): Promise<{ data: Buffer; snps: number; seconds: number }> {
  const t = performance.now();
  const { snps, partial } = await job.kinshipPartial(shard, opts.fetch);
  if (opts.revoked()) throw new ShardRevoked();
  const packed = packUpper(partial, job.kinshipN);
  return { data: Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength), snps, seconds: (performance.now() - t) / 1000 };
}
