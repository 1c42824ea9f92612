/**
 * `gwasgrid glm` and `gwasgrid farmcpu`: fixed-effect association scans with rMVP semantics (rMVP 1.4.6
 * `MVP.GLM` / `MVP.FarmCPU`), parsed once into typed configs with rMVP's defaults and run in one process
 * (shared/methods/glm.ts, shared/methods/farmcpu/pipeline.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../shared/errors.js';
import { IMPUTE_METHODS, type ImputeMethod } from '../shared/fem/genotypes.js';
import { runGlm } from '../shared/methods/glm.js';
import { runFarmCpuPipeline } from '../shared/methods/farmcpu/pipeline.js';
import { DEFAULT_SETTINGS, type FarmCpuSettings } from '../shared/methods/farmcpu/run.js';
import { inputOptions, inputSpec, setup, type CommonArgs } from './commands.js';
import { writePlots } from '../shared/results/plot/index.js';

export interface FemArgs extends CommonArgs {
  snps?: string;
  impute: ImputeMethod;
  npc: number;
  partitions: number;
  plot?: boolean;
}

/** Flags shared by glm and farmcpu, on top of the input flags (rMVP defaults: no SNP filter). */
export function femOptions<T>(y: Argv<T>) {
  return inputOptions(y)
    .option('maf', {
      type: 'number',
      default: 0,
      describe: 'drop SNPs with minor-allele frequency < maf among analysed samples (rMVP: no filter)',
      group: 'QC:',
    })
    .option('miss', {
      type: 'number',
      default: 1,
      describe: 'drop SNPs missing in more than this fraction of analysed samples (rMVP: no filter)',
      group: 'QC:',
    })
    .option('snps', {
      type: 'string',
      describe:
        "analyse only the SNPs named in this file (one per line), in the file's order (FarmCPU breaks ties of p by this order)",
      group: 'Input:',
    })
    .option('impute', {
      choices: IMPUTE_METHODS,
      default: 'major' as ImputeMethod,
      describe:
        "missing genotypes: major = the SNP's most frequent genotype over all samples (rMVP), middle = 1 (GAPIT), mean = mean over analysed samples (GEMMA)",
      group: 'Model:',
    })
    .option('npc', {
      type: 'number',
      default: 0,
      describe:
        "add the top K principal components of the analysed samples' genotypes as covariates (rMVP nPC)",
      group: 'Model:',
    })
    .option('plot', {
      type: 'boolean',
      describe:
        'also write PREFIX.manhattan.svg/.png and PREFIX.qq.svg/.png from PREFIX.assoc.txt (see gwasgrid plot)',
      group: 'Output:',
    })
    .option('partitions', {
      type: 'number',
      default: 1,
      describe: 'SNP partitions scanned per round in this process (results do not depend on it)',
      group: 'Run:',
    })
    .check((a) => {
      const args = a as unknown as FemArgs;
      if (!(Number.isInteger(args.npc) && args.npc >= 0))
        throw new UsageError('--npc must be a whole number ≥ 0');
      if (!(Number.isInteger(args.partitions) && args.partitions >= 1))
        throw new UsageError('--partitions must be a whole number ≥ 1');
      if (!(args.maf >= 0 && args.maf < 0.5)) throw new UsageError('--maf must be in [0, 0.5)');
      return true;
    });
}

export function femSpec(a: FemArgs) {
  return { ...inputSpec(a), snpsFile: a.snps, impute: a.impute, npc: a.npc, maf: a.maf, miss: a.miss };
}

export const glmCommand: CommandModule<object, FemArgs> = {
  command: 'glm',
  describe:
    'Per-SNP linear regression with covariates (rMVP GLM, plink2 --glm): PREFIX.assoc.txt and PREFIX.glm.linear',
  builder: (y) =>
    femOptions(y)
      .example(
        '$0 glm --bfile data/mouse --pheno-col 1 --out out/cd8',
        'OLS of CD8 on each SNP; writes out/cd8.assoc.txt and out/cd8.glm.linear',
      )
      .example(
        '$0 glm --numeric mdp_numeric.txt --map mdp_SNP_information.txt --pheno mdp_traits.txt --pheno-name EarHT --npc 3 --out out/earht',
        'GAPIT numeric matrix, 3 PCs',
      )
      .example(
        '$0 glm --bfile data/maize --pheno p.txt --pheno-name EarHT --covar q.txt --out out/earht_q',
        'with covariates (PLINK-style file: intercept added)',
      )
      .epilog(
        'Model: y = [1, PCs, covariates]·b + x·a + e, t-test of a with n − q − 1 df (rMVP MVP.GLM). Missing genotypes are ' +
          'imputed (--impute); plink2 instead drops those samples, so the two agree on SNPs without missing calls. ' +
          "PREFIX.assoc.txt has GEMMA's leading columns then beta, se, p_wald; PREFIX.glm.linear has plink2's columns " +
          '(A1 = the minor allele). SNPs collinear with the covariates (e.g. monomorphic) are NA.',
      ) as unknown as Argv<FemArgs>,
  handler: async (a) => {
    const { log, backend } = await setup(a);
    const r = await runGlm({ ...femSpec(a), out: a.out, backend, log, partitions: a.partitions });
    if (a.plot) await writePlots(r.assocPath, a.out, { log });
  },
};

export interface FarmCpuArgs extends FemArgs {
  'max-loop': number;
  'qtn-threshold': number;
  'p-threshold'?: number;
  'bin-method': 'static' | 'optimum';
  'bin-size': string;
  'bin-selection': string;
  bound?: number;
}

function numberList(s: string, flag: string): number[] {
  const v = s.split(',').map((x) => Number(x.trim()));
  if (v.length === 0 || v.some((x) => !(Number.isFinite(x) && x > 0)))
    throw new UsageError(`${flag} must be a comma-separated list of positive numbers`);
  return v;
}

export function farmCpuSettings(a: FarmCpuArgs): FarmCpuSettings {
  const binSizes = numberList(a['bin-size'], '--bin-size');
  if (binSizes.length !== 3) throw new UsageError('--bin-size takes three sizes (bp), e.g. 5e5,5e6,5e7');
  return {
    ...DEFAULT_SETTINGS,
    bound: a.bound,
    maxLoop: a['max-loop'],
    qtnThreshold: a['qtn-threshold'],
    pThreshold: a['p-threshold'] ?? null,
    binMethod: a['bin-method'],
    binSizes: binSizes.sort((x, y) => x - y),
    binSelection: numberList(a['bin-selection'], '--bin-selection'),
  };
}

/** The FarmCPU model flags (also taken by `gwasgrid coordinator --method farmcpu`). */
export function farmcpuOptions<T>(y: Argv<T>) {
  return y
    .option('max-loop', {
      type: 'number',
      default: DEFAULT_SETTINGS.maxLoop,
      describe: 'maximum number of iterations',
      group: 'FarmCPU:',
    })
    .option('qtn-threshold', {
      type: 'number',
      default: DEFAULT_SETTINGS.qtnThreshold,
      describe: 'only bin leads with p below this become pseudo-QTNs',
      group: 'FarmCPU:',
    })
    .option('p-threshold', {
      type: 'number',
      describe:
        'stop after the first scan when no p is below this (default 0.01/m); also raises --qtn-threshold to at least this',
      group: 'FarmCPU:',
    })
    .option('bin-method', {
      choices: ['static', 'optimum'] as const,
      default: 'static' as const,
      describe:
        'static: bin sizes 5e7, 5e6, 5e5 in iterations 2, 3, ≥4 (rMVP MVP() default); optimum: choose bin size and count by EMMA REML each iteration (rMVP method.bin="EMMA")',
      group: 'FarmCPU:',
    })
    .option('bin-size', {
      type: 'string',
      default: '5e5,5e6,5e7',
      describe: 'the three bin sizes in bp',
      group: 'FarmCPU:',
    })
    .option('bin-selection', {
      type: 'string',
      default: '10,20,30,40,50,60,70,80,90,100',
      describe: 'bin counts tried by --bin-method optimum (capped at the bound)',
      group: 'FarmCPU:',
    })
    .option('bound', {
      type: 'number',
      describe: 'pseudo-QTNs proposed per iteration (default round(√n/√log10 n))',
      group: 'FarmCPU:',
    })
    .check((a) => {
      const args = a as unknown as FarmCpuArgs;
      if (!(Number.isInteger(args['max-loop']) && args['max-loop'] >= 1))
        throw new UsageError('--max-loop must be a whole number ≥ 1');
      if (!(args['qtn-threshold'] > 0 && args['qtn-threshold'] <= 1))
        throw new UsageError('--qtn-threshold must be in (0, 1]');
      if (args['p-threshold'] !== undefined && !(args['p-threshold'] > 0 && args['p-threshold'] <= 1))
        throw new UsageError('--p-threshold must be in (0, 1]');
      if (args.bound !== undefined && !(Number.isInteger(args.bound) && args.bound >= 1))
        throw new UsageError('--bound must be a whole number ≥ 1');
      return true;
    });
}

export const farmcpuCommand: CommandModule<object, FarmCpuArgs> = {
  command: 'farmcpu',
  describe: 'FarmCPU (rMVP/GAPIT-exact): PREFIX.assoc.txt and PREFIX.farmcpu.iterations.tsv',
  builder: (y) =>
    farmcpuOptions(femOptions(y))
      .example(
        '$0 farmcpu --bfile data/sim --pheno sim.pheno.plink.txt --pheno-name y --out out/sim',
        'rMVP defaults (static bins, major-genotype imputation)',
      )
      .example(
        '$0 farmcpu --numeric mdp_numeric.txt --map mdp_SNP_information.txt --pheno mdp_traits.txt --pheno-name EarHT --out out/earht',
        'GAPIT tutorial maize data',
      )
      .example(
        '$0 farmcpu --bfile data/mouse --pheno-col 1 --npc 3 --bin-method optimum --out out/cd8',
        '3 PCs, bins chosen by EMMA REML',
      )
      .epilog(
        'Each iteration proposes the lead SNPs of the best bins as pseudo-QTNs (p < --qtn-threshold, LD |r| ≤ 0.7), keeps ' +
          "earlier ones, and rescans every SNP with them as covariates, until the set repeats. A pseudo-QTN's own row reports " +
          'the smallest p it reached as a covariate and its reduced-model effect ("reward"). SNPs collinear with a pseudo-QTN ' +
          'and monomorphic SNPs are NA. SNPs need positions; those without are left out. The log shows the pseudo-QTNs, ' +
          'bin size and seconds of every iteration; PREFIX.farmcpu.iterations.tsv lists them.',
      ) as unknown as Argv<FarmCpuArgs>,
  handler: async (a) => {
    const settings = farmCpuSettings(a);
    const { log, backend } = await setup(a);
    const r = await runFarmCpuPipeline({
      ...femSpec(a),
      settings,
      out: a.out,
      backend,
      log,
      partitions: a.partitions,
    });
    if (a.plot) await writePlots(r.assocPath, a.out, { log });
  },
};
