/**
 * `gwasgrid mlm --workers N` (and `gwasgrid cmlm --workers N`): the distributed path in one command. The coordinator (run.ts) listens on a free
 * loopback port with a fresh random token, and N child processes of this same CLI run `gwasgrid worker` against
 * it (token passed in the environment, threads split between them), started at once so that their start-up
 * overlaps the coordinator's preparation of the job. Same code as a cluster run: nothing here
 * scans. The job fails if every worker process dies before it is done. Ctrl-C (SIGINT) or SIGTERM stops it as it
 * stops `gwasgrid coordinator` (shards kept in `PREFIX.shards/`; the same command resumes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { MlmConfig } from '../shared/methods/mlm.js';
import type { CmlmConfig } from '../shared/methods/cmlm.js';
import type { BackendPreference } from '../shared/linalg/select.js';
import { DistributedError } from '../shared/errors.js';
import { TOKEN_ENV } from '../shared/protocol/auth.js';
import { DEFAULT_LEASE_TIMEOUT_MS, startCoordinator, stopOnSignals, type CoordinatorSummary } from './run.js';

export interface EmbeddedOptions {
  workers: number;
  shardSize?: number;
  backendPreference: BackendPreference;
  logFormat?: 'text' | 'json';
}

/** `analysis`: an MLM config, or `{ cmlm }` for a CMLM run (coordinator/cmlm-job.ts). */
export async function runEmbedded(analysis: MlmConfig | { cmlm: CmlmConfig }, o: EmbeddedOptions): Promise<CoordinatorSummary> {
  const method = 'cmlm' in analysis ? 'cmlm' : 'mlm';
  const log = 'cmlm' in analysis ? analysis.cmlm.log : analysis.log;
  const token = randomBytes(24).toString('base64url');
  const coord = await startCoordinator({
    ...('cmlm' in analysis ? { cmlm: analysis.cmlm } : { mlm: analysis }),
    backendPreference: o.backendPreference,
    listen: '127.0.0.1:0',
    token,
    tls: {},
    shardSize: o.shardSize,
    workersHint: o.workers,
    leaseTimeoutMs: DEFAULT_LEASE_TIMEOUT_MS,
    keepShards: false,
    logLines: [`## Workers = ${o.workers} local worker processes (gwasgrid ${method} --workers ${o.workers})`],
  });
  const cli = fileURLToPath(new URL('../bin/gwasgrid.js', import.meta.url));
  const threads =
    process.env.GWASGRID_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / o.workers)));
  log.info(`starting ${o.workers} worker processes (${threads} thread(s) each)`);
  let finished = false;
  let alive = o.workers;
  const children: ChildProcess[] = [];
  for (let i = 1; i <= o.workers; i++) {
    const args = [
      cli,
      'worker',
      '--coordinator',
      coord.address,
      '--name',
      `local-${i}`,
      ...(o.logFormat ? ['--log-format', o.logFormat] : []),
    ];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, [TOKEN_ENV]: token, GWASGRID_THREADS: threads },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', (code, signal) => {
      alive--;
      if (finished) return;
      if (code !== 0)
        log.warn(`worker process local-${i} exited with ${code ?? signal} before the job was done`);
      if (alive === 0) {
        coord.abort(
          new DistributedError(
            'UNAVAILABLE',
            `all ${o.workers} worker processes exited before the job was done (see their messages above)`,
          ),
        );
      }
    });
    children.push(child);
  }
  const release = stopOnSignals(coord, log);
  try {
    return await coord.done;
  } finally {
    release();
    finished = true;
    await Promise.all(children.map((c) => exited(c, 5000)));
  }
}

/** Waits for a child to exit; sends it SIGTERM after `ms`, SIGKILL 3 s later. */
function exited(c: ChildProcess, ms: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const term = setTimeout(() => c.kill('SIGTERM'), ms);
    const kill = setTimeout(() => c.kill('SIGKILL'), ms + 3000);
    c.once('exit', () => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve();
    });
  });
}
