/**
 * MLM, GEMMA-exact, in one process: genotypes → samples → QC (+ kinship) → null model → rotated scan →
 * `.assoc.txt` + `.log.txt`. Each stage is one call so the coordinator/worker path reuses the same functions.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { GenotypeSource } from '../genotype/types.js';
import type { SnpQc, QcOptions } from '../genotype/qc.js';
import type { AlignedSamples } from '../samples/align.js';
import { readKinship } from '../kinship/io.js';
import { subMatrix, type KinshipMode } from '../kinship/kinship.js';
import type { LinalgBackend } from '../linalg/backend.js';
import type { Logger } from '../log.js';
import { centredEigen, fitNullModel, rotateColumns, type NullModel } from '../lmm/null.js';
import type { LmmMode } from '../lmm/scan.js';
import { ScanPool, ROW_FIELDS, arrayToRow } from '../lmm/scan-pool.js';
import { availableParallelism } from 'node:os';
import { AtomicWriter, writeFileAtomic } from '../io/atomic.js';
import { assocHeader, assocLine } from '../results/assoc.js';
import { openGenotypes, loadSamples, qcPass, type InputSpec } from './inputs.js';

export interface MlmConfig extends InputSpec {
  kinship?: string;
  gk: KinshipMode;
  lmm: LmmMode;
  qc: QcOptions;
  out: string;
  backend: LinalgBackend;
  log: Logger;
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
  assocPath: string;
  logPath: string;
  timings: Record<string, number>;
}

/** Builds the null model from the analysed samples' kinship. */
export async function nullModelFromKinship(
  K: Float64Array,
  nTotal: number,
  samples: AlignedSamples,
  backend: LinalgBackend,
  log: Logger,
  timings: Record<string, number>,
): Promise<NullModel> {
  const na = samples.analysed.length;
  const Ka = subMatrix(K, nTotal, samples.analysed);
  let t = performance.now();
  log.info(`eigendecomposition of the centred ${na} × ${na} kinship (${backend.name})`);
  const eig = await centredEigen(Ka, na, backend);
  timings.eigen = (performance.now() - t) / 1000;
  t = performance.now();
  const UtW = await rotateColumns(samples.W, na, samples.c, eig.U, backend);
  const [Uty] = await rotateColumns(samples.y, na, 1, eig.U, backend);
  const model = fitNullModel(eig, UtW, Uty);
  timings.nullModel = (performance.now() - t) / 1000;
  log.info(
    `null model: REML λ = ${model.lRemle.toPrecision(7)} (logL ${model.loglRemle.toFixed(4)}), ML λ = ${model.lMle.toPrecision(7)} ` +
      `(logL ${model.loglMle.toFixed(4)}); vg = ${model.vg.toPrecision(6)}, ve = ${model.ve.toPrecision(6)}, ` +
      `pve = ${model.pve.toPrecision(6)} (se ${model.pveSe.toPrecision(6)})`,
  );
  return model;
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
  emit: (snpIndex: number, line: string) => void | Promise<void>,
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
      await emit(snp, assocLine(geno.snps[snp], qc.nMiss[snp], qc.af[snp], mode, arrayToRow(rows, r * ROW_FIELDS)));
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
  /** Stage timings in seconds (qc or qcAndKinship, readKinship, eigen, nullModel). */
  timings: Record<string, number>;
}

/**
 * Every stage before the scan: samples aligned, QC (with the kinship in the same pass unless `cfg.kinship`
 * names a file), eigendecomposition and null model. The single-process run and the distributed coordinator
 * both call this, so their inputs to the scan are the same.
 */
export async function prepareMlm(
  cfg: Omit<MlmConfig, 'out' | 'blockSize' | 'threads' | 'commandLine'>,
  geno: GenotypeSource,
): Promise<PreparedMlm> {
  const { log, backend } = cfg;
  const timings: Record<string, number> = {};
  log.info(`genotypes: ${geno.label} (${geno.format}), ${geno.nSamples} samples × ${geno.snps.length} SNPs`);
  const samples = await loadSamples(geno, cfg, log);
  let t = performance.now();
  const pass = await qcPass(geno, samples, { qc: cfg.qc, kinship: cfg.kinship ? null : cfg.gk, backend, log });
  timings[cfg.kinship ? 'qc' : 'qcAndKinship'] = (performance.now() - t) / 1000;
  let K = pass.K;
  if (cfg.kinship) {
    t = performance.now();
    K = await readKinship(cfg.kinship, geno.nSamples);
    timings.readKinship = (performance.now() - t) / 1000;
    log.info(`kinship read from ${cfg.kinship}`);
  } else {
    log.info(`kinship (--gk ${cfg.gk}) from ${pass.kinshipSnps} SNPs over ${geno.nSamples} samples`);
  }
  const model = await nullModelFromKinship(K!, geno.nSamples, samples, backend, log, timings);
  return { samples, qc: pass.qc, model, timings };
}

/** The whole single-process MLM. */
export async function runMlm(cfg: MlmConfig): Promise<MlmResult> {
  const { log, backend } = cfg;
  const t0 = performance.now();
  await fsp.mkdir(dirname(cfg.out) || '.', { recursive: true });
  const geno = await openGenotypes(cfg);
  try {
    const { samples, qc, model, timings } = await prepareMlm(cfg, geno);
    const assocPath = `${cfg.out}.assoc.txt`;
    const writer = new AtomicWriter(assocPath);
    const t = performance.now();
    try {
      await writer.write(assocHeader(cfg.lmm));
      const total = qc.counts.kept;
      const r = await scanRange(
        geno,
        samples,
        qc,
        model,
        cfg.lmm,
        backend,
        { blockSize: cfg.blockSize, threads: cfg.threads, onProgress: (d) => log.progress('association scan', d, total) },
        (_snp, line) => writer.write(line),
      );
      timings.rotate = r.rotateSeconds;
      timings.tests = r.testSeconds;
      await writer.commit();
    } catch (e) {
      await writer.abort();
      throw e;
    }
    timings.scan = (performance.now() - t) / 1000;
    timings.total = (performance.now() - t0) / 1000;
    const logPath = `${cfg.out}.log.txt`;
    await writeFileAtomic(logPath, mlmLogText(cfg, geno, samples, qc, model, timings));
    log.info(`wrote ${assocPath} (${qc.counts.kept} SNPs) and ${logPath} in ${timings.total.toFixed(1)} s`);
    return { model, samples, qc, assocPath, logPath, timings };
  } finally {
    await geno.close();
  }
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
    `## SNPs removed: missingness ${qc.counts.missing}, maf ${qc.counts.maf}, monomorphic ${qc.counts.monomorphic}, collinear ${qc.counts.collinear}`,
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
