/**
 * `gwasgrid convert --<genotype input> --out PREFIX`: any genotype format we read → PLINK 1 bed/bim/fam
 * (shared/genotype/plink-write.ts), written atomically. No QC and no sample selection: every SNP and every
 * sample, in file order.
 */
import type { Argv, CommandModule } from 'yargs';
import { promises as fsp } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createLogger } from '../shared/log.js';
import { UsageError } from '../shared/errors.js';
import { openGenotypes } from '../shared/methods/inputs.js';
import { DEFAULT_HARD_CALL_THRESHOLD, readSampleIdList, writePlink } from '../shared/genotype/plink-write.js';
import { genotypeOptions, genotypeSpec, type GenotypeArgs } from './commands.js';

interface ConvertArgs extends GenotypeArgs {
  out: string;
  'hard-call-threshold': number;
  'sample-ids'?: string;
  'log-format'?: 'text' | 'json';
}

export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert',
  describe: 'Convert genotypes (VCF, HapMap, BIMBAM, PLINK) to a PLINK 1 fileset PREFIX.bed/.bim/.fam',
  builder: (y) =>
    genotypeOptions(y)
      .option('out', {
        type: 'string',
        demandOption: true,
        describe: 'output prefix: writes PREFIX.bed, PREFIX.bim, PREFIX.fam',
        group: 'Output:',
      })
      .option('hard-call-threshold', {
        type: 'number',
        default: DEFAULT_HARD_CALL_THRESHOLD,
        describe:
          'dosages (BIMBAM, VCF DS) within this distance of 0, 1 or 2 become that call, others missing (plink2 semantics); 0.5 rounds every dosage (x.5 up)',
        group: 'Output:',
      })
      .option('sample-ids', {
        type: 'string',
        describe:
          'with --geno: sample IDs for the .fam, one line per genotype column (IID, or FID IID; a .fam works). Default FID = IID = 1..n',
        group: 'Input:',
      })
      .option('log-format', {
        choices: ['text', 'json'] as const,
        describe: 'log lines on stderr (default: text on a terminal, json otherwise)',
        group: 'Run:',
      })
      .check((a) => {
        const args = a as unknown as ConvertArgs;
        const t = args['hard-call-threshold'];
        if (!(t >= 0 && t <= 0.5)) throw new UsageError('--hard-call-threshold must be in [0, 0.5]');
        if (args['sample-ids'] !== undefined && !args.geno)
          throw new UsageError('--sample-ids is only for --geno (the other formats carry sample IDs)');
        if (args.bfile && resolve(args.bfile) === resolve(args.out))
          throw new UsageError('--out must differ from --bfile (the input would be overwritten)');
        return true;
      })
      .example(
        '$0 convert --vcf cohort.vcf.gz --out data/cohort',
        'GT hard calls; ALT is A1 (the counted allele)',
      )
      .example(
        '$0 convert --vcf imputed.vcf.gz --vcf-field DS --hard-call-threshold 0.1 --out data/imputed',
        'dosages within 0.1 of a call kept, others missing',
      )
      .example('$0 convert --hapmap mdp_genotype_test.hmp.txt --out data/maize', 'HapMap; A1 = minor allele')
      .example(
        '$0 convert --geno mouse.geno.txt.gz --anno mouse.anno.txt --sample-ids mouse.fam --out data/mouse',
        'BIMBAM, IDs from a .fam',
      ) as unknown as Argv<ConvertArgs>,
  handler: async (a) => {
    const log = createLogger({ json: a['log-format'] ? a['log-format'] === 'json' : undefined });
    await fsp.mkdir(dirname(a.out) || '.', { recursive: true });
    const t0 = performance.now();
    const geno = await openGenotypes({ ...genotypeSpec(a), log });
    try {
      log.info(
        `read ${geno.label} (${geno.format}): ${geno.nSamples} samples × ${geno.snps.length} SNPs in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
      );
      let sampleIds;
      if (a['sample-ids']) sampleIds = await readSampleIdList(a['sample-ids'], geno.nSamples);
      else if (!geno.sampleIds)
        log.warn(
          'BIMBAM has no sample IDs: the .fam gets FID = IID = 1..n in column order (--sample-ids FILE names them)',
        );
      const r = await writePlink(a.out, geno, {
        hardCallThreshold: a['hard-call-threshold'],
        sampleIds,
        onProgress: (done, total) => log.progress('convert', done, total),
      });
      if (r.hardCalled > 0 || r.setMissing > 0) {
        log.info(
          `${r.hardCalled} non-integer dosages hard-called, ${r.setMissing} farther than ${a['hard-call-threshold']} from a call set missing`,
        );
      }
      log.info(
        `wrote ${a.out}.bed/.bim/.fam: ${r.samples} samples × ${r.snps} SNPs, ${r.missing} missing calls, in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
      );
    } finally {
      await geno.close();
    }
  },
};
