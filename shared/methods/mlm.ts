/**
 * MLM, GEMMA-exact, in one process: genotypes → (sample QC) → samples → SNP QC (+ kinship) → eigen → null
 * model → rotated scan → result files (`.assoc.txt` and/or other formats) + `.log.txt`. Each stage is one call
 * so the coordinator/worker path reuses the same functions.
 *
 * Several traits in one run (`traits`): each trait has its own analysed samples (its own missingness) and so
 * its own SNP QC; traits with the same analysed samples share the eigendecomposition, traits whose SNP QC
 * passes the same SNPs share the computed kinship. Every trait's output is byte for byte what a single-trait
 * run of that trait writes.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { GenotypeSource } from '../genotype/types.js';
import type { SnpQc, QcOptions } from '../genotype/qc.js';
import type { SampleQcResult } from '../genotype/sample-qc.js';
import type { AlignedSamples } from '../samples/align.js';
import { readKinship } from '../kinship/io.js';
import { subMatrix, type KinshipMode } from '../kinship/kinship.js';
import type { LinalgBackend } from '../linalg/backend.js';
import type { Logger } from '../log.js';
import { centredEigen, fitNullModel, rotateColumns, type EigenInput, type NullModel } from '../lmm/null.js';
import type { LmmMode, LmmRow } from '../lmm/scan.js';
import { ScanPool, ROW_FIELDS, arrayToRow } from '../lmm/scan-pool.js';
import { availableParallelism } from 'node:os';
import { AtomicWriter, writeFileAtomic } from '../io/atomic.js';
import { assocHeader, assocLine } from '../results/assoc.js';
import { LambdaGc, mlmResultRow } from '../results/rows.js';
import { openWriters, outputPath, traitFileKey, type OutputFormat } from '../results/writers/index.js';
import type { ResultWriter } from '../results/writers/types.js';
import { estimateMemory, checkMemory } from '../resources.js';
import { InputError, UsageError } from '../errors.js';
import { openGenotypes, loadSamples, qcPass, qcPassMulti, sampleQcPass, keptSamples, type InputSpec } from './inputs.js';

/** One trait of a multi-trait run. */
export interface TraitSelection {
  phenoCol?: number;
  phenoName?: string;
}

export interface MlmConfig extends InputSpec {
  kinship?: string;
  gk: KinshipMode;
  lmm: LmmMode;
  qc: QcOptions;
  /** Sample QC: remove samples missing more than this fraction of the SNPs (off when undefined). */
  mind?: number;
  out: string;
  backend: LinalgBackend;
  log: Logger;
  /** Several traits (≥ 2) sharing one run; when absent, the single trait of phenoCol/phenoName. */
  traits?: TraitSelection[];
  /** Output formats (default: gemma only). */
  formats?: OutputFormat[];
  /** Refuse (exit 5) when the estimated peak memory exceeds this many bytes. */
  maxMemory?: number;
  /** SNPs per rotation block. */
  blockSize?: number;
  /** Threads for the per-SNP tests (default: all cores). */
  threads?: number;
  /** The command line, for the log file. */
  commandLine?: string;
}

export interface MlmResult {
  model: NullModel;
  samples: AlignedSamples;
  qc: SnpQc;
  /** The GEMMA .assoc.txt ('' when the gemma format was not requested). */
  assocPath: string;
  /** Every result file written for this trait. */
  outputs: string[];
  logPath: string;
  /** Genomic inflation of the primary test. */
  lambdaGc: number;
  timings: Record<string, number>;
  /** Multi-trait runs: every trait's result (this object is the first). */
  traits?: MlmResult[];
}

/** Positions of the analysed samples inside the kinship's sample list (`kinSamples` null = all samples). */
export function kinshipPositions(analysed: Int32Array, kinSamples: Int32Array | null | undefined): Int32Array {
  if (!kinSamples) return analysed;
  const pos = new Map<number, number>();
  kinSamples.forEach((g, i) => pos.set(g, i));
  return Int32Array.from(analysed, (g) => pos.get(g)!);
}

/** Eigendecomposition of the double-centred kinship of the analysed samples. */
export async function analysedEigen(
  K: Float64Array,
  kinN: number,
  positions: Int32Array,
  backend: LinalgBackend,
  log: Logger,
  timings: Record<string, number>,
): Promise<EigenInput> {
  const na = positions.length;
  const Ka = subMatrix(K, kinN, positions);
  const t = performance.now();
  log.info(`eigendecomposition of the centred ${na} × ${na} kinship (${backend.name})`);
  const done = log.stage?.(`eigendecomposition ${na} × ${na}`);
  const eig = await centredEigen(Ka, na, backend);
  done?.();
  timings.eigen = (timings.eigen ?? 0) + (performance.now() - t) / 1000;
  return eig;
}

/** Rotates W and y of one trait and fits its null model (REML and ML λ, variance components). */
export async function fitTrait(
  eig: EigenInput,
  samples: AlignedSamples,
  backend: LinalgBackend,
  log: Logger,
  timings: Record<string, number>,
): Promise<NullModel> {
  const na = samples.analysed.length;
  const t = performance.now();
  const UtW = await rotateColumns(samples.W, na, samples.c, eig.U, backend);
  const [Uty] = await rotateColumns(samples.y, na, 1, eig.U, backend);
  const model = fitNullModel(eig, UtW, Uty);
  timings.nullModel = (timings.nullModel ?? 0) + (performance.now() - t) / 1000;
  log.info(
    `null model${samples.traitName ? ` (${samples.traitName})` : ''}: REML λ = ${model.lRemle.toPrecision(7)} (logL ${model.loglRemle.toFixed(4)}), ML λ = ${model.lMle.toPrecision(7)} ` +
      `(logL ${model.loglMle.toFixed(4)}); vg = ${model.vg.toPrecision(6)}, ve = ${model.ve.toPrecision(6)}, ` +
      `pve = ${model.pve.toPrecision(6)} (se ${model.pveSe.toPrecision(6)})`,
  );
  return model;
}

/**
 * Builds the null model from a kinship over `kinSamples` (all genotype samples when null; the samples kept by
 * --mind otherwise): eigendecomposition of the analysed samples' double-centred submatrix, then the fit.
 */
export async function nullModelFromKinship(
  K: Float64Array,
  kinN: number,
  samples: AlignedSamples,
  backend: LinalgBackend,
  log: Logger,
  timings: Record<string, number>,
  kinSamples?: Int32Array | null,
): Promise<NullModel> {
  const eig = await analysedEigen(K, kinN, kinshipPositions(samples.analysed, kinSamples), backend, log, timings);
  return fitTrait(eig, samples, backend, log, timings);
}

/**
 * Scans SNPs [start, end) that passed QC and hands each output line, in file order, to `emit`.
 * Genotypes: analysed samples only, missing values filled with the SNP's mean over the analysed samples
 * (GEMMA), rotated in blocks with the backend's GEMM; the per-SNP tests run on `threads` worker threads while
 * the next block is read and rotated.
 */
export async function scanRange(
  geno: GenotypeSource,
  samples: Pick<AlignedSamples, 'analysed'>,
  qc: Pick<SnpQc, 'mask' | 'nMiss' | 'af'>,
  model: NullModel,
  mode: LmmMode,
  backend: LinalgBackend,
  opts: {
    start?: number;
    end?: number;
    blockSize?: number;
    threads?: number;
    onProgress?: (done: number) => void;
    /** A pool made for this model and mode, reused across calls (a worker's shards); left open. */
    pool?: ScanPool;
  },
  emit: (snpIndex: number, line: string, row: LmmRow) => void | Promise<void>,
): Promise<{ tested: number; rotateSeconds: number; testSeconds: number }> {
  const n = samples.analysed.length;
  const bs = opts.blockSize ?? 128;
  const pool = opts.pool ?? (await ScanPool.create(model, mode, opts.threads ?? defaultThreads()));
  let tested = 0;
  let rotateSeconds = 0;
  const tTests = performance.now();
  const inFlight: Array<{ indices: Int32Array; rows: Promise<Float64Array> }> = [];
  const drainOne = async () => {
    const head = inFlight.shift()!;
    const rows = await head.rows;
    for (let r = 0; r < head.indices.length; r++) {
      const snp = head.indices[r];
      const row = arrayToRow(rows, r * ROW_FIELDS);
      await emit(snp, assocLine(geno.snps[snp], qc.nMiss[snp], qc.af[snp], mode, row), row);
    }
    tested += head.indices.length;
    opts.onProgress?.(tested);
  };
  try {
    for await (const block of geno.blocks({
      keep: samples.analysed,
      snpMask: qc.mask,
      start: opts.start,
      end: opts.end,
      blockSize: bs,
    })) {
      imputeMeans(block.data, block.count, n);
      const t = performance.now();
      const R = new Float64Array(block.count * n);
      await backend.gemm(block.count, n, n, block.data, model.U, R, 0);
      rotateSeconds += (performance.now() - t) / 1000;
      inFlight.push({ indices: Int32Array.from(block.indices), rows: pool.submit(R, block.count, n) });
      if (inFlight.length > pool.threads) await drainOne();
    }
    while (inFlight.length) await drainOne();
  } finally {
    // Settle anything still running before closing the threads.
    await Promise.allSettled(inFlight.map((f) => f.rows));
    if (!opts.pool) await pool.close();
  }
  return { tested, rotateSeconds, testSeconds: (performance.now() - tTests) / 1000 - rotateSeconds };
}

/** Replaces NaN (missing) by the row's mean over its non-missing entries, for `count` rows of length n. */
export function imputeMeans(X: Float64Array, count: number, n: number): void {
  for (let r = 0; r < count; r++) {
    let sum = 0;
    let cnt = 0;
    const off = r * n;
    for (let i = 0; i < n; i++) {
      const v = X[off + i];
      if (v === v) {
        sum += v;
        cnt++;
      }
    }
    if (cnt < n) {
      const mean = sum / cnt;
      for (let i = 0; i < n; i++) if (X[off + i] !== X[off + i]) X[off + i] = mean;
    }
  }
}

/** Worker threads for per-SNP tests: the machine's parallelism, or GWASGRID_THREADS. */
export function defaultThreads(): number {
  const env = Number(process.env.GWASGRID_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

export interface PreparedMlm {
  samples: AlignedSamples;
  qc: SnpQc;
  model: NullModel;
  /** Sample QC (--mind), when it ran. */
  sampleQc: SampleQcResult | null;
  /** Stage timings in seconds (sampleQc, qc or qcAndKinship, readKinship, eigen, nullModel). */
  timings: Record<string, number>;
}

type PrepareConfig = Omit<MlmConfig, 'out' | 'blockSize' | 'commandLine'>;

/** Sample QC when --mind is set (the first pass over the genotypes). */
async function runSampleQc(cfg: PrepareConfig, geno: GenotypeSource, timings: Record<string, number>): Promise<SampleQcResult | null> {
  if (cfg.mind === undefined) return null;
  const t = performance.now();
  const r = await sampleQcPass(geno, cfg.mind, cfg.log);
  timings.sampleQc = (performance.now() - t) / 1000;
  return r;
}

/** Prints the memory estimate and refuses when it exceeds --max-memory. */
function memoryCheck(cfg: PrepareConfig, geno: GenotypeSource, kinN: number, nAnalysed: number, kinships: number): void {
  const est = estimateMemory(kinN, geno.snps.length, {
    nAnalysed,
    computeKinship: !cfg.kinship,
    kinships,
    threads: cfg.threads ?? defaultThreads(),
  });
  checkMemory(est, cfg.maxMemory, cfg.log, `MLM on ${nAnalysed} of ${geno.nSamples} samples × ${geno.snps.length} SNPs`);
}

/** The kinship read from --kinship (over all genotype samples), timed. */
async function kinshipFromFile(cfg: PrepareConfig, geno: GenotypeSource, timings: Record<string, number>): Promise<Float64Array> {
  const t = performance.now();
  const K = await readKinship(cfg.kinship!, geno.nSamples);
  timings.readKinship = (performance.now() - t) / 1000;
  cfg.log.info(`kinship read from ${cfg.kinship}`);
  return K;
}

/**
 * Every stage before the scan of one trait: sample QC (--mind), samples aligned, SNP QC (with the kinship in the
 * same pass unless `cfg.kinship` names a file), eigendecomposition and null model. The single-process run and
 * the distributed coordinator both call this, so their inputs to the scan are the same.
 */
export async function prepareMlm(cfg: PrepareConfig, geno: GenotypeSource): Promise<PreparedMlm> {
  const { log, backend } = cfg;
  const timings: Record<string, number> = {};
  log.info(`genotypes: ${geno.label} (${geno.format}), ${geno.nSamples} samples × ${geno.snps.length} SNPs`);
  const sampleQc = await runSampleQc(cfg, geno, timings);
  const samples = await loadSamples(geno, cfg, log, sampleQc?.removed);
  // A computed kinship covers the samples kept by --mind; a kinship file covers every genotype sample.
  const kinSamples = cfg.kinship ? null : keptSamples(geno.nSamples, sampleQc?.removed);
  const kinN = kinSamples ? kinSamples.length : geno.nSamples;
  memoryCheck(cfg, geno, kinN, samples.analysed.length, 1);
  let t = performance.now();
  const pass = await qcPass(geno, samples, { qc: cfg.qc, kinship: cfg.kinship ? null : cfg.gk, backend, log, kinSamples });
  timings[cfg.kinship ? 'qc' : 'qcAndKinship'] = (performance.now() - t) / 1000;
  let K = pass.K;
  if (cfg.kinship) {
    K = await kinshipFromFile(cfg, geno, timings);
  } else {
    log.info(`kinship (--gk ${cfg.gk}) from ${pass.kinshipSnps} SNPs over ${kinN} samples`);
  }
  t = performance.now();
  const model = await nullModelFromKinship(K!, kinN, samples, backend, log, timings, kinSamples);
  return { samples, qc: pass.qc, model, sampleQc, timings };
}

/** The traits of a run: `cfg.traits`, or the single trait of phenoCol/phenoName. */
export function traitList(cfg: Pick<MlmConfig, 'traits' | 'phenoCol' | 'phenoName'>): TraitSelection[] {
  return cfg.traits && cfg.traits.length > 0 ? cfg.traits : [{ phenoCol: cfg.phenoCol, phenoName: cfg.phenoName }];
}

/** The whole single-process MLM (one trait, or several sharing kinship and eigendecomposition). */
export async function runMlm(cfg: MlmConfig): Promise<MlmResult> {
  await fsp.mkdir(dirname(cfg.out) || '.', { recursive: true });
  const geno = await openGenotypes(cfg);
  try {
    return await runMlmOn(cfg, geno);
  } finally {
    await geno.close();
  }
}

/** {@link runMlm} on an opened genotype source (tests pass wrapped sources). */
export async function runMlmOn(cfg: MlmConfig, geno: GenotypeSource): Promise<MlmResult> {
  const t0 = performance.now();
  if (traitList(cfg).length > 1) return runTraits(cfg, geno, t0);
  const { samples, qc, model, timings } = await prepareMlm(cfg, geno);
  return scanAndWrite(cfg, geno, samples, qc, model, timings, cfg.out, t0, 1);
}

/**
 * Scans one trait and writes its result files (every requested format, each atomically) and its `.log.txt`;
 * logs λGC. On any failure every temporary file is removed, so no result file that looks complete is left.
 */
async function scanAndWrite(
  cfg: MlmConfig,
  geno: GenotypeSource,
  samples: AlignedSamples,
  qc: SnpQc,
  model: NullModel,
  timings: Record<string, number>,
  base: string,
  t0: number,
  nTraits: number,
): Promise<MlmResult> {
  const { log, backend } = cfg;
  const formats = cfg.formats ?? ['gemma'];
  const assocPath = formats.includes('gemma') ? outputPath(base, 'gemma', 'MLM') : '';
  const gemma = assocPath ? new AtomicWriter(assocPath) : null;
  const writers: ResultWriter[] = openWriters(base, formats, { trait: samples.traitKey, method: 'MLM' });
  const lambda = new LambdaGc();
  const nObs = samples.analysed.length;
  const t = performance.now();
  try {
    await gemma?.write(assocHeader(cfg.lmm));
    const total = qc.counts.kept;
    const r = await scanRange(
      geno,
      samples,
      qc,
      model,
      cfg.lmm,
      backend,
      { blockSize: cfg.blockSize, threads: cfg.threads, onProgress: (d) => log.progress(nTraits > 1 ? `association scan ${samples.traitName}` : 'association scan', d, total) },
      async (snp, line, row) => {
        await gemma?.write(line);
        const rr = mlmResultRow(geno.snps[snp], qc.nMiss[snp], qc.af[snp], nObs, cfg.lmm, row);
        lambda.add(rr.log10p);
        for (const w of writers) await w.write(rr);
      },
    );
    timings.rotate = r.rotateSeconds;
    timings.tests = r.testSeconds;
    await gemma?.commit();
    for (const w of writers) await w.commit();
  } catch (e) {
    await gemma?.abort();
    await Promise.allSettled(writers.map((w) => w.abort()));
    throw e;
  }
  timings.scan = (performance.now() - t) / 1000;
  timings.total = (performance.now() - t0) / 1000;
  const lambdaGc = lambda.value();
  log.info(`genomic inflation λGC = ${lambdaGc.toFixed(4)} (median χ² of ${lambda.count} p-values / 0.4549364)`, { lambdaGc });
  const logPath = `${base}.log.txt`;
  const outputs = [...(assocPath ? [assocPath] : []), ...writers.map((w) => w.path)];
  await writeFileAtomic(logPath, mlmLogText(cfg, geno, samples, qc, model, timings, [`## lambda GC = ${lambdaGc.toFixed(6)}`]));
  log.info(`wrote ${outputs.join(', ')} (${qc.counts.kept} SNPs) and ${logPath} in ${timings.total.toFixed(1)} s`);
  return { model, samples, qc, assocPath, outputs, logPath, lambdaGc, timings };
}

/** Several traits: shared kinship and eigendecomposition where the traits allow it (see the module comment). */
async function runTraits(cfg: MlmConfig, geno: GenotypeSource, t0: number): Promise<MlmResult> {
  const { log, backend } = cfg;
  const traits = traitList(cfg);
  const shared: Record<string, number> = {};
  log.info(`genotypes: ${geno.label} (${geno.format}), ${geno.nSamples} samples × ${geno.snps.length} SNPs; ${traits.length} traits`);
  const sampleQc = await runSampleQc(cfg, geno, shared);
  const sets: AlignedSamples[] = [];
  for (const tr of traits) sets.push(await loadSamples(geno, { ...cfg, phenoCol: tr.phenoCol, phenoName: tr.phenoName }, log, sampleQc?.removed));
  const { keys, groups } = groupTraits(sets, log);
  const kinSamples = cfg.kinship ? null : keptSamples(geno.nSamples, sampleQc?.removed);
  const kinN = kinSamples ? kinSamples.length : geno.nSamples;
  memoryCheck(cfg, geno, kinN, Math.max(...sets.map((s) => s.analysed.length)), cfg.kinship ? 1 : groups.length);
  let t = performance.now();
  const reps = groups.map((g) => sets[g[0]]);
  const multi = await qcPassMulti(geno, reps, { qc: cfg.qc, kinship: cfg.kinship ? null : cfg.gk, backend, log, kinSamples });
  shared[cfg.kinship ? 'qc' : 'qcAndKinship'] = (performance.now() - t) / 1000;
  const fileK = cfg.kinship ? await kinshipFromFile(cfg, geno, shared) : null;
  const results: MlmResult[] = [];
  for (let gi = 0; gi < groups.length; gi++) {
    const group = groups[gi];
    const kin = fileK ?? multi.kinships[multi.kinshipOf[gi]].K;
    if (!fileK) log.info(`kinship (--gk ${cfg.gk}) from ${multi.kinships[multi.kinshipOf[gi]].snps} SNPs over ${kinN} samples`);
    const groupTimings: Record<string, number> = { ...shared };
    t = performance.now();
    const eig = await analysedEigen(kin, kinN, kinshipPositions(reps[gi].analysed, kinSamples), backend, log, groupTimings);
    for (const k of group) {
      const timings = { ...groupTimings };
      const model = await fitTrait(eig, sets[k], backend, log, timings);
      results.push(await scanAndWrite(cfg, geno, sets[k], multi.qcs[gi], model, timings, `${cfg.out}.${keys[k]}`, t0, traits.length));
    }
  }
  // Report in the order the traits were given.
  const order = groups.flat();
  const byTrait = order.map((_, i) => results[order.indexOf(i)]);
  if (byTrait.some((r) => r === undefined)) throw new InputError('NO_DATA', 'internal: a trait was not analysed', {});
  log.info(`λGC per trait: ${byTrait.map((r) => `${r.samples.traitName} ${r.lambdaGc.toFixed(4)}`).join(', ')}`);
  return { ...byTrait[0], traits: byTrait };
}

/**
 * The file keys of several traits (refusing a trait named twice) and their groups: traits with identical analysed
 * samples form one group (one SNP QC, one eigendecomposition), in order of first appearance; each group logged.
 * The single-process run and the distributed coordinator group traits with this one function.
 */
export function groupTraits(sets: AlignedSamples[], log: Logger): { keys: string[]; groups: number[][] } {
  const keys = sets.map((s) => traitFileKey(s.traitKey));
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) {
    throw new UsageError(`trait "${dup}" is named twice`, 'list each phenotype once in --pheno-col/--pheno-name');
  }
  const groups: number[][] = [];
  for (let k = 0; k < sets.length; k++) {
    const g = groups.find((gr) => sameSamples(sets[gr[0]].analysed, sets[k].analysed));
    if (g) g.push(k);
    else groups.push([k]);
  }
  for (const g of groups) {
    const names = g.map((k) => sets[k].traitName).join(', ');
    log.info(
      g.length > 1
        ? `traits ${names}: the same ${sets[g[0]].analysed.length} analysed samples: one SNP QC and one eigendecomposition shared`
        : `trait ${names}: ${sets[g[0]].analysed.length} analysed samples of its own: its own SNP QC and eigendecomposition`,
    );
  }
  return { keys, groups };
}

function sameSamples(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The `.log.txt` text (GEMMA's layout); `extra` lines (each starting with `## `) go before the timings. */
export function mlmLogText(
  cfg: Pick<MlmConfig, 'lmm' | 'commandLine' | 'backend'>,
  geno: GenotypeSource,
  samples: AlignedSamples,
  qc: SnpQc,
  m: NullModel,
  timings: Record<string, number>,
  extra: string[] = [],
): string {
  const g = (x: number) => x.toPrecision(6);
  const lines = [
    '##',
    `## gwasgrid mlm (GEMMA 0.98.5 -lmm ${cfg.lmm} semantics)`,
    `## Command Line Input = ${cfg.commandLine ?? ''}`,
    `## Date = ${new Date().toISOString()}`,
    `## Backend = ${cfg.backend.detail}`,
    '##',
    '## Summary Statistics:',
    `## number of total individuals = ${samples.nTotal}`,
    `## number of analyzed individuals = ${samples.analysed.length}`,
    `## number of covariates = ${samples.c}`,
    '## number of phenotypes = 1',
    `## number of total SNPs/var = ${geno.snps.length}`,
    `## number of analyzed SNPs/var = ${qc.counts.kept}`,
    `## SNPs removed: missingness ${qc.counts.missing}, maf ${qc.counts.maf}, ` +
      (qc.opts.mac ? `mac ${qc.counts.mac}, ` : '') +
      `monomorphic ${qc.counts.monomorphic}, ` +
      (qc.opts.hwe ? `hwe ${qc.counts.hwe}, ` : '') +
      `collinear ${qc.counts.collinear}`,
    `## REMLE log-likelihood in the null model = ${g(m.loglRemle)}`,
    `## MLE log-likelihood in the null model = ${g(m.loglMle)}`,
    `## pve estimate in the null model = ${g(m.pve)}`,
    `## se(pve) in the null model = ${g(m.pveSe)}`,
    `## vg estimate in the null model = ${g(m.vg)}`,
    `## ve estimate in the null model = ${g(m.ve)}`,
    `## beta estimate in the null model = ${Array.from(m.beta, g).join(' ')}`,
    `## se(beta) = ${Array.from(m.betaSe, g).join(' ')}`,
    `## lambda REMLE = ${m.lRemle.toPrecision(10)}, lambda MLE = ${m.lMle.toPrecision(10)}, trace_G = ${m.traceG.toPrecision(10)}`,
    '##',
    ...(extra.length ? [...extra, '##'] : []),
    '## Computation Time (seconds):',
    ...Object.entries(timings).map(([k, v]) => `##      ${k} = ${v.toFixed(3)}`),
    '##',
  ];
  return lines.join('\n') + '\n';
}
