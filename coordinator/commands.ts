/**
 * The analysis commands (`gwasgrid mlm`, `gwasgrid kinship`): flag definitions, parsing into typed configs
 * with named defaults, and the handlers that call the single-process pipeline in shared/methods
 * (`gwasgrid mlm --workers N`: the distributed path, embedded; see embedded.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import { createLogger } from '../shared/log.js';
import { selectBackend, type BackendPreference } from '../shared/linalg/select.js';
import { runMlm } from '../shared/methods/mlm.js';
import { GEMMA_QC, type QcOptions } from '../shared/genotype/qc.js';
import { UsageError } from '../shared/errors.js';
import {
  openGenotypes,
  loadSamples,
  qcPass,
  genotypeFlags,
  GENOTYPE_CHOICES,
} from '../shared/methods/inputs.js';
import type { MultiallelicMode, VcfField } from '../shared/genotype/vcf.js';
import { parseSize, estimateKinshipMemory, checkMemory } from '../shared/resources.js';
import { OUTPUT_FORMATS, parseFormats } from '../shared/results/writers/index.js';
import { writeKinship } from '../shared/kinship/io.js';
import type { LmmMode } from '../shared/lmm/scan.js';
import type { KinshipMode } from '../shared/kinship/kinship.js';
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../shared/log.js';
import type { LinalgBackend } from '../shared/linalg/backend.js';
import type { MlmConfig, TraitSelection } from '../shared/methods/mlm.js';
import { runEmbedded } from './embedded.js';
import { writePlots } from '../shared/results/plot/index.js';
import { CoordinatorStopped, reportStopped } from './run.js';

/** The genotype-source flags (every command that reads genotypes). */
export interface GenotypeArgs {
  bfile?: string;
  geno?: string;
  anno?: string;
  numeric?: string;
  map?: string;
  'numeric-ind'?: string;
  vcf?: string;
  'vcf-field'?: VcfField;
  'vcf-multiallelic'?: MultiallelicMode;
  hapmap?: string;
}

export interface CommonArgs extends GenotypeArgs {
  pheno?: string;
  'pheno-col'?: string | number;
  'pheno-name'?: string;
  covar?: string;
  maf: number;
  miss: number;
  mac?: number;
  hwe?: number;
  mind?: number;
  'max-memory'?: string;
  out: string;
  backend: BackendPreference;
  'log-format'?: 'text' | 'json';
}

/** Exactly one genotype source, and the format options only with their format. */
function checkGenotypeArgs(a: GenotypeArgs): void {
  const given = genotypeFlags({
    bfile: a.bfile,
    geno: a.geno,
    numeric: a.numeric,
    vcf: a.vcf,
    hapmap: a.hapmap,
  });
  if (given.length === 0) throw new UsageError(`no genotypes: give ${GENOTYPE_CHOICES}`);
  if (given.length > 1) throw new UsageError(`give one genotype source, not ${given.join(' and ')}`);
  if (a.numeric && !a.map) throw new UsageError('--numeric needs --map FILE');
  if ((a.map !== undefined || a['numeric-ind'] !== undefined) && !a.numeric)
    throw new UsageError('--map and --numeric-ind need --numeric');
  if ((a['vcf-field'] !== undefined || a['vcf-multiallelic'] !== undefined) && !a.vcf)
    throw new UsageError('--vcf-field and --vcf-multiallelic need --vcf');
  if (a.anno !== undefined && !a.geno)
    throw new UsageError('--anno needs --geno (it annotates BIMBAM files)');
}

/**
 * Genotype input flags: one of --bfile, --geno (+ --anno), --numeric (+ --map, --numeric-ind), --vcf (+ --vcf-field,
 * --vcf-multiallelic), --hapmap.
 */
export function genotypeOptions<T>(y: Argv<T>) {
  return y
    .option('bfile', {
      type: 'string',
      describe: 'PLINK fileset prefix (PREFIX.bed/.bim/.fam)',
      group: 'Input:',
    })
    .option('geno', {
      type: 'string',
      describe: 'BIMBAM mean-genotype file (plain or .gz); dosages of allele1',
      group: 'Input:',
    })
    .option('anno', {
      type: 'string',
      describe: 'BIMBAM annotation file (rs, bp, chr), with --geno',
      group: 'Input:',
    })
    .option('numeric', {
      type: 'string',
      describe:
        'numeric 0/1/2 genotype matrix: GAPIT layout (header "taxa SNP…", a row per individual) or rMVP layout (a row per SNP)',
      group: 'Input:',
    })
    .option('map', {
      type: 'string',
      describe: 'map for --numeric: SNP, chromosome, position [REF ALT] per genotype column',
      group: 'Input:',
    })
    .option('numeric-ind', {
      type: 'string',
      describe: 'individual names for an rMVP-layout --numeric file, one per line',
      group: 'Input:',
    })
    .option('vcf', {
      type: 'string',
      describe:
        'VCF or VCF.gz; dosage = ALT copies (allele1 = ALT, allele0 = REF); samples FID = IID = VCF name',
      group: 'Input:',
    })
    .option('vcf-field', {
      choices: ['GT', 'DS'] as const,
      describe: 'with --vcf: hard calls from GT (default), or dosages from DS',
      group: 'Input:',
    })
    .option('vcf-multiallelic', {
      choices: ['skip', 'split'] as const,
      describe:
        'with --vcf: skip records with several ALT alleles (default; counted in the log) or split them, one SNP per ALT',
      group: 'Input:',
    })
    .option('hapmap', {
      type: 'string',
      describe:
        'HapMap file (TASSEL/GAPIT: 11 leading columns, calls AA/AG/N or IUPAC); counts the minor allele',
      group: 'Input:',
    })
    .check((a) => {
      checkGenotypeArgs(a as unknown as GenotypeArgs);
      return true;
    });
}

/** Input, QC and run-time flags shared by every analysis command. */
export function inputOptions<T>(y: Argv<T>) {
  return genotypeOptions(y)
    .option('pheno', {
      type: 'string',
      describe:
        'phenotype file: GEMMA style (no header, genotype order, NA/-9 missing) or PLINK style (FID IID header)',
      group: 'Input:',
    })
    .option('pheno-col', {
      type: 'string',
      describe:
        'phenotype column(s), 1-based (GEMMA -n): in --pheno after FID IID, or .fam column 5+N without --pheno; default 1. ' +
        'Several (mlm only): 1,3,5 — one output per trait, sharing kinship and eigendecomposition',
      group: 'Input:',
    })
    .option('pheno-name', {
      type: 'string',
      describe: 'phenotype(s) by header name (PLINK-style --pheno file); several (mlm only): CD8,MCH',
      group: 'Input:',
    })
    .option('covar', {
      type: 'string',
      describe:
        'covariates: GEMMA style (no header, include the intercept column) or PLINK style (FID IID header; intercept added, ' +
        'a column constant over the analysed samples is dropped with a note); collinear columns are refused',
      group: 'Input:',
    })
    .option('maf', {
      type: 'number',
      default: GEMMA_QC.maf,
      describe: 'drop SNPs with allele-1 frequency < maf or > 1-maf among the analysed samples',
      group: 'QC:',
    })
    .option('miss', {
      type: 'number',
      default: GEMMA_QC.miss,
      describe: 'drop SNPs missing in more than this fraction of the analysed samples',
      group: 'QC:',
    })
    .option('mac', {
      type: 'number',
      describe:
        'drop SNPs whose minor allele count (analysed samples, non-missing calls) is below N (default off)',
      group: 'QC:',
    })
    .option('hwe', {
      type: 'number',
      describe:
        "drop SNPs with a Hardy-Weinberg exact-test p below P on the analysed samples' hard calls (plink2 --hwe; default off)",
      group: 'QC:',
    })
    .option('mind', {
      type: 'number',
      describe:
        'first remove samples missing more than this fraction of all SNPs (plink --mind; default off); removed samples are named in the log',
      group: 'QC:',
    })
    .option('max-memory', {
      type: 'string',
      describe:
        'refuse to start (exit 5) when the estimated peak memory exceeds SIZE, e.g. 4G, 500M (1G = 1024³ bytes)',
      group: 'Run:',
    })
    .option('out', {
      type: 'string',
      demandOption: true,
      describe: 'output prefix (directories are created)',
      group: 'Output:',
    })
    .option('backend', {
      choices: ['auto', 'native', 'wasm', 'ts'] as const,
      default: 'auto' as const,
      describe: 'numeric kernels: native (C++/LAPACK), wasm (SIMD), ts (plain TypeScript)',
      group: 'Run:',
    })
    .option('log-format', {
      choices: ['text', 'json'] as const,
      describe: 'log lines on stderr (default: text on a terminal, json otherwise)',
      group: 'Run:',
    })
    .check((a) => {
      const args = a as unknown as CommonArgs;
      if (args['pheno-col'] !== undefined && args['pheno-name'] !== undefined)
        throw new UsageError('give --pheno-col or --pheno-name, not both');
      parseTraits(args);
      if (!(args.maf >= 0 && args.maf < 0.5)) throw new UsageError('--maf must be in [0, 0.5)');
      if (!(args.miss >= 0 && args.miss <= 1)) throw new UsageError('--miss must be in [0, 1]');
      if (args.mac !== undefined && !(args.mac >= 0 && Number.isFinite(args.mac)))
        throw new UsageError('--mac must be a count ≥ 0');
      if (args.hwe !== undefined && !(args.hwe >= 0 && args.hwe < 1))
        throw new UsageError('--hwe must be a p-value threshold in [0, 1), e.g. 1e-6');
      if (args.mind !== undefined && !(args.mind >= 0 && args.mind <= 1))
        throw new UsageError('--mind must be a fraction in [0, 1], e.g. 0.1');
      if (args['max-memory'] !== undefined) parseSize(args['max-memory']);
      return true;
    });
}

/**
 * The trait selection of --pheno-col / --pheno-name: one trait (phenoCol/phenoName as before) or several
 * (`traits`, mlm only).
 */
export function parseTraits(a: CommonArgs): {
  phenoCol?: number;
  phenoName?: string;
  traits?: TraitSelection[];
} {
  if (a['pheno-col'] !== undefined) {
    const parts = String(a['pheno-col'])
      .split(',')
      .map((x) => x.trim());
    const cols = parts.map((x) => Number(x));
    if (parts.some((x) => x === '') || cols.some((k) => !Number.isInteger(k) || k < 1)) {
      throw new UsageError(
        `--pheno-col ${a['pheno-col']}: columns must be whole numbers ≥ 1, comma-separated (e.g. 1 or 1,3,5)`,
      );
    }
    if (new Set(cols).size !== cols.length)
      throw new UsageError(`--pheno-col ${a['pheno-col']} names a column twice`);
    return cols.length === 1 ? { phenoCol: cols[0] } : { traits: cols.map((k) => ({ phenoCol: k })) };
  }
  if (a['pheno-name'] !== undefined) {
    const names = a['pheno-name'].split(',').map((x) => x.trim());
    if (names.some((x) => x === '')) throw new UsageError(`--pheno-name ${a['pheno-name']}: empty name`);
    if (new Set(names).size !== names.length)
      throw new UsageError(`--pheno-name ${a['pheno-name']} names a trait twice`);
    return names.length === 1 ? { phenoName: names[0] } : { traits: names.map((n) => ({ phenoName: n })) };
  }
  return {};
}

/** The genotype part of an {@link InputSpec} from parsed flags. */
export function genotypeSpec(a: GenotypeArgs) {
  return {
    bfile: a.bfile,
    geno: a.geno,
    anno: a.anno,
    numeric: a.numeric,
    map: a.map,
    numericInd: a['numeric-ind'],
    vcf: a.vcf,
    vcfField: a['vcf-field'],
    vcfMultiallelic: a['vcf-multiallelic'],
    hapmap: a.hapmap,
  };
}

export function inputSpec(a: CommonArgs) {
  const t = parseTraits(a);
  return {
    ...genotypeSpec(a),
    pheno: a.pheno,
    phenoCol: t.phenoCol,
    phenoName: t.phenoName,
    covar: a.covar,
  };
}

/** The QC options of parsed flags (GEMMA's defaults, plus --mac/--hwe when given). */
export function qcOptions(a: CommonArgs): QcOptions {
  return {
    ...GEMMA_QC,
    maf: a.maf,
    miss: a.miss,
    ...(a.mac ? { mac: a.mac } : {}),
    ...(a.hwe ? { hwe: a.hwe } : {}),
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
  format?: string[];
}

/** The model flags of `gwasgrid mlm` (also taken by `gwasgrid coordinator`). */
export function mlmOptions<T>(y: Argv<T>) {
  return inputOptions(y)
    .option('kinship', {
      type: 'string',
      describe: 'kinship matrix file (GEMMA .cXX.txt/.sXX.txt, plain or .gz); computed when omitted',
      group: 'Model:',
    })
    .option('gk', {
      choices: [1, 2],
      default: 1,
      describe: 'kinship when computed: 1 centred, 2 standardised',
      group: 'Model:',
    })
    .option('lmm', {
      choices: [1, 2, 3, 4],
      default: 4,
      describe: 'tests: 1 Wald, 2 LRT, 3 score, 4 all three',
      group: 'Model:',
    })
    .option('format', {
      type: 'string',
      array: true,
      describe:
        `result format(s), comma-separated or repeated: ${OUTPUT_FORMATS.join(', ')}. gemma → PREFIX.assoc.txt (default), ` +
        'plink2 → PREFIX.glm.linear, gapit → PREFIX.GWAS_Results.csv, rmvp → PREFIX.MLM.csv; p = Wald (LRT for --lmm 2, score for --lmm 3)',
      group: 'Output:',
    })
    .check((a) => {
      parseFormats((a as unknown as MlmArgs).format);
      return true;
    });
}

/** The typed MLM configuration of parsed mlm flags. */
export function mlmConfig(a: MlmArgs, log: Logger, backend: LinalgBackend): MlmConfig {
  const traits = parseTraits(a).traits;
  return {
    ...inputSpec(a),
    ...(traits ? { traits } : {}),
    kinship: a.kinship,
    gk: a.gk as KinshipMode,
    lmm: a.lmm as LmmMode,
    qc: qcOptions(a),
    mind: a.mind,
    formats: parseFormats(a.format),
    maxMemory: a['max-memory'] !== undefined ? parseSize(a['max-memory']) : undefined,
    out: a.out,
    backend,
    log,
    commandLine: ['gwasgrid', ...process.argv.slice(2)].join(' '),
  };
}

/**
 * What the distributed path (--workers, gwasgrid coordinator) does not do: refused at the command line. Every
 * analysis flag of `gwasgrid mlm` is taken today — --mind (sample QC on the coordinator, the kinship phase over
 * the kept samples), --format (written by the coordinator from the workers' full-precision rows), several traits
 * (one kinship phase per distinct SNP set, one scan job per trait) — so nothing is refused; new flags that the
 * distributed path cannot honour belong here, with the reason and the way around.
 */
export function distributedSupported(_a: MlmArgs, _how: string): void {
  // Nothing is refused at present.
}

/** `--plot` of `gwasgrid mlm` (also `gwasgrid coordinator --method mlm`). */
export function plotOption<T>(y: Argv<T>) {
  return y.option('plot', {
    type: 'boolean',
    describe:
      'also write PREFIX.manhattan.svg/.png and PREFIX.qq.svg/.png (p_wald, else the first p column; see gwasgrid plot); ' +
      'with several traits one pair per trait, PREFIX.<trait>.*; none without the gemma format',
    group: 'Output:',
  });
}

/**
 * `--workers N` and `--shard-size S` (the embedded distributed run of mlm and cmlm), checked: whole numbers ≥ 1,
 * `--shard-size` only with `--workers`, and `supported(args)` (the method's own refusals) when `--workers` is set.
 */
export function embeddedRunOptions<T>(y: Argv<T>, workersDescribe: string, supported: (args: Record<string, unknown>) => void) {
  return y
    .option('workers', { type: 'number', describe: workersDescribe, group: 'Run:' })
    .option('shard-size', {
      type: 'number',
      describe: 'with --workers: SNPs per shard (default: ≤ 2000, ≥ 4 shards per worker)',
      group: 'Run:',
    })
    .check((a) => {
      const w = a.workers;
      const size = a['shard-size'];
      if (w !== undefined && !(Number.isInteger(w) && w >= 1)) throw new UsageError('--workers must be a whole number ≥ 1');
      if (size !== undefined && w === undefined) throw new UsageError('--shard-size needs --workers');
      if (size !== undefined && !(Number.isInteger(size) && size >= 1))
        throw new UsageError('--shard-size must be a whole number ≥ 1');
      if (w !== undefined) supported(a as Record<string, unknown>);
      return true;
    });
}

interface MlmCommandArgs extends MlmArgs {
  plot?: boolean;
  workers?: number;
  'shard-size'?: number;
}

export const mlmCommand: CommandModule<object, MlmCommandArgs> = {
  command: 'mlm',
  describe: 'Mixed-model association scan with GEMMA -lmm semantics (Wald, LRT, score)',
  builder: (y) =>
    embeddedRunOptions(
      plotOption(mlmOptions(y)),
      'run distributed in one go: a coordinator and N worker processes on this machine (every flag above; the same files, same bytes)',
      (args) => distributedSupported(args as unknown as MlmCommandArgs, '--workers'),
    )
      .example(
        '$0 mlm --bfile data/mouse --pheno-col 1 --out out/cd8',
        'kinship computed, all three tests → out/cd8.assoc.txt, out/cd8.log.txt',
      )
      .example(
        '$0 mlm --bfile data/mouse --pheno-col 1 --plot --out out/cd8',
        'and Manhattan + QQ plots (SVG, PNG)',
      )
      .example(
        '$0 mlm --bfile data/mouse --kinship out/mouse.cXX.txt --covar sex.txt --lmm 1 --out out/cd8',
        'reuse a kinship; Wald only',
      )
      .example(
        '$0 mlm --bfile data/mouse --pheno p.txt --pheno-name CD8,MCH --out out/m',
        'two traits, one kinship: out/m.CD8.assoc.txt, out/m.MCH.assoc.txt',
      )
      .example(
        '$0 mlm --bfile data/mouse --pheno-col 1,6 --format gemma,plink2,gapit,rmvp --out out/m',
        'fam traits 1 and 6 (files out/m.col1.*, out/m.col6.*), in four formats',
      )
      .example(
        '$0 mlm --bfile data/mouse --mind 0.1 --maf 0.05 --mac 20 --hwe 1e-6 --out out/cd8',
        'sample and SNP QC (every filter counted in the log)',
      )
      .example(
        '$0 mlm --bfile data/big --max-memory 16G --out out/big',
        'print the memory estimate; refuse (exit 5) if it exceeds 16 GiB',
      )
      .example('$0 mlm --geno g.txt.gz --anno a.txt --pheno p.txt --out out/x', 'BIMBAM dosages')
      .example(
        '$0 mlm --vcf g.vcf.gz --vcf-field DS --pheno p.txt --out out/x',
        'VCF dosages (DS); GT hard calls by default',
      )
      .example(
        '$0 mlm --hapmap maize.hmp.txt --pheno traits.txt --pheno-col 2 --out out/x',
        'HapMap (TASSEL/GAPIT) genotypes',
      )
      .example(
        '$0 mlm --bfile data/mouse --pheno-col 1 --workers 4 --out out/cd8',
        'distributed over 4 local worker processes (same bytes)',
      )
      .example(
        '$0 mlm --bfile data/maize --pheno p.txt --pheno-col 1,3 --mind 0.03 --format gemma,rmvp --workers 2 --out out/m',
        'every flag works distributed: the files and bytes of the run without --workers',
      )
      .epilog(
        'Outputs: PREFIX.assoc.txt (GEMMA columns) and PREFIX.log.txt; with several traits PREFIX.<trait>.assoc.txt and PREFIX.<trait>.log.txt, ' +
          '<trait> being the header name of the phenotype, or col<N> for --pheno-col N without a header. Every file is written under a temporary ' +
          'name and renamed when complete. Exit codes: 0 ok, 2 usage, 3 input data, 4 numeric, 5 memory limit, 1 internal.',
      ) as unknown as Argv<MlmCommandArgs>,
  handler: async (a) => {
    const { log, backend } = await setup(a);
    const cfg = mlmConfig(a, log, backend);
    if (a.workers !== undefined) {
      try {
        const summary = await runEmbedded(cfg, {
          workers: a.workers,
          shardSize: a['shard-size'],
          backendPreference: a.backend,
          logFormat: a['log-format'],
        });
        // As below: one pair of plots per trait, next to its .assoc.txt (none without the gemma format).
        if (a.plot) await plotTraits(summary.traits, log);
      } catch (e) {
        if (!(e instanceof CoordinatorStopped)) throw e;
        reportStopped(e, a.out, log);
        process.exit(e.exitCode);
      }
    } else {
      const res = await runMlm(cfg);
      if (a.plot) await plotTraits(res.traits ?? [res], log);
    }
  },
};

/** One pair of plots per trait, next to its .assoc.txt (PREFIX or PREFIX.<trait>); none without the gemma format. */
export async function plotTraits(traits: Array<{ assocPath: string }>, log: Logger): Promise<void> {
  for (const r of traits) {
    if (r.assocPath) await writePlots(r.assocPath, r.assocPath.replace(/\.assoc\.txt$/, ''), { log });
  }
}

interface KinshipArgs extends CommonArgs {
  gk: number;
}

export const kinshipCommand: CommandModule<object, KinshipArgs> = {
  command: 'kinship',
  describe: 'Relatedness matrix as GEMMA -gk 1|2, written as PREFIX.cXX.txt or PREFIX.sXX.txt',
  builder: (y) =>
    inputOptions(y)
      .option('gk', {
        choices: [1, 2],
        default: 1,
        describe: '1 centred (.cXX.txt), 2 standardised (.sXX.txt)',
        group: 'Model:',
      })
      .check((a) => {
        const args = a as unknown as KinshipArgs;
        if (args.mind !== undefined) {
          throw new UsageError(
            '--mind is not available for gwasgrid kinship: the .cXX.txt file is positional over every genotype sample',
            'remove the samples from the fileset (plink2 --mind F --make-bed), or use --mind with gwasgrid mlm',
          );
        }
        if (parseTraits(args).traits)
          throw new UsageError(
            'gwasgrid kinship takes one phenotype (it selects the samples whose SNP QC chooses the SNPs)',
          );
        return true;
      })
      .example(
        '$0 kinship --bfile data/mouse --gk 1 --out out/mouse',
        'writes out/mouse.cXX.txt (SNPs: QC on the samples with phenotype 1, as gemma -gk)',
      )
      .example(
        '$0 kinship --bfile data/mouse --gk 2 --maf 0.05 --hwe 1e-6 --out out/mouse',
        'standardised, from SNPs with MAF ≥ 0.05 and HWE p ≥ 1e-6',
      )
      .example('$0 kinship --geno g.txt.gz --anno a.txt --pheno p.txt --out out/x', 'from BIMBAM dosages')
      .epilog(
        'Reuse the file with gwasgrid mlm --kinship PREFIX.cXX.txt (or with gemma -k).',
      ) as unknown as Argv<KinshipArgs>,
  handler: async (a) => {
    const { log, backend } = await setup(a);
    const spec = inputSpec(a);
    await fsp.mkdir(dirname(a.out) || '.', { recursive: true });
    const geno = await openGenotypes({ ...spec, log });
    try {
      const samples = await loadSamples(geno, spec, log);
      checkMemory(
        estimateKinshipMemory(geno.nSamples, geno.snps.length),
        a['max-memory'] !== undefined ? parseSize(a['max-memory']) : undefined,
        log,
        `the kinship of ${geno.nSamples} samples`,
      );
      const t = performance.now();
      const pass = await qcPass(geno, samples, {
        qc: qcOptions(a),
        kinship: a.gk as KinshipMode,
        backend,
        log,
      });
      log.info(`kinship from ${pass.kinshipSnps} SNPs in ${((performance.now() - t) / 1000).toFixed(2)} s`);
      const path = `${a.out}.${a.gk === 1 ? 'cXX' : 'sXX'}.txt`;
      await writeKinship(path, pass.K!, geno.nSamples);
      log.info(`wrote ${path}`);
    } finally {
      await geno.close();
    }
  },
};
