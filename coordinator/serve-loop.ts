/**
 * The loop every leased phase runs on the coordinator (kinship chunks, MLM and CMLM scan shards): expired leases
 * are swept a few times per lease timeout; progress is reported about once a second; when every shard is done,
 * the files are verified once more and a damaged one goes back in the queue (requeueDamaged) — the phase ends
 * only when every file verifies. A stop/abort or the scheduler's failure is thrown.
 */
import type { GwasError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { PhaseJob } from './job.js';
import type { Scheduler } from './scheduler.js';
import { requeueDamaged } from './shard-store.js';

export async function untilVerified(
  job: Pick<PhaseJob, 'scheduler' | 'store' | 'shards'>,
  opts: { log: Logger; leaseTimeoutMs: number; aborted: () => GwasError | Error | null; report: () => void },
): Promise<void> {
  const { scheduler: sched, store, shards } = job;
  const sweeper = setInterval(() => sched.sweep(), Math.max(100, Math.round(opts.leaseTimeoutMs / 4)));
  try {
    for (;;) {
      while (!sched.allDone && !sched.failure && !opts.aborted()) {
        await sched.changed(1000);
        opts.report();
      }
      const failed = opts.aborted() ?? sched.failure;
      if (failed) throw failed;
      if ((await requeueDamaged(store, shards, sched, opts.log)) === 0) return;
    }
  } finally {
    clearInterval(sweeper);
  }
}

/** Progress of a scan phase: shards done of total, SNPs, SNPs/s since `since`, ETA over `totalSnps`, workers. */
export function scanProgress(sched: Scheduler, log: Logger, stage: string, totalSnps: number): () => void {
  const since = performance.now();
  const snps0 = sched.snpsDone;
  return () => {
    const secs = (performance.now() - since) / 1000;
    const rate = secs > 0 ? (sched.snpsDone - snps0) / secs : 0;
    const eta = rate > 0 ? (totalSnps - sched.snpsDone) / rate : NaN;
    log.progress(stage, sched.done, sched.total, {
      snps: sched.snpsDone,
      snpsPerSecond: Math.round(rate),
      etaSeconds: Number.isFinite(eta) ? Math.round(eta) : null,
      workers: sched.workerCount,
    });
  };
}
