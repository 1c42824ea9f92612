/**
 * `gwasgrid coordinator [--method mlm] <the flags of gwasgrid mlm> --listen HOST:PORT --token T --out PREFIX`:
 * prepares the job (QC, kinship, null model), serves it to workers until every shard is done, merges
 * `PREFIX.assoc.txt` (the bytes of `gwasgrid mlm`) and `PREFIX.log.txt`, and exits 0. Run again with the same
 * `--out` after a crash: finished shards in `PREFIX.shards/` are verified and skipped.
 *
 * SIGTERM or SIGINT: no more leases, the workers are told (they exit 0), `PREFIX.shards/` is kept, no
 * `PREFIX.assoc.txt` is written; exit status 143 (SIGTERM) or 130 (SIGINT), with a log line saying how to resume.
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../shared/errors.js';
import { resolveToken, TOKEN_ENV } from '../shared/protocol/auth.js';
import { parseHostPort } from '../shared/protocol/rpc.js';
import { mlmOptions, mlmConfig, setup, type MlmArgs } from './commands.js';
import { CoordinatorStopped, DEFAULT_LEASE_TIMEOUT_MS, reportStopped, startCoordinator, stopOnSignals } from './run.js';

interface CoordinatorArgs extends MlmArgs {
  method: 'mlm';
  listen: string;
  token?: string;
  'shard-size'?: number;
  'lease-timeout': number;
  'keep-shards': boolean;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
}

export const coordinatorCommand: CommandModule<object, CoordinatorArgs> = {
  command: 'coordinator',
  describe: 'Serve a distributed MLM to `gwasgrid worker` processes over gRPC; merge their results',
  builder: (y) =>
    mlmOptions(y)
      .option('method', { choices: ['mlm'] as const, default: 'mlm' as const, describe: 'the analysis', group: 'Coordinator:' })
      .option('listen', { type: 'string', demandOption: true, describe: 'HOST:PORT to serve on (port 0: any free port, logged)', group: 'Coordinator:' })
      .option('token', { type: 'string', describe: `join token every worker must present (default: $${TOKEN_ENV})`, group: 'Coordinator:' })
      .option('shard-size', { type: 'number', describe: 'SNPs per shard (default: 2000, or fewer so that there are ≥ 16 shards)', group: 'Coordinator:' })
      .option('lease-timeout', {
        type: 'number',
        default: DEFAULT_LEASE_TIMEOUT_MS / 1000,
        describe: 'seconds without a heartbeat after which a lease expires and its shard goes to another worker',
        group: 'Coordinator:',
      })
      .option('keep-shards', { type: 'boolean', default: true, describe: 'keep PREFIX.shards/ after the merge (--no-keep-shards deletes it)', group: 'Coordinator:' })
      .option('tls-cert', { type: 'string', describe: 'server certificate (PEM): serve TLS', group: 'TLS:' })
      .option('tls-key', { type: 'string', describe: 'server key (PEM)', group: 'TLS:' })
      .option('tls-ca', { type: 'string', describe: 'CA (PEM) for client certificates: require mTLS', group: 'TLS:' })
      .check((a) => {
        const args = a as unknown as CoordinatorArgs;
        try {
          parseHostPort(args.listen);
        } catch (e) {
          throw new UsageError(`--listen: ${(e as Error).message}`);
        }
        const size = args['shard-size'];
        if (size !== undefined && !(Number.isInteger(size) && size >= 1)) throw new UsageError('--shard-size must be a whole number ≥ 1');
        if (!(args['lease-timeout'] > 0)) throw new UsageError('--lease-timeout must be > 0 seconds');
        return true;
      })
      .example('$0 coordinator --bfile data/mouse --pheno-col 1 --listen 0.0.0.0:50051 --token "$T" --out out/cd8', 'then start workers')
      .epilog(
        'Phases: QC; the kinship phase (unless --kinship FILE): workers compute partial sums over fixed chunks of 8192 SNP indices, ' +
          'added here in chunk order (the bytes of gwasgrid mlm); the null model; the scan shards; the merge. Finished kinship partials ' +
          'and shards are kept in PREFIX.shards/: running the same command again resumes. SIGTERM/SIGINT: no more leases, workers are told ' +
          '(they exit 0), PREFIX.shards/ is kept, no PREFIX.assoc.txt is written; exit 143 (SIGTERM) or 130 (SIGINT). A second signal exits at once.',
      ) as unknown as Argv<CoordinatorArgs>,
  handler: async (a) => {
    const token = resolveToken(a.token);
    const { log, backend } = await setup(a);
    const coord = await startCoordinator({
      mlm: mlmConfig(a, log, backend),
      backendPreference: a.backend,
      listen: a.listen,
      token,
      tls: { cert: a['tls-cert'], key: a['tls-key'], ca: a['tls-ca'] },
      shardSize: a['shard-size'],
      leaseTimeoutMs: Math.round(a['lease-timeout'] * 1000),
      keepShards: a['keep-shards'],
    });
    const release = stopOnSignals(coord, log);
    try {
      await coord.done;
    } catch (e) {
      if (!(e instanceof CoordinatorStopped)) throw e;
      reportStopped(e, a.out, log);
      // Work still running in the background (e.g. an eigendecomposition interrupted by the signal) is abandoned.
      process.exit(e.exitCode);
    } finally {
      release();
    }
  },
};
