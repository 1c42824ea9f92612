/**
 * The kinship phase of a distributed run, coordinator side (map-reduce): workers lease kinship chunks (the
 * scheduler of the scan, same leases, heartbeats, expiry and duplicate rules), compute the partial sum
 * Σ z zᵀ of their chunk's QC-passing SNPs over the genotype samples (less those removed by --mind), and submit its packed upper triangle;
 * server.ts checks and stores it atomically as `PREFIX.shards/kinship-NNNNN.f64`. When every chunk is done,
 * {@link foldKinship} reads the partials back (checksums verified) and adds them **in chunk order** into a
 * KinshipSum, then scales by 1/m: the same arithmetic as the single-process qcPass, so the same bits.
 */
import { KinshipSum } from '../shared/kinship/kinship.js';
import { InputError, type GwasError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { PhaseJob } from './job.js';
import type { ServiceContext } from './server.js';
import { untilVerified } from './serve-loop.js';

export interface KinshipPhaseSummary {
  chunks: number;
  skipped: number;
  snps: number;
  /** Wall time of the phase (serving until every chunk was done). */
  seconds: number;
  /** Partial sums received in this process, and the seconds spent receiving them (summed over transfers). */
  bytes: number;
  transferSeconds: number;
}

/** Serves the chunks until every one is done and its file verifies (a damaged file goes back in the queue). */
export async function serveKinship(
  job: PhaseJob,
  ctx: ServiceContext,
  opts: {
    log: Logger;
    leaseTimeoutMs: number;
    aborted: () => GwasError | Error | null;
    /** Progress stage name (default "kinship phase (chunks)"). */
    label?: string;
  },
): Promise<KinshipPhaseSummary> {
  const { scheduler: sched, shards } = job;
  const { log } = opts;
  const t0 = performance.now();
  const received = () => (ctx.kinshipTransfers ?? []).reduce((a, b) => a + b.bytes, 0);
  await untilVerified(job, {
    log,
    leaseTimeoutMs: opts.leaseTimeoutMs,
    aborted: opts.aborted,
    report: () => {
      const secs = (performance.now() - t0) / 1000;
      const mb = received() / 1e6;
      log.progress(opts.label ?? 'kinship phase (chunks)', sched.done, sched.total, {
        mbReceived: Number(mb.toFixed(1)),
        mbPerSecond: secs > 0 ? Number((mb / secs).toFixed(1)) : null,
        workers: sched.workerCount,
      });
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const transfers = ctx.kinshipTransfers ?? [];
  const bytes = received();
  const transferSeconds = transfers.reduce((a, b) => a + b.seconds, 0);
  const snps = shards.reduce((a, s) => a + s.expected, 0);
  const mb = bytes / 1e6;
  log.info(
    `kinship phase done: ${shards.length} chunks (${job.skipped} resumed), ${snps} SNPs, in ${seconds.toFixed(2)} s; ` +
      `${mb.toFixed(1)} MB of partial sums received (${seconds > 0 ? (mb / seconds).toFixed(1) : '–'} MB/s over the phase` +
      `${transferSeconds > 0 ? `, ${(mb / transferSeconds).toFixed(1)} MB/s per transfer` : ''})`,
    { event: 'kinship-done', chunks: shards.length, skipped: job.skipped, bytes, seconds, transferSeconds },
  );
  return { chunks: shards.length, skipped: job.skipped, snps, seconds, bytes, transferSeconds };
}

/** K = (Σ partials, added in chunk order) / m, full n × n, from the verified files of the store. */
export async function foldKinship(job: PhaseJob, n: number): Promise<Float64Array> {
  const sum = new KinshipSum(n);
  for (const s of job.shards) {
    const buf = await job.store.read(s);
    if (!buf || buf.length !== 8 * sum.upper.length) {
      throw new InputError(
        'INPUT_FORMAT',
        `${s.name} is missing, damaged or of the wrong size`,
        { file: job.store.tsvPath(s) },
        'run the coordinator again with the same --out to recompute it',
      );
    }
    const aligned = buf.byteOffset % 8 === 0 ? buf : new Uint8Array(buf); // a copy starts at offset 0
    sum.addPacked(new Float64Array(aligned.buffer, aligned.byteOffset, aligned.length / 8), s.expected);
  }
  return sum.finish();
}
