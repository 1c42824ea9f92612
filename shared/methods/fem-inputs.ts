/**
 * Inputs of the fixed-effect methods (GLM, FarmCPU) in one place: the SNP list (optionally an ordered subset,
 * `--snps FILE`), the analysed samples (phenotype and covariates joined as for MLM), the imputed genotype cache,
 * the covariate matrix [PCs, user covariates] without the intercept, and optional SNP filters.
 *
 * rMVP conventions reproduced: every SNP of the map is analysed unless filtered (no MAF filter by default),
 * covariate columns with a single distinct value are dropped (the intercept is added by the model), PCs come
 * first (`cbind(PCs, CV)`), PCs are computed from the analysed samples' imputed genotypes.
 */
import type { GenotypeSource } from '../genotype/types.js';
import { SnpSubsetSource, readSnpList } from '../genotype/subset.js';
import { AnalysedGenotypes, type ImputeMethod } from '../fem/genotypes.js';
import { genotypePcs } from '../fem/pcs.js';
import type { AlignedSamples } from '../samples/align.js';
import type { LinalgBackend } from '../linalg/backend.js';
import type { Logger } from '../log.js';
import { InputError } from '../errors.js';
import { loadSamples, openGenotypes, type InputSpec } from './inputs.js';

export interface FemInputSpec extends InputSpec {
  /** Analyse only these SNPs, in this order (one name per line). */
  snpsFile?: string;
  impute: ImputeMethod;
  /** Principal components added as covariates. */
  npc: number;
  /** Drop SNPs with minor-allele frequency below this (0: keep all, rMVP). */
  maf: number;
  /** Drop SNPs missing in more than this fraction of analysed samples (1: keep all). */
  miss: number;
  /** Leave out SNPs without a base-pair position (FarmCPU needs positions). */
  requirePositions: boolean;
}

export interface FemInputs {
  /** The genotype file as opened. */
  raw: GenotypeSource;
  /** The analysis SNP list: `raw`, or a view of the kept SNPs in order. */
  geno: GenotypeSource;
  /** Source index of each analysis SNP. */
  sourceIndex: Int32Array;
  samples: AlignedSamples;
  n: number;
  y: Float64Array;
  /** Covariates without the intercept (row-major n × cvCols): PCs, then non-constant user covariates. */
  cv: Float64Array;
  cvCols: number;
  cvNames: string[];
  genotypes: AnalysedGenotypes;
  /** Log lines describing what was kept. */
  summary: string[];
}

export async function prepareFemInputs(spec: FemInputSpec, backend: LinalgBackend, log: Logger): Promise<FemInputs> {
  const raw = await openGenotypes(spec);
  try {
    log.info(`genotypes: ${raw.label} (${raw.format}), ${raw.nSamples} samples × ${raw.snps.length} SNPs`);
    const samples = await loadSamples(raw, spec, log);
    const summary: string[] = [];
    let index: Int32Array = spec.snpsFile ? await readSnpList(spec.snpsFile, raw.snps) : Int32Array.from(raw.snps.keys());
    if (spec.snpsFile) summary.push(`SNP list ${spec.snpsFile}: ${index.length} SNPs, analysed in the list's order`);
    if (spec.requirePositions) {
      const kept = index.filter((i) => raw.snps[i].pos >= 0);
      if (kept.length < index.length) summary.push(`${index.length - kept.length} SNPs without a position left out (FarmCPU bins need positions)`);
      index = kept;
    }
    if (index.length === 0) throw new InputError('NO_DATA', 'no SNP left to analyse', { file: raw.label });
    const identity = index.length === raw.snps.length && index.every((v, i) => v === i);
    let geno: GenotypeSource = identity ? raw : new SnpSubsetSource(raw, index);
    const n = samples.analysed.length;
    let G = await AnalysedGenotypes.load(geno, samples.analysed, spec.impute, 0, geno.snps.length, {
      onProgress: (d) => log.progress('reading genotypes', d, geno.snps.length),
    });
    if (spec.maf > 0 || spec.miss < 1) {
      const keep: number[] = [];
      let dropMaf = 0;
      let dropMiss = 0;
      for (let s = 0; s < G.count; s++) {
        if (G.nMiss[s] / n > spec.miss) dropMiss++;
        else if (!(Math.min(G.af[s], 1 - G.af[s]) >= spec.maf)) dropMaf++;
        else keep.push(s);
      }
      if (keep.length < G.count) {
        summary.push(`SNP filters on ${n} analysed samples: ${dropMiss} removed for missingness > ${spec.miss}, ${dropMaf} for MAF < ${spec.maf}`);
        if (keep.length === 0) throw new InputError('NO_DATA', 'no SNP passed the filters', { file: raw.label }, 'lower --maf or raise --miss');
        const rel = Int32Array.from(keep);
        G = G.select(rel);
        index = Int32Array.from(keep, (s) => index[s]);
        geno = new SnpSubsetSource(raw, index);
      }
    }
    // Covariates: drop the intercept and any other constant column; PCs first.
    const cols: Float64Array[] = [];
    const names: string[] = [];
    if (spec.npc > 0) {
      if (spec.npc >= n) throw new InputError('INPUT_MISMATCH', `--npc ${spec.npc} needs more than ${spec.npc} analysed samples`, {});
      const pcs = await genotypePcs(G, spec.npc, backend);
      for (let j = 0; j < spec.npc; j++) {
        cols.push(Float64Array.from({ length: n }, (_, i) => pcs[i * spec.npc + j]));
        names.push(`PC${j + 1}`);
      }
      summary.push(`${spec.npc} principal component(s) of the ${n} analysed samples' genotypes added as covariates`);
    }
    const c = samples.c;
    const dropped: string[] = [];
    for (let j = 0; j < c; j++) {
      const col = Float64Array.from({ length: n }, (_, i) => samples.W[i * c + j]);
      if (col.every((v) => v === col[0])) {
        if (samples.covNames[j] !== 'intercept') dropped.push(samples.covNames[j]);
        continue;
      }
      cols.push(col);
      names.push(samples.covNames[j]);
    }
    if (dropped.length) summary.push(`constant covariate column(s) dropped (the model has an intercept): ${dropped.join(', ')}`);
    const cvCols = cols.length;
    const cv = new Float64Array(n * cvCols);
    cols.forEach((col, j) => col.forEach((v, i) => (cv[i * cvCols + j] = v)));
    for (const line of summary) log.info(line);
    return { raw, geno, sourceIndex: index, samples, n, y: samples.y, cv, cvCols, cvNames: names, genotypes: G, summary };
  } catch (e) {
    await raw.close();
    throw e;
  }
}
