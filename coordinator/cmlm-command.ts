/**
 * `gwasgrid cmlm`: compressed mixed-model association scan with GAPIT 4.1 CMLM semantics (flags parsed into a
 * typed {@link CmlmConfig}, then the single-process pipeline in shared/methods/cmlm.ts). With `--workers N` the
 * distributed path in one command (embedded.ts: a coordinator running coordinator/cmlm-job.ts plus N local
 * `gwasgrid worker` processes; the same output bytes).
 */
import type { Argv, CommandModule } from 'yargs';
import { embeddedRunOptions, inputOptions, inputSpec, parseTraits, setup, type CommonArgs } from './commands.js';
import { runEmbedded } from './embedded.js';
import { CoordinatorStopped, reportStopped } from './run.js';
import { runCmlm, type CmlmConfig, type CmlmKinshipMethod } from '../shared/methods/cmlm.js';
import { GAPIT_LINKAGES } from '../shared/cmlm/hclust.js';
import type { GroupKinship } from '../shared/cmlm/compress.js';
import { UsageError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { LinalgBackend } from '../shared/linalg/backend.js';
import { writePlots } from '../shared/results/plot/index.js';

export interface CmlmArgs extends CommonArgs {
  plot?: boolean;
  'kinship-method': CmlmKinshipMethod;
  'group-from': number;
  'group-to'?: number;
  'group-by': number;
  linkage: string;
  'group-kinship': string;
  extract?: string;
}

const GROUP_KINSHIP: Record<string, GroupKinship> = {
  mean: 'Mean',
  max: 'Max',
  min: 'Min',
  median: 'Median',
};

/** The model flags of `gwasgrid cmlm`. */
export function cmlmOptions<T>(y: Argv<T>) {
  return inputOptions(y)
    .option('maf', {
      type: 'number',
      default: 0,
      describe: 'drop SNPs with allele frequency < maf or > 1-maf (GAPIT filters nothing: default 0)',
      group: 'QC:',
    })
    .option('miss', {
      type: 'number',
      default: 1,
      describe: 'drop SNPs missing in more than this fraction (default 1: keep all)',
      group: 'QC:',
    })
    .option('extract', {
      type: 'string',
      describe: 'analyse only the SNP IDs listed in FILE (first column), kinship included',
      group: 'Input:',
    })
    .option('kinship-method', {
      choices: ['zhang', 'vanraden', 'gemma'] as const,
      default: 'zhang' as const,
      describe: "kinship of all genotyped individuals: GAPIT's Zhang (default), VanRaden, or GEMMA's centred",
      group: 'Model:',
    })
    .option('group-from', {
      type: 'number',
      default: 1,
      describe: 'smallest group count searched',
      group: 'Model:',
    })
    .option('group-to', {
      type: 'number',
      describe:
        'largest group count searched (default: the number of genotyped individuals = no compression)',
      group: 'Model:',
    })
    .option('group-by', {
      type: 'number',
      default: 50,
      describe: 'step between group counts (GAPIT default 50)',
      group: 'Model:',
    })
    .option('linkage', {
      choices: Object.keys(GAPIT_LINKAGES),
      default: 'average',
      describe: 'hclust method for clustering kinship rows (GAPIT kinship.cluster; "ward" is R\'s ward.D)',
      group: 'Model:',
    })
    .option('group-kinship', {
      choices: ['mean', 'max', 'min', 'median', 'Mean', 'Max', 'Min', 'Median'],
      default: 'mean',
      describe: 'statistic of individual kinships within a pair of groups (GAPIT kinship.group)',
      group: 'Model:',
    })
    .check((a) => {
      const args = a as unknown as CmlmArgs;
      const whole = (x: number | undefined) => x === undefined || (Number.isInteger(x) && x >= 1);
      if (!whole(args['group-from'])) throw new UsageError('--group-from must be a whole number ≥ 1');
      if (!whole(args['group-to'])) throw new UsageError('--group-to must be a whole number ≥ 1');
      if (!whole(args['group-by'])) throw new UsageError('--group-by must be a whole number ≥ 1');
      if (args['group-to'] !== undefined && args['group-from'] > args['group-to']) {
        throw new UsageError(
          '--group-from is larger than --group-to',
          'give --group-from ≤ --group-to (equal values search one level)',
        );
      }
      return true;
    });
}

/** What the distributed CMLM (--workers, gwasgrid coordinator --method cmlm) refuses at the command line. */
export function cmlmDistributedSupported(a: CommonArgs, how: string): void {
  if (parseTraits(a).traits) {
    throw new UsageError(`${how}: a CMLM run analyses one trait`, 'give one --pheno-col or --pheno-name per run');
  }
  if (a.mind !== undefined) {
    throw new UsageError(`${how}: --mind is not supported by cmlm`, 'remove the samples first (e.g. plink2 --mind … --make-bed)');
  }
}

/** The typed CMLM configuration of parsed flags. */
export function cmlmConfig(a: CmlmArgs, log: Logger, backend: LinalgBackend): CmlmConfig {
  return {
    ...inputSpec(a),
    kinshipMethod: a['kinship-method'],
    groupFrom: a['group-from'],
    groupTo: a['group-to'] ?? Infinity,
    groupBy: a['group-by'],
    linkage: GAPIT_LINKAGES[a.linkage],
    groupKinship: GROUP_KINSHIP[a['group-kinship'].toLowerCase()],
    maf: a.maf,
    miss: a.miss,
    extract: a.extract,
    out: a.out,
    backend,
    log,
    commandLine: ['gwasgrid', ...process.argv.slice(2)].join(' '),
  };
}

interface CmlmCommandArgs extends CmlmArgs {
  workers?: number;
  'shard-size'?: number;
}

export const cmlmCommand: CommandModule<object, CmlmCommandArgs> = {
  command: 'cmlm',
  describe: 'Compressed MLM (GAPIT CMLM: kinship clustering, compression search, P3D scan)',
  builder: (y) =>
    embeddedRunOptions(
      cmlmOptions(y),
      'run distributed in one go: a coordinator (kinship, compression search) and N worker processes scanning shards on this machine (same output bytes)',
      (args) => cmlmDistributedSupported(args as unknown as CmlmCommandArgs, '--workers'),
    )
      .option('plot', {
        type: 'boolean',
        describe:
          'also write PREFIX.manhattan.svg/.png and PREFIX.qq.svg/.png from PREFIX.assoc.txt (see gwasgrid plot)',
        group: 'Output:',
      })
      .epilog(
        'Writes PREFIX.assoc.txt (chr rs ps n_miss allele1 allele0 af beta se p_wald), PREFIX.cmlm.compression.tsv ' +
          '(group count, groups with phenotypes, linkage, group kinship, -2LL, VA, VE, chosen), PREFIX.gapit.csv ' +
          "(GAPIT's results columns) and PREFIX.log.txt. Individuals are clustered on the Euclidean distances between " +
          'their kinship rows; the tree is cut into g groups for g = group-to, group-to − group-by, …; each level is fitted ' +
          "by EMMA REML and GAPIT's rule picks one (smallest -2LL, with its fall-back to no compression). Markers are " +
          'then tested with the chosen variance components (P3D), missing genotypes imputed as 1.',
      )
      .example(
        '$0 cmlm --numeric mdp_numeric.txt --map mdp_SNP_information.txt --pheno mdp_traits.txt --pheno-name EarHT --out out/earht',
        "GAPIT's maize tutorial data, GAPIT defaults",
      )
      .example(
        '$0 cmlm --bfile data/mouse --pheno-col 1 --group-to 500 --group-by 100 --out out/cd8',
        'search 500, 400, …, 100 groups',
      )
      .example(
        '$0 cmlm --bfile data/mouse --group-from 131 --group-to 131 --linkage ward --out out/g131',
        'one fixed compression level',
      )
      .example(
        '$0 cmlm --bfile data/mouse --pheno-col 1 --group-to 500 --group-by 100 --workers 4 --out out/cd8',
        'the scan distributed over 4 local worker processes (same bytes; see gwasgrid coordinator --method cmlm for a cluster)',
      ) as unknown as Argv<CmlmCommandArgs>,
  handler: async (a) => {
    const { log, backend } = await setup(a);
    const cfg = cmlmConfig(a, log, backend);
    if (a.workers !== undefined) {
      try {
        await runEmbedded(
          { cmlm: cfg },
          { workers: a.workers, shardSize: a['shard-size'], backendPreference: a.backend, logFormat: a['log-format'] },
        );
      } catch (e) {
        if (!(e instanceof CoordinatorStopped)) throw e;
        reportStopped(e, a.out, log);
        process.exit(e.exitCode);
      }
    } else await runCmlm(cfg);
    if (a.plot) await writePlots(`${a.out}.assoc.txt`, a.out, { log });
  },
};
