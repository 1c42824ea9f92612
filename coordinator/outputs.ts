/**
 * The result files of one trait of a distributed MLM, from its verified shards, in genome order — what
 * `gwasgrid mlm` writes in `scanAndWrite` (shared/methods/mlm.ts), with the same writers:
 * - `BASE.assoc.txt` (--format gemma): the GEMMA lines of the shards, without the row values the workers attach
 *   (job spec `rowValues`, shared/results/row-values.ts);
 * - `BASE.glm.linear`, `BASE.GWAS_Results.csv`, `BASE.MLM.csv` (plink2, gapit, rmvp): the generic result rows,
 *   rebuilt from the coordinator's SNP metadata and QC (allele frequency, missing calls: the doubles the
 *   single-process run uses) and the workers' full-precision effect, standard error and log10 p;
 * - λGC from those exact p-values (the same LambdaGc as the single-process run).
 * Every file is written under a temporary name and renamed when complete; when a shard is missing or damaged, or
 * a line does not belong to its SNP, every temporary file is removed and nothing that looks complete is left.
 */
import type { GenotypeSource } from '../shared/genotype/types.js';
import type { SnpQc } from '../shared/genotype/qc.js';
import type { AlignedSamples } from '../shared/samples/align.js';
import type { LmmMode } from '../shared/lmm/scan.js';
import { AtomicWriter } from '../shared/io/atomic.js';
import { assocHeader } from '../shared/results/assoc.js';
import { LambdaGc, rowOfValues } from '../shared/results/rows.js';
import { splitRowValues } from '../shared/results/row-values.js';
import { openWriters, outputPath, type OutputFormat } from '../shared/results/writers/index.js';
import type { ResultWriter } from '../shared/results/writers/types.js';
import { InputError } from '../shared/errors.js';
import type { ShardSpec } from './scheduler.js';
import type { ShardStore } from './shard-store.js';

export interface TraitOutputs {
  /** The GEMMA .assoc.txt ('' when the gemma format was not requested). */
  assocPath: string;
  /** Every result file written, in the order of --format. */
  outputs: string[];
  lambda: { value: number; count: number };
}

/**
 * Writes every requested format of one trait from `store`'s shards (checksums verified again), in shard order.
 * Line j of a shard is the result of the j-th QC-passing SNP of its range.
 */
export async function writeTraitOutputs(o: {
  store: ShardStore;
  shards: readonly ShardSpec[];
  base: string;
  formats: readonly OutputFormat[];
  lmm: LmmMode;
  geno: GenotypeSource;
  samples: Pick<AlignedSamples, 'analysed' | 'traitKey'>;
  qc: Pick<SnpQc, 'mask' | 'nMiss' | 'af'>;
}): Promise<TraitOutputs> {
  const { store, geno, qc } = o;
  const assocPath = o.formats.includes('gemma') ? outputPath(o.base, 'gemma', 'MLM') : '';
  const gemma = assocPath ? new AtomicWriter(assocPath) : null;
  const writers: ResultWriter[] = openWriters(o.base, [...o.formats], { trait: o.samples.traitKey, method: 'MLM' });
  const lambda = new LambdaGc();
  const nObs = o.samples.analysed.length;
  try {
    await gemma?.write(assocHeader(o.lmm));
    for (const s of o.shards) {
      const data = await store.read(s);
      if (!data) {
        throw new InputError(
          'INPUT_FORMAT',
          `merge refused: ${s.name} is missing or does not match its checksum`,
          { file: store.tsvPath(s) },
          'run the coordinator again with the same --out to recompute it',
        );
      }
      const text = data.toString('utf8');
      let pos = 0;
      let line = 0;
      const damaged = (why: string) =>
        new InputError(
          'INPUT_FORMAT',
          `merge refused: ${s.name} line ${line}: ${why}`,
          { file: store.tsvPath(s), line },
          `delete ${store.tsvPath(s)} and run the coordinator again with the same --out to recompute it`,
        );
      for (let snp = s.start; snp < s.end; snp++) {
        if (!qc.mask[snp]) continue;
        line++;
        const nl = text.indexOf('\n', pos);
        if (nl < 0) throw damaged(`${s.expected} lines expected, the shard ends early`);
        const parts = splitRowValues(text.slice(pos, nl + 1));
        pos = nl + 1;
        if (!parts) throw damaged('no row values (a shard of another job or version)');
        const meta = geno.snps[snp];
        const tab = parts.line.indexOf('\t');
        if (parts.line.slice(tab + 1, parts.line.indexOf('\t', tab + 1)) !== meta.rs) {
          throw damaged(`the line is not the result of SNP ${meta.rs} (index ${snp})`);
        }
        await gemma?.write(parts.line);
        lambda.add(parts.values.log10p);
        if (writers.length) {
          const row = rowOfValues(meta, qc.nMiss[snp], qc.af[snp], nObs, parts.values);
          for (const w of writers) await w.write(row);
        }
      }
      if (pos !== text.length) throw damaged(`more lines than the ${s.expected} SNPs of the range that pass QC`);
    }
    await gemma?.commit();
    for (const w of writers) await w.commit();
  } catch (e) {
    await gemma?.abort();
    await Promise.allSettled(writers.map((w) => w.abort()));
    throw e;
  }
  return {
    assocPath,
    outputs: [...(assocPath ? [assocPath] : []), ...writers.map((w) => w.path)],
    lambda: { value: lambda.value(), count: lambda.count },
  };
}
