/**
 * The analysis commands (`gwasgrid mlm`, `gwasgrid kinship`): flag definitions, parsing into typed configs
 * with named defaults, and the handlers that call the single-process pipeline in shared/methods
 * (`gwasgrid mlm --workers N`: the distributed path, embedded; see embedded.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import { createLogger } from '../shared/log.js';
import { selectBackend, type BackendPreference } from '../shared/linalg/select.js';
import { runMlm } from '../shared/methods/mlm.js';
import { GEMMA_QC } from '../shared/genotype/qc.js';
import { UsageError } from '../shared/errors.js';
import { openGenotypes, loadSamples, qcPass } from '../shared/methods/inputs.js';
import { writeKinship } from '../shared/kinship/io.js';
import type { LmmMode } from '../shared/lmm/scan.js';
import type { KinshipMode } from '../shared/kinship/kinship.js';
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../shared/log.js';
import type { LinalgBackend } from '../shared/linalg/backend.js';
import type { MlmConfig } from '../shared/methods/mlm.js';
import { runEmbedded } from './embedded.js';
import { CoordinatorStopped, reportStopped } from './run.js';

export interface CommonArgs {
  bfile?: string;
  geno?: string;
  anno?: string;
  numeric?: string;
  map?: string;
  'numeric-ind'?: string;
  pheno?: string;
  'pheno-col'?: number;
  'pheno-name'?: string;
  covar?: string;
  maf: number;
  miss: number;
  out: string;
  backend: BackendPreference;
  'log-format'?: 'text' | 'json';
}

/** Input, QC and run-time flags shared by every analysis command. */
export function inputOptions<T>(y: Argv<T>) {
  return y
    .option('bfile', { type: 'string', describe: 'PLINK fileset prefix (PREFIX.bed/.bim/.fam)', group: 'Input:' })
    .option('geno', { type: 'string', describe: 'BIMBAM mean-genotype file (plain or .gz)', group: 'Input:' })
    .option('anno', { type: 'string', describe: 'BIMBAM annotation file (rs, bp, chr)', group: 'Input:' })
    .option('numeric', {
      type: 'string',
      describe: 'numeric 0/1/2 genotype matrix: GAPIT layout (header "taxa SNP…", a row per individual) or rMVP layout (a row per SNP)',
      group: 'Input:',
    })
    .option('map', { type: 'string', describe: 'map for --numeric: SNP, chromosome, position [REF ALT] per genotype column', group: 'Input:' })
    .option('numeric-ind', { type: 'string', describe: 'individual names for an rMVP-layout --numeric file, one per line', group: 'Input:' })
    .option('pheno', {
      type: 'string',
      describe: 'phenotype file: GEMMA style (no header, genotype order, NA/-9 missing) or PLINK style (FID IID header)',
      group: 'Input:',
    })
    .option('pheno-col', { type: 'number', describe: 'phenotype column, 1-based (GEMMA -n); default 1 = .fam column 6', group: 'Input:' })
    .option('pheno-name', { type: 'string', describe: 'phenotype by header name (PLINK-style files)', group: 'Input:' })
    .option('covar', {
      type: 'string',
      describe: 'covariates: GEMMA style (no header, include the intercept column) or PLINK style (header; intercept added)',
      group: 'Input:',
    })
    .option('maf', { type: 'number', default: GEMMA_QC.maf, describe: 'drop SNPs with allele frequency < maf or > 1-maf', group: 'QC:' })
    .option('miss', { type: 'number', default: GEMMA_QC.miss, describe: 'drop SNPs missing in more than this fraction', group: 'QC:' })
    .option('out', { type: 'string', demandOption: true, describe: 'output prefix (directories are created)', group: 'Output:' })
    .option('backend', {
      choices: ['auto', 'native', 'wasm', 'ts'] as const,
      default: 'auto' as const,
      describe: 'numeric kernels: native (C++/LAPACK), wasm (SIMD), ts (plain TypeScript)',
      group: 'Run:',
    })
    .option('log-format', { choices: ['text', 'json'] as const, describe: 'log lines on stderr (default: text on a terminal, json otherwise)', group: 'Run:' })
    .check((a) => {
      const args = a as unknown as CommonArgs;
      const sources = [args.bfile && '--bfile', args.geno && '--geno', args.numeric && '--numeric'].filter(Boolean);
      if (sources.length === 0) throw new UsageError('give --bfile PREFIX, --geno FILE or --numeric FILE --map FILE');
      if (sources.length > 1) throw new UsageError(`give one genotype source, not ${sources.join(' and ')}`);
      if (args.numeric && !args.map) throw new UsageError('--numeric needs --map FILE');
      if (args['pheno-col'] !== undefined && args['pheno-name'] !== undefined) throw new UsageError('give --pheno-col or --pheno-name, not both');
      if (args['pheno-col'] !== undefined && (!Number.isInteger(args['pheno-col']) || args['pheno-col'] < 1)) {
        throw new UsageError('--pheno-col must be a whole number ≥ 1');
      }
      if (!(args.maf >= 0 && args.maf < 0.5)) throw new UsageError('--maf must be in [0, 0.5)');
      if (!(args.miss >= 0 && args.miss <= 1)) throw new UsageError('--miss must be in [0, 1]');
      return true;
    });
}

export function inputSpec(a: CommonArgs) {
  return {
    bfile: a.bfile,
    geno: a.geno,
    anno: a.anno,
    numeric: a.numeric,
    map: a.map,
    numericInd: a['numeric-ind'],
    pheno: a.pheno,
    phenoCol: a['pheno-col'],
    phenoName: a['pheno-name'],
    covar: a.covar,
  };
}

export async function setup(a: CommonArgs) {
  const log = createLogger({ json: a['log-format'] ? a['log-format'] === 'json' : undefined });
  const { backend, notes } = await selectBackend(a.backend);
  for (const n of notes) log.info(n);
  log.info(`backend: ${backend.detail}`);
  return { log, backend };
}

export interface MlmArgs extends CommonArgs {
  kinship?: string;
  gk: number;
  lmm: number;
}

/** The model flags of `gwasgrid mlm` (also taken by `gwasgrid coordinator`). */
export function mlmOptions<T>(y: Argv<T>) {
  return inputOptions(y)
    .option('kinship', { type: 'string', describe: 'kinship matrix file (GEMMA .cXX.txt/.sXX.txt, plain or .gz); computed when omitted', group: 'Model:' })
    .option('gk', { choices: [1, 2], default: 1, describe: 'kinship when computed: 1 centred, 2 standardised', group: 'Model:' })
    .option('lmm', { choices: [1, 2, 3, 4], default: 4, describe: 'tests: 1 Wald, 2 LRT, 3 score, 4 all three', group: 'Model:' });
}

/** The typed MLM configuration of parsed mlm flags. */
export function mlmConfig(a: MlmArgs, log: Logger, backend: LinalgBackend): MlmConfig {
  return {
    ...inputSpec(a),
    kinship: a.kinship,
    gk: a.gk as KinshipMode,
    lmm: a.lmm as LmmMode,
    qc: { ...GEMMA_QC, maf: a.maf, miss: a.miss },
    out: a.out,
    backend,
    log,
    commandLine: ['gwasgrid', ...process.argv.slice(2)].join(' '),
  };
}

interface MlmCommandArgs extends MlmArgs {
  workers?: number;
  'shard-size'?: number;
}

export const mlmCommand: CommandModule<object, MlmCommandArgs> = {
  command: 'mlm',
  describe: 'Mixed-model association scan with GEMMA -lmm semantics (Wald, LRT, score)',
  builder: (y) =>
    mlmOptions(y)
      .option('workers', {
        type: 'number',
        describe: 'run distributed in one go: a coordinator and N worker processes on this machine (same output bytes)',
        group: 'Run:',
      })
      .option('shard-size', { type: 'number', describe: 'with --workers: SNPs per shard (default: ≤ 2000, ≥ 4 shards per worker)', group: 'Run:' })
      .check((a) => {
        const w = (a as unknown as MlmCommandArgs).workers;
        const size = (a as unknown as MlmCommandArgs)['shard-size'];
        if (w !== undefined && !(Number.isInteger(w) && w >= 1)) throw new UsageError('--workers must be a whole number ≥ 1');
        if (size !== undefined && w === undefined) throw new UsageError('--shard-size needs --workers');
        if (size !== undefined && !(Number.isInteger(size) && size >= 1)) throw new UsageError('--shard-size must be a whole number ≥ 1');
        return true;
      })
      .example('$0 mlm --bfile data/mouse --pheno-col 1 --out out/cd8', 'kinship computed, all three tests')
      .example('$0 mlm --bfile data/mouse --kinship out/mouse.cXX.txt --covar sex.txt --lmm 1 --out out/cd8', 'reuse a kinship; Wald only')
      .example('$0 mlm --geno g.txt.gz --anno a.txt --pheno p.txt --out out/x', 'BIMBAM dosages')
      .example('$0 mlm --bfile data/mouse --pheno-col 1 --workers 4 --out out/cd8', 'distributed over 4 local worker processes') as unknown as Argv<MlmCommandArgs>,
  handler: async (a) => {
    const { log, backend } = await setup(a);
    const cfg = mlmConfig(a, log, backend);
    if (a.workers !== undefined) {
      try {
        await runEmbedded(cfg, { workers: a.workers, shardSize: a['shard-size'], backendPreference: a.backend, logFormat: a['log-format'] });
      } catch (e) {
        if (!(e instanceof CoordinatorStopped)) throw e;
        reportStopped(e, a.out, log);
        process.exit(e.exitCode);
      }
    } else {
      await runMlm(cfg);
    }
  },
};

interface KinshipArgs extends CommonArgs {
  gk: number;
}

export const kinshipCommand: CommandModule<object, KinshipArgs> = {
  command: 'kinship',
  describe: 'Relatedness matrix as GEMMA -gk 1|2, written as PREFIX.cXX.txt or PREFIX.sXX.txt',
  builder: (y) =>
    inputOptions(y)
      .option('gk', { choices: [1, 2], default: 1, describe: '1 centred (.cXX.txt), 2 standardised (.sXX.txt)', group: 'Model:' })
      .example('$0 kinship --bfile data/mouse --gk 1 --out out/mouse', 'writes out/mouse.cXX.txt') as unknown as Argv<KinshipArgs>,
  handler: async (a) => {
    const { log, backend } = await setup(a);
    const spec = inputSpec(a);
    await fsp.mkdir(dirname(a.out) || '.', { recursive: true });
    const geno = await openGenotypes(spec);
    try {
      const samples = await loadSamples(geno, spec, log);
      const t = performance.now();
      const pass = await qcPass(geno, samples, { qc: { ...GEMMA_QC, maf: a.maf, miss: a.miss }, kinship: a.gk as KinshipMode, backend, log });
      log.info(`kinship from ${pass.kinshipSnps} SNPs in ${((performance.now() - t) / 1000).toFixed(2)} s`);
      const path = `${a.out}.${a.gk === 1 ? 'cXX' : 'sXX'}.txt`;
      await writeKinship(path, pass.K!, geno.nSamples);
      log.info(`wrote ${path}`);
    } finally {
      await geno.close();
    }
  },
};
