/**
 * A worker in a FarmCPU/GLM job: after joining over gRPC (worker/run.ts hands over the job spec), it connects to
 * the job's NATS server (the coordinator's URL and credentials, or the worker's own `--nats…` flags), fetches
 * the setup, and serves SNP partitions round after round until the coordinator says the job is done
 * (shared/protocol/farm-bus.ts, docs/nats-protocol.md).
 */
import { hostname } from 'node:os';
import type { Logger } from '../shared/log.js';
import { DistributedError } from '../shared/errors.js';
import type { pb } from '../shared/protocol/rpc.js';
import { connectNats, type NatsAuth } from '../shared/protocol/nats-rounds.js';
import { runFarmWorker } from '../shared/protocol/farm-bus.js';
import { selectBackend, type BackendPreference } from '../shared/linalg/select.js';

export interface NatsWorkerOptions {
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
  try {
    const r = await runFarmWorker(nc, nats.job, worker, backend, {
      heartbeatMs: 1000,
      log: opts.log,
      signal: opts.signal,
    });
    opts.log.info(
      `the coordinator says the job is done (${r.partitions} partition scans from this worker); exiting`,
      { event: 'done' },
    );
    return r;
  } finally {
    await nc.drain().catch(() => {});
  }
}
