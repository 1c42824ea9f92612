/**
 * One shard on a worker, with the single-process code: QC of the shard's SNP range (same rules, same mask,
 * af and n_miss as the coordinator's whole-file pass), then `scanRange` over [start, end) on all the
 * worker's threads (one pool of scanning threads per job, reused from shard to shard). The lines come back in
 * SNP order, exactly as `gwasgrid mlm` writes them.
 */
import { qcRange } from '../shared/methods/inputs.js';
import { scanRange } from '../shared/methods/mlm.js';
import type { NullModel } from '../shared/lmm/null.js';
import { DistributedError } from '../shared/errors.js';
import type { WorkerJob } from './job.js';

export interface ShardRange {
  name: string;
  start: number;
  end: number;
  expectedSnps: number;
}

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
  opts: { threads: number; revoked: () => boolean; onProgress?: (snps: number) => void },
): Promise<{ data: Buffer; lines: number; seconds: number }> {
  const t = performance.now();
  const { geno, samples, spec, backend } = job;
  const qc = await qcRange(geno, samples, spec.qc, shard.start, shard.end);
  if (qc.counts.kept !== shard.expectedSnps) {
    throw new DistributedError('PROTOCOL', `${shard.name}: ${qc.counts.kept} SNPs pass QC here, ${shard.expectedSnps} on the coordinator`, {
      hint: 'the worker must see the same input files as the coordinator',
    });
  }
  const parts: string[] = [];
  const pool = await job.scanPool(model, opts.threads);
  await scanRange(
    geno,
    samples,
    qc,
    model,
    spec.lmm,
    backend,
    { start: shard.start, end: shard.end, blockSize: spec.blockSize || undefined, pool, onProgress: opts.onProgress },
    (_snp, line) => {
      if (opts.revoked()) throw new ShardRevoked();
      parts.push(line);
    },
  );
  return { data: Buffer.from(parts.join(''), 'utf8'), lines: parts.length, seconds: (performance.now() - t) / 1000 };
}
