/**
 * `gwasgrid worker --coordinator HOST:PORT --token T`: joins a coordinator and computes what it leases (kinship
 * chunks, then SNP shards) until the job is done (exit 0), or until the coordinator says it is stopping before
 * the job is done (SIGTERM/SIGINT on the coordinator; also exit 0, with a log line). Exits non-zero with the
 * reason when the token is refused (6), the coordinator is unreachable for `--timeout` seconds (6), or a shard
 * cannot be computed here (the error's own code); 143/130 when the worker itself gets SIGTERM/SIGINT.
 */
import type { Argv, CommandModule } from 'yargs';
import { createLogger } from '../shared/log.js';
import { defaultThreads } from '../shared/methods/mlm.js';
import { UsageError } from '../shared/errors.js';
import { resolveToken, TOKEN_ENV } from '../shared/protocol/auth.js';
import { parseHostPort } from '../shared/protocol/rpc.js';
import { NatsJobOffer, runWorker } from './run.js';
import { runNatsWorker } from './farm.js';
import { natsAuthOf, natsOptions, type NatsFlags } from '../shared/protocol/nats-flags.js';

interface WorkerArgs extends NatsFlags {
  coordinator: string;
  token?: string;
  timeout: number;
  threads?: number;
  name?: string;
  'genotypes-from-coordinator': boolean;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  'log-format'?: 'text' | 'json';
}

export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker',
  describe: 'Join a distributed run: lease SNP shards from a coordinator, scan them, send the results back',
  builder: (y) =>
    natsOptions(y as Argv<object>, 'worker')
      .option('coordinator', {
        type: 'string',
        demandOption: true,
        describe: "the coordinator's HOST:PORT",
        group: 'Worker:',
      })
      .option('token', { type: 'string', describe: `join token (default: $${TOKEN_ENV})`, group: 'Worker:' })
      .option('timeout', {
        type: 'number',
        default: 60,
        describe: 'give up after the coordinator is unreachable this many seconds',
        group: 'Worker:',
      })
      .option('threads', {
        type: 'number',
        describe: 'threads for the per-SNP tests (default: all cores, or $GWASGRID_THREADS)',
        group: 'Worker:',
      })
      .option('name', { type: 'string', describe: "a name for the coordinator's log", group: 'Worker:' })
      .option('genotypes-from-coordinator', {
        type: 'boolean',
        default: false,
        describe:
          'no shared filesystem: receive each leased range over gRPC from the coordinator (.bed bytes for PLINK input, float64 dosages otherwise, ' +
          'with SNP metadata, QC and the analysed samples); the worker opens no input file',
        group: 'Worker:',
      })
      .option('tls-cert', { type: 'string', describe: 'client certificate (PEM) for mTLS', group: 'TLS:' })
      .option('tls-key', { type: 'string', describe: 'client key (PEM) for mTLS', group: 'TLS:' })
      .option('tls-ca', {
        type: 'string',
        describe: "CA (PEM) that signed the coordinator's certificate: connect with TLS",
        group: 'TLS:',
      })
      .option('log-format', {
        choices: ['text', 'json'] as const,
        describe: 'log lines on stderr (default: text on a terminal, json otherwise)',
        group: 'Run:',
      })
      .example(
        '$0 worker --coordinator head:50051 --token "$T"',
        'join and work until the job is done (inputs on the shared filesystem; MLM and CMLM shards over gRPC, FarmCPU/GLM rounds over NATS)',
      )
      .example(
        '$0 worker --coordinator head:50051 --token "$T" --genotypes-from-coordinator',
        'a node without the input files',
      )
      .example(
        'GWASGRID_TOKEN=$T $0 worker --coordinator head:50051 --threads 8 --name node07',
        'token from the environment, 8 threads',
      )
      .example(
        '$0 worker --coordinator head:50051 --tls-ca ca.pem --tls-cert w.pem --tls-key w.key',
        'TLS (mTLS with a client certificate)',
      )
      .example(
        '$0 worker --coordinator head:50051 --timeout 600',
        'ride out coordinator restarts of up to 10 minutes',
      )
      .epilog(
        'Exit codes: 0 when the job is done, or when the coordinator was stopped (SIGTERM/SIGINT) before it was done ' +
          '(restart the coordinator with the same --out to resume, then start workers again); 6 token refused, coordinator ' +
          'unreachable past --timeout or a protocol mismatch; 143/130 when this worker gets SIGTERM/SIGINT (it leaves the job first).',
      )
      .check((a) => {
        const args = a as unknown as WorkerArgs;
        try {
          parseHostPort(args.coordinator);
        } catch (e) {
          throw new UsageError(`--coordinator: ${(e as Error).message}`);
        }
        if (!(args.timeout > 0)) throw new UsageError('--timeout must be > 0 seconds');
        if (args.threads !== undefined && !(Number.isInteger(args.threads) && args.threads >= 1))
          throw new UsageError('--threads must be a whole number ≥ 1');
        return true;
      }) as unknown as Argv<WorkerArgs>,
  handler: async (a) => {
    const log = createLogger({ json: a['log-format'] ? a['log-format'] === 'json' : undefined });
    const token = resolveToken(a.token);
    const stop = new AbortController();
    let signalled: NodeJS.Signals | null = null;
    const onSignal = (sig: NodeJS.Signals) => {
      signalled = sig;
      log.warn(`${sig}: leaving after the current step`);
      stop.abort();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    try {
      await runWorker({
        coordinator: a.coordinator,
        token,
        tls: { cert: a['tls-cert'], key: a['tls-key'], ca: a['tls-ca'] },
        timeoutMs: a.timeout * 1000,
        threads: a.threads ?? defaultThreads(),
        name: a.name,
        genotypesFromCoordinator: a['genotypes-from-coordinator'],
        log,
        signal: stop.signal,
      });
    } catch (e) {
      if (!(e instanceof NatsJobOffer)) throw e;
      await runNatsWorker(e.spec, {
        grpc: {
          coordinator: a.coordinator,
          token,
          tls: { cert: a['tls-cert'], key: a['tls-key'], ca: a['tls-ca'] },
          timeoutMs: a.timeout * 1000,
          workerId: e.workerId,
        },
        url: a.nats,
        auth: natsAuthOf(a),
        name: a.name,
        log,
        signal: stop.signal,
      });
    }
    if (stop.signal.aborted) process.exitCode = signalled === 'SIGINT' ? 130 : 143;
  },
};
