/**
 * A worker in a FarmCPU/GLM job: after joining over gRPC (worker/run.ts hands over the job spec), it connects to
 * the job's NATS server (the coordinator's URL and credentials, or the worker's own `--nats…` flags), fetches
 * the setup, and serves SNP partitions round after round until the coordinator says the job is done
 * (shared/protocol/farm-bus.ts, docs/nats-protocol.md). On the final round each partition's per-SNP rows go
 * back over gRPC, by SubmitShard as MLM shards (token, TLS and outage retries of worker/connection.ts), before
 * the NATS reply that names them.
 */
import { hostname } from 'node:os';
import type { Logger } from '../shared/log.js';
import { DistributedError } from '../shared/errors.js';
import { pb } from '../shared/protocol/rpc.js';
import type { TlsFlags } from '../shared/protocol/tls.js';
import { RejoinRequired } from '../shared/protocol/status.js';
import { connectNats, type NatsAuth } from '../shared/protocol/nats-rounds.js';
import { runFarmWorker, type SubmitRows } from '../shared/protocol/farm-bus.js';
import { selectBackend, type BackendPreference } from '../shared/linalg/select.js';
import { Connection } from './connection.js';

/** How this worker reaches the coordinator's gRPC service (where it joined) to submit final rows. */
export interface GrpcLink {
  coordinator: string;
  token: string;
  tls: TlsFlags;
  /** Ride out a coordinator outage this long (--timeout). */
  timeoutMs: number;
  /** The id the coordinator gave this worker on Join. */
  workerId: string;
}

/**
 * Sends a partition's final rows with SubmitShard (payload FINAL_ROWS), retrying while the coordinator is
 * unreachable; a refusal (checksum, size, a round that is over) is logged and answered false.
 */
export function grpcRowsSubmitter(
  conn: Connection,
  link: GrpcLink,
  spec: pb.JobSpec,
  log: Logger,
): SubmitRows {
  return async (u) => {
    const header = pb.ShardHeader.create({
      workerId: link.workerId,
      jobId: spec.jobId,
      leaseId: `r${u.task.round}/p${u.task.partition}/a${u.task.attempt}`,
      index: u.task.partition,
      start: u.task.start,
      end: u.task.end,
      payload: pb.ShardHeader_Payload.FINAL_ROWS,
      round: u.task.round,
    });
    const trailer = pb.ShardTrailer.create({ lineCount: u.count, sha256: u.sha256, scanSeconds: u.seconds });
    try {
      const r = await conn.retry(() => conn.submitShard(header, u.data, trailer));
      const dup = r.outcome === pb.SubmitReply_Outcome.DUPLICATE;
      log.info(
        `${u.name}: final rows of partition ${u.task.partition} (${u.count} SNPs, ${u.data.length} bytes) ${dup ? 'already kept by the coordinator (duplicate)' : 'sent by gRPC'}`,
        {
          event: 'final-rows',
          partition: u.task.partition,
          round: u.task.round,
          sha256: u.sha256,
          duplicate: dup,
        },
      );
      return true;
    } catch (e) {
      // A coordinator that does not know this worker or job (RejoinRequired) runs another job: stop.
      if (e instanceof DistributedError && e.code === 'PROTOCOL' && !(e instanceof RejoinRequired)) {
        log.warn(`${u.name}: the coordinator refused the final rows (${e.message})`, {
          event: 'final-rows-refused',
        });
        return false;
      }
      throw e;
    }
  };
}

export interface NatsWorkerOptions {
  /** The coordinator's gRPC address and this worker's session there (final rows go back that way). */
  grpc: GrpcLink;
  /** Overrides the coordinator's NATS URL. */
  url?: string;
  /** Overrides the coordinator's NATS credentials when any field is set. */
  auth: NatsAuth;
  name?: string;
  log: Logger;
  signal?: AbortSignal;
}

export async function runNatsWorker(
  spec: pb.JobSpec,
  opts: NatsWorkerOptions,
): Promise<{ partitions: number }> {
  const nats = spec.nats;
  if (!nats) throw new DistributedError('PROTOCOL', `the ${spec.method} job has no NATS section`);
  const url = opts.url ?? nats.url;
  const own = Object.values(opts.auth).some((v) => v !== undefined);
  const auth: NatsAuth = own ? opts.auth : { token: nats.token, user: nats.user, pass: nats.pass };
  const { backend, notes } = await selectBackend((spec.backend || 'auto') as BackendPreference);
  for (const n of notes) opts.log.info(n);
  const worker = `${opts.name ?? hostname()}-${process.pid}`;
  opts.log.info(
    `${spec.method} job ${nats.job}: connecting to NATS ${url} as ${worker} (backend ${backend.name})`,
  );
  const nc = await connectNats(url, auth, `gwasgrid-worker-${worker}`, opts.log);
  const g = opts.grpc;
  const conn = new Connection(g.coordinator, g.token, g.tls, g.timeoutMs, opts.log, opts.signal);
  try {
    const r = await runFarmWorker(nc, nats.job, worker, backend, {
      heartbeatMs: 1000,
      log: opts.log,
      signal: opts.signal,
      submitRows: grpcRowsSubmitter(conn, g, spec, opts.log),
    });
    opts.log.info(
      `the coordinator says the job is done (${r.partitions} partition scans from this worker); exiting`,
      { event: 'done' },
    );
    return r;
  } finally {
    conn.close();
    await nc.drain().catch(() => {});
  }
}
