/**
 * `gwasgrid coordinator [--method mlm] <the flags of gwasgrid mlm> --listen HOST:PORT --token T --out PREFIX`:
 * prepares the job (sample QC, QC, kinship, null model), serves it to workers until every shard is done, writes
 * the files of `gwasgrid mlm` with the same flags (`PREFIX.assoc.txt`, other --format files, `PREFIX.log.txt`,
 * plots; `PREFIX.<trait>.*` per trait with several traits), and exits 0. Run again with the same `--out` after a
 * crash: finished shards in `PREFIX.shards/` (`PREFIX.<trait>.shards/`) are verified and skipped.
 *
 * `gwasgrid coordinator --method cmlm <the flags of gwasgrid cmlm> --listen HOST:PORT --token T --out PREFIX`: the
 * kinship, the compression search and GAPIT's choice run here; workers fetch the n × rank scan basis (instead of
 * MLM's n × n) and scan the shards; the outputs are those of `gwasgrid cmlm` (coordinator/cmlm-job.ts).
 *
 * `gwasgrid coordinator --method farmcpu|glm <the flags of gwasgrid farmcpu|glm> --nats URL --listen … --token T
 * --out PREFIX`: workers join over gRPC as for MLM and learn the NATS server; the rounds go over NATS
 * (coordinator/farm-run.ts). The analysis flags (and their defaults) follow `--method`, so
 * `gwasgrid coordinator --method farmcpu --help` lists FarmCPU's.
 * SIGTERM or SIGINT: no more leases, the workers are told (they exit 0), `PREFIX.shards/` is kept, no
 * `PREFIX.assoc.txt` is written; exit status 143 (SIGTERM) or 130 (SIGINT), with a log line saying how to resume.
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../shared/errors.js';
import { resolveToken, TOKEN_ENV } from '../shared/protocol/auth.js';
import { parseHostPort } from '../shared/protocol/rpc.js';
import { hideBin } from 'yargs/helpers';
import {
  mlmOptions,
  mlmConfig,
  plotOption,
  plotTraits,
  setup,
  distributedSupported,
  type MlmArgs,
} from './commands.js';
import { cmlmOptions, cmlmConfig, cmlmDistributedSupported, type CmlmArgs } from './cmlm-command.js';
import {
  CoordinatorStopped,
  DEFAULT_LEASE_TIMEOUT_MS,
  reportStopped,
  startCoordinator,
  stopOnSignals,
} from './run.js';
import { femOptions, femSpec, farmcpuOptions, farmCpuSettings, type FarmCpuArgs } from './fem-commands.js';
import { writePlots } from '../shared/results/plot/index.js';
import { natsAuthOf, natsOptions, type NatsFlags } from '../shared/protocol/nats-flags.js';
import {
  DEFAULT_NATS_LEASE_TIMEOUT_MS,
  DEFAULT_ROUND_DEADLINE_MS,
  startFarmCoordinator,
} from './farm-run.js';

const METHODS = ['mlm', 'cmlm', 'farmcpu', 'glm'] as const;
type Method = (typeof METHODS)[number];

/** The --method of this command line (the analysis flags depend on it). */
function methodOf(argv: string[]): Method {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = a === '--method' ? argv[i + 1] : a.startsWith('--method=') ? a.slice(9) : undefined;
    if (v && (METHODS as readonly string[]).includes(v)) return v as Method;
  }
  return 'mlm';
}

interface NatsArgs extends NatsFlags {
  'round-deadline': number;
}

interface CoordinatorArgs
  extends MlmArgs,
    NatsArgs,
    Omit<FarmCpuArgs, keyof MlmArgs>,
    Omit<CmlmArgs, keyof MlmArgs | 'plot'> {
  method: Method;
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
  describe:
    'Serve a distributed MLM or CMLM (shards over gRPC), FarmCPU or GLM (rounds over NATS) to `gwasgrid worker` processes',
  builder: (y) => {
    const method = methodOf(hideBin(process.argv));
    const analysis =
      method === 'mlm'
        ? plotOption(mlmOptions(y))
        : method === 'cmlm'
          ? cmlmOptions(y)
          : method === 'farmcpu'
            ? farmcpuOptions(femOptions(y))
            : femOptions(y);
    return natsOptions(analysis as unknown as Argv<object>, 'coordinator')
      .option('method', {
        choices: METHODS,
        default: 'mlm' as const,
        describe:
          'the analysis: mlm or cmlm (shards over gRPC), farmcpu or glm (rounds over NATS, needs --nats); the analysis flags are those of that command',
        group: 'Coordinator:',
      })
      .option('round-deadline', {
        type: 'number',
        default: DEFAULT_ROUND_DEADLINE_MS / 1000,
        describe: 'seconds a FarmCPU/GLM round may take before the run fails (e.g. no workers left)',
        group: 'NATS (FarmCPU, GLM):',
      })
      .option('listen', {
        type: 'string',
        demandOption: true,
        describe: 'HOST:PORT to serve on (port 0: any free port, logged)',
        group: 'Coordinator:',
      })
      .option('token', {
        type: 'string',
        describe: `join token every worker must present (default: $${TOKEN_ENV})`,
        group: 'Coordinator:',
      })
      .option('shard-size', {
        type: 'number',
        describe: 'SNPs per shard (default: 2000, or fewer so that there are ≥ 16 shards)',
        group: 'Coordinator:',
      })
      .option('lease-timeout', {
        type: 'number',
        default: (method === 'mlm' || method === 'cmlm' ? DEFAULT_LEASE_TIMEOUT_MS : DEFAULT_NATS_LEASE_TIMEOUT_MS) / 1000,
        describe:
          'seconds without a heartbeat after which a lease expires and its shard goes to another worker',
        group: 'Coordinator:',
      })
      .option('keep-shards', {
        type: 'boolean',
        default: true,
        describe:
          'keep PREFIX.shards/ after the merge (--no-keep-shards deletes it; FarmCPU/GLM: only its final-NNNNN.rows files)',
        group: 'Coordinator:',
      })
      .option('tls-cert', { type: 'string', describe: 'server certificate (PEM): serve TLS', group: 'TLS:' })
      .option('tls-key', { type: 'string', describe: 'server key (PEM)', group: 'TLS:' })
      .option('tls-ca', {
        type: 'string',
        describe: 'CA (PEM) for client certificates: require mTLS',
        group: 'TLS:',
      })
      .check((a) => {
        const args = a as unknown as CoordinatorArgs;
        try {
          parseHostPort(args.listen);
        } catch (e) {
          throw new UsageError(`--listen: ${(e as Error).message}`);
        }
        const size = args['shard-size'];
        if (size !== undefined && !(Number.isInteger(size) && size >= 1))
          throw new UsageError('--shard-size must be a whole number ≥ 1');
        if (!(args['lease-timeout'] > 0)) throw new UsageError('--lease-timeout must be > 0 seconds');
        if (args.method === 'mlm') distributedSupported(args, 'gwasgrid coordinator');
        else if (args.method === 'cmlm') cmlmDistributedSupported(args, 'gwasgrid coordinator --method cmlm');
        else if (!args.nats)
          throw new UsageError(
            `--method ${args.method} needs --nats URL (its rounds go over NATS)`,
            'start nats-server and pass its URL, e.g. --nats nats://head:4222',
          );
        if (!(args['round-deadline'] > 0)) throw new UsageError('--round-deadline must be > 0 seconds');
        return true;
      })
      .example(
        '$0 coordinator --bfile data/mouse --pheno-col 1 --listen 0.0.0.0:50051 --token "$T" --out out/cd8',
        'then start workers (gwasgrid worker --coordinator HOST:50051)',
      )
      .example(
        '$0 coordinator --bfile /shared/mouse --kinship /shared/mouse.cXX.txt --listen 0.0.0.0:50051 --shard-size 500 --out /shared/out/cd8',
        'precomputed kinship, smaller shards (token from $GWASGRID_TOKEN)',
      )
      .example(
        '$0 coordinator --bfile d/mouse --listen 0.0.0.0:50051 --tls-cert srv.pem --tls-key srv.key --tls-ca ca.pem --out o/cd8',
        'TLS with client certificates (mTLS)',
      )
      .example(
        '$0 coordinator --bfile /shared/mouse --pheno p.txt --pheno-name CD8,MCH --mind 0.05 --format gemma,plink2 --listen 0.0.0.0:50051 --out /shared/out/m',
        'every flag of gwasgrid mlm: sample QC, two traits (out/m.CD8.*, out/m.MCH.*), two formats each',
      )
      .example(
        '$0 coordinator <same flags> --out out/cd8',
        'after a crash: resumes, skipping the verified shards in out/cd8.shards/',
      )
      .example(
        '$0 coordinator --method cmlm --numeric /shared/mdp_numeric.txt --map /shared/mdp_SNP_information.txt --pheno /shared/mdp_traits.txt --pheno-name EarHT --listen 0.0.0.0:50051 --out /shared/out/earht',
        'CMLM: kinship and compression search here, the n × g basis to the workers, then the shards (GAPIT defaults)',
      )
      .example(
        '$0 coordinator --method cmlm --bfile /shared/mouse --pheno-col 1 --group-from 100 --group-to 500 --group-by 100 --listen 0.0.0.0:50051 --out /shared/out/cd8',
        'CMLM with a smaller compression search (500, 400, …, 100 groups)',
      )
      .example(
        '$0 coordinator --method farmcpu --bfile /shared/sim --pheno-col 1 --nats nats://head:4222 --listen 0.0.0.0:50051 --out /shared/out/sim',
        'FarmCPU: rounds over NATS',
      )
      .epilog(
        'Phases: sample QC (--mind) and QC; the kinship phase (unless --kinship FILE): workers compute partial sums over fixed chunks of 8192 SNP indices, ' +
          'added here in chunk order (the bytes of gwasgrid mlm); the null model; the scan shards; the merge into every --format. ' +
          'Several traits: one kinship phase per distinct SNP set, then one null model and scan per trait, PREFIX.<trait>.* files. --method cmlm: the kinship, ' +
          "the compression search and GAPIT's choice run here (no kinship phase); workers receive the chosen level's n × g basis and scan the " +
          'shards; PREFIX.assoc.txt, PREFIX.cmlm.compression.tsv and PREFIX.gapit.csv are those of gwasgrid cmlm, byte for byte. Finished kinship partials ' +
          'and shards are kept in PREFIX.shards/ (PREFIX.<trait>.shards/): running the same command again resumes. SIGTERM/SIGINT: no more leases, workers are told ' +
          '(they exit 0), PREFIX.shards/ is kept, no PREFIX.assoc.txt is written; exit 143 (SIGTERM) or 130 (SIGINT). A second signal exits at once. ' +
          '--method farmcpu|glm: workers join here and are sent to --nats; each round is leased to them in SNP partitions (docs/nats-protocol.md); ' +
          "the final round's per-SNP rows come back here over gRPC into PREFIX.shards/final-NNNNN.rows (+ .sha256; kept unless --no-keep-shards); " +
          'finished rounds are checkpointed there too, so running the same command again (same --out, same inputs) resumes; ' +
          'the outputs are those of gwasgrid farmcpu|glm, byte for byte.',
      ) as unknown as Argv<CoordinatorArgs>;
  },
  handler: async (a) => {
    const token = resolveToken(a.token);
    const { log, backend } = await setup(a);
    if (a.method === 'farmcpu' || a.method === 'glm') {
      const tls = { cert: a['tls-cert'], key: a['tls-key'], ca: a['tls-ca'] };
      const fem = { ...femSpec(a), out: a.out, backend, log };
      const partitions = a.partitions > 1 ? a.partitions : 16;
      const coord = await startFarmCoordinator({
        method: a.method,
        analysis: a.method === 'farmcpu' ? { ...fem, settings: farmCpuSettings(a) } : fem,
        backendPreference: a.backend,
        listen: a.listen,
        token,
        tls,
        nats: {
          url: a.nats!,
          auth: natsAuthOf(a),
        },
        partitions,
        leaseTimeoutMs: Math.round(a['lease-timeout'] * 1000),
        roundDeadlineMs: Math.round(a['round-deadline'] * 1000),
        keepShards: a['keep-shards'],
      });
      const summary = await coord.done;
      if (a.plot) await writePlots(summary.assocPath, a.out, { log });
      process.exit(0);
    }
    const coord = await startCoordinator({
      ...(a.method === 'cmlm' ? { cmlm: cmlmConfig(a, log, backend) } : { mlm: mlmConfig(a, log, backend) }),
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
      const summary = await coord.done;
      if (a.plot) await plotTraits(summary.traits, log);
    } catch (e) {
      if (!(e instanceof CoordinatorStopped)) throw e;
      reportStopped(e, a.out, log);
      // Work still running in the background (e.g. an eigendecomposition interrupted by the signal) is abandoned.
      process.exit(e.exitCode);
    } finally {
      release();
    }
    // The job is merged and the server stopped. Exit now: a worker behind a dead link (no FIN, no RST) leaves a
    // half-open connection that would otherwise keep this process alive for the kernel's TCP timeouts
    // (test/integration/netns.test.ts cuts a worker's link and checks that the coordinator exits).
    process.exit();
  },
};
