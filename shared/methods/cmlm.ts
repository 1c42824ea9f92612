/**
 * CMLM (compressed MLM; Zhang et al. 2010, Nat Genet 42:355) as GAPIT 4.1 runs it, in one process:
 * genotypes → samples → SNP filter + kinship (one pass) → clustering → compression search (EMMA REML per level)
 * → GAPIT's choice → low-rank P3D scan → `.assoc.txt`, `.cmlm.compression.tsv`, `.gapit.csv`, `.log.txt`.
 * See FARMCPU_CMLM.md §2 and the modules in shared/cmlm/ for each stage's numerics.
 *
 * SNPs: every SNP of the input (or of `--extract`) is analysed unless the optional missingness/MAF filters drop
 * it (GAPIT filters nothing by default); monomorphic SNPs are reported with p = 1, as GAPIT does. Missing
 * genotypes are imputed as 1 ("Middle") in the kinship and the scan.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { GenotypeSource } from '../genotype/types.js';
import type { AlignedSamples } from '../samples/align.js';
import type { LinalgBackend } from '../linalg/backend.js';
import type { Logger } from '../log.js';
import { KinshipAccumulator } from '../kinship/kinship.js';
import { GapitKinshipAccumulator } from '../cmlm/kinship.js';
import { kinshipTree, compress, identityCompression, type Compression, type GroupKinship } from '../cmlm/compress.js';
import type { HclustTree, Linkage } from '../cmlm/hclust.js';
import { remlSpectrum, scanBasis, olsPieces, type Design, type ScanBasis } from '../cmlm/model.js';
import { emmaReml } from '../cmlm/emma.js';
import { chooseLevel, groupLevels, type Choice } from '../cmlm/search.js';
import { P3dScanner, MONOMORPHIC, type P3dResult } from '../cmlm/p3d.js';
import { AtomicWriter, writeFileAtomic } from '../io/atomic.js';
import { readText, splitLines, wsTokens } from '../io/lines.js';
import { LEADING_COLUMNS } from '../results/assoc.js';
import { formatE, formatFixed, formatP } from '../results/format.js';
import { gapitCsv, type GapitRow } from '../results/gapit-csv.js';
import { InputError } from '../errors.js';
import { openGenotypes, loadSamples, genotypeSamples, type InputSpec } from './inputs.js';

export type CmlmKinshipMethod = 'zhang' | 'vanraden' | 'gemma';

export interface CmlmConfig extends InputSpec {
  kinshipMethod: CmlmKinshipMethod;
  groupFrom: number;
  /** Capped at the number of genotyped individuals (GAPIT's default 1e6 means "all"). */
  groupTo: number;
  groupBy: number;
  linkage: Linkage;
  groupKinship: GroupKinship;
  /** Optional SNP filters on the analysed samples (0 and 1 = none, GAPIT's default). */
  maf: number;
  miss: number;
  /** File listing the SNP IDs to analyse (first token per line). */
  extract?: string;
  out: string;
  backend: LinalgBackend;
  log: Logger;
  blockSize?: number;
  commandLine?: string;
}

/** One row of the compression table. */
export interface CompressionRow {
  g: number;
  /** Groups holding phenotyped individuals (t); equals n when uncompressed. */
  t: number;
  linkage: Linkage;
  groupKinship: GroupKinship;
  m2ll: number;
  vg: number;
  ve: number;
  delta: number;
}

/** Everything the scan needs, as the single-process run and a distributed coordinator would share it. */
export interface CmlmModel {
  design: Design;
  rows: CompressionRow[];
  choice: Choice;
  chosen: CompressionRow;
  basis: ScanBasis;
  delta: number;
  /** σ²_a used in the t statistic (the null residual variance when g = 1). */
  scale: number;
}

export interface SnpFilter {
  mask: Uint8Array;
  nMiss: Int32Array;
  af: Float64Array;
  kept: number;
}

export interface CmlmResult {
  model: CmlmModel;
  samples: AlignedSamples;
  snps: SnpFilter;
  assocPath: string;
  compressionPath: string;
  gapitPath: string;
  logPath: string;
  timings: Record<string, number>;
}

async function readExtract(path: string): Promise<Set<string>> {
  const set = new Set<string>();
  for (const line of splitLines(await readText(path))) {
    const t = wsTokens(line);
    if (t.length) set.add(t[0]);
  }
  if (set.size === 0) throw new InputError('NO_DATA', 'lists no SNP', { file: path }, 'give one SNP ID per line');
  return set;
}

/**
 * One pass over all SNPs: the filter (extract list, missingness and MAF on the analysed samples) and the kinship
 * of all genotyped individuals from the SNPs kept.
 */
export async function filterAndKinship(
  geno: GenotypeSource,
  samples: AlignedSamples,
  cfg: Pick<CmlmConfig, 'kinshipMethod' | 'maf' | 'miss' | 'extract' | 'backend' | 'log'>,
): Promise<{ snps: SnpFilter; K: Float64Array; kinshipSnps: number }> {
  const m = geno.snps.length;
  const nG = geno.nSamples;
  const extract = cfg.extract ? await readExtract(cfg.extract) : null;
  const f: SnpFilter = { mask: new Uint8Array(m), nMiss: new Int32Array(m), af: new Float64Array(m).fill(NaN), kept: 0 };
  const gapitKin = cfg.kinshipMethod === 'gemma' ? null : new GapitKinshipAccumulator(nG, cfg.kinshipMethod, cfg.backend);
  const gemmaKin = cfg.kinshipMethod === 'gemma' ? new KinshipAccumulator(nG, 1, cfg.backend) : null;
  const an = samples.analysed;
  let kept = 0;
  let done = 0;
  for await (const block of geno.blocks({ blockSize: 256 })) {
    for (let r = 0; r < block.count; r++) {
      const snp = block.indices[r];
      if (extract && !extract.has(geno.snps[snp].rs)) continue;
      const off = r * block.n;
      const { keep, poly } = evaluateSnp(block.data, off, an, cfg, f, snp);
      if (!keep) continue;
      kept++;
      if (gapitKin) await gapitKin.add(block.data, off);
      else if (poly) await gemmaKin!.add(block.data, off);
    }
    done += block.count;
    cfg.log.progress('SNP filter + kinship', done, m);
  }
  if (extract && kept === 0) {
    throw new InputError('NO_DATA', 'none of the listed SNPs is in the genotype data or passes the filters', { file: cfg.extract });
  }
  if (kept === 0) throw new InputError('NO_DATA', 'no SNP passed the filters', { file: geno.label }, 'check --maf/--miss');
  const K = gapitKin ? await gapitKin.finish() : await gemmaKin!.finish();
  const kinshipSnps = gapitKin ? gapitKin.snps : gemmaKin!.snps;
  f.kept = kept;
  return { snps: f, K, kinshipSnps };
}

/**
 * The SNP filter of {@link filterAndKinship} for SNPs [start, end) only, without the kinship: what a worker computes
 * for its shard (the filter is per SNP and deterministic, so mask, n_miss and af equal the coordinator's).
 */
export async function snpFilterRange(
  geno: GenotypeSource,
  samples: Pick<AlignedSamples, 'analysed'>,
  cfg: Pick<CmlmConfig, 'maf' | 'miss' | 'extract'>,
  start: number,
  end: number,
): Promise<SnpFilter> {
  const m = geno.snps.length;
  const extract = cfg.extract ? await readExtract(cfg.extract) : null;
  const f: SnpFilter = { mask: new Uint8Array(m), nMiss: new Int32Array(m), af: new Float64Array(m).fill(NaN), kept: 0 };
  for await (const block of geno.blocks({ start, end, blockSize: 256 })) {
    for (let r = 0; r < block.count; r++) {
      const snp = block.indices[r];
      if (extract && !extract.has(geno.snps[snp].rs)) continue;
      if (evaluateSnp(block.data, r * block.n, samples.analysed, cfg, f, snp).keep) f.kept++;
    }
  }
  return f;
}

/** One SNP of the filter: n_miss and af over the analysed samples, then the missingness and MAF rules. */
function evaluateSnp(
  data: Float64Array,
  off: number,
  an: Int32Array,
  cfg: Pick<CmlmConfig, 'maf' | 'miss'>,
  f: SnpFilter,
  snp: number,
): { keep: boolean; poly: boolean } {
  let miss = 0;
  let sum = 0;
  let first = NaN;
  let poly = false;
  for (let j = 0; j < an.length; j++) {
    const v = data[off + an[j]];
    if (v !== v) {
      miss++;
      continue;
    }
    sum += v;
    if (first !== first) first = v;
    else if (v !== first) poly = true;
  }
  const af = sum / (2 * (an.length - miss));
  f.nMiss[snp] = miss;
  f.af[snp] = af;
  const keep = miss / an.length <= cfg.miss && !(cfg.maf > 0 && !(af >= cfg.maf && af <= 1 - cfg.maf));
  if (keep) f.mask[snp] = 1;
  return { keep, poly };
}

/** GAPIT's individual order for clustering: by taxon name (byte order) when the genotypes name individuals. */
export function clusteringOrder(geno: GenotypeSource): Int32Array {
  const ids = genotypeSamples(geno).ids;
  const order = Int32Array.from({ length: geno.nSamples }, (_, i) => i);
  if (!ids) return order;
  const key = ids.map((s) => s.iid);
  return Int32Array.from(Array.from(order).sort((a, b) => (key[a] < key[b] ? -1 : key[a] > key[b] ? 1 : a - b)));
}

/**
 * The compression search and choice, and the chosen level's scan basis. `K` is the kinship of all nG genotyped
 * individuals, `order` the clustering order.
 */
export async function fitCmlm(
  K: Float64Array,
  nG: number,
  order: Int32Array,
  samples: AlignedSamples,
  cfg: Pick<CmlmConfig, 'groupFrom' | 'groupTo' | 'groupBy' | 'linkage' | 'groupKinship' | 'backend' | 'log'>,
  timings: Record<string, number> = {},
): Promise<CmlmModel> {
  const { log, backend } = cfg;
  const design: Design = { n: samples.analysed.length, q: samples.c, X: samples.W, y: samples.y };
  const levels = groupLevels({ nGenotyped: nG, q: design.q, groupFrom: cfg.groupFrom, groupTo: cfg.groupTo, groupBy: cfg.groupBy });
  log.info(`compression levels (groups of ${nG} genotyped individuals): ${levels.join(', ')}`);
  let tree: HclustTree | null = null;
  const compressionAt = (g: number): Compression => {
    if (g >= nG) return identityCompression(K, nG, samples.analysed);
    if (!tree) {
      const t = performance.now();
      tree = kinshipTree(K, nG, order, cfg.linkage);
      timings.cluster = (performance.now() - t) / 1000;
    }
    return compress(K, nG, tree, order, g, samples.analysed, cfg.groupKinship);
  };
  const ols = olsPieces(design);
  const nullVe = ols.yPy / (design.n - design.q);
  const rows: CompressionRow[] = [];
  const t0 = performance.now();
  for (const g of levels) {
    let row: CompressionRow;
    if (g === 1) {
      const nq = design.n - design.q;
      row = {
        g,
        t: 1,
        linkage: cfg.linkage,
        groupKinship: cfg.groupKinship,
        m2ll: nq * Math.log(nullVe) + design.n + nq * Math.log(2 * Math.PI),
        vg: 0,
        ve: nullVe,
        delta: Infinity,
      };
    } else {
      const c = compressionAt(g);
      const fit = emmaReml(await remlSpectrum(c, design, backend));
      row = { g, t: c.t, linkage: cfg.linkage, groupKinship: cfg.groupKinship, m2ll: fit.m2ll, vg: fit.vg, ve: fit.ve, delta: fit.delta };
    }
    rows.push(row);
    log.info(
      `level ${rows.length}/${levels.length}: g = ${g} (${row.t} groups with phenotypes), ${cfg.linkage}/${cfg.groupKinship}: ` +
        `-2LL = ${row.m2ll.toFixed(4)}, VA = ${row.vg.toPrecision(6)}, VE = ${row.ve.toPrecision(6)}`,
    );
  }
  timings.search = (performance.now() - t0) / 1000;
  const choice = chooseLevel(
    rows.map((r) => r.m2ll),
    rows.map((r) => r.vg),
  );
  const chosen = rows[choice.index];
  if (!(chosen.m2ll === chosen.m2ll)) {
    throw new InputError('NO_DATA', `the REML fit failed at every compression level`, {}, 'check the phenotype and covariates');
  }
  log.info(
    `chosen: g = ${chosen.g} (${chosen.t} groups; ${choice.reason === 'guard' ? 'GAPIT fallback: the difference of compression is not enough' : 'smallest -2LL'})`,
  );
  const t1 = performance.now();
  let basis: ScanBasis;
  let delta: number;
  let scale: number;
  if (chosen.g === 1) {
    basis = { n: design.n, rank: 0, E: new Float64Array(0), mu: new Float64Array(0) };
    delta = 1;
    scale = nullVe;
  } else {
    basis = await scanBasis(compressionAt(chosen.g), backend);
    delta = chosen.delta;
    scale = chosen.vg;
  }
  timings.basis = (performance.now() - t1) / 1000;
  return { design, rows, choice, chosen, basis, delta, scale };
}

/** GAPIT's folded MAF of an imputed marker over the analysed individuals. */
function gapitMaf(x: Float64Array, off: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[off + i];
  const f = (0.5 * s) / n;
  return Math.min(f, 1 - f);
}

/**
 * Scans the kept SNPs in [start, end) and hands each result, in file order, to `emit`. Genotypes of the
 * analysed samples, missing values imputed as 1; rotation e = Eᵀx by the backend's GEMM in blocks; a marker
 * identical to the previous one reuses its result (GAPIT); a monomorphic one gets p = 1.
 */
export async function scanCmlm(
  geno: GenotypeSource,
  samples: Pick<AlignedSamples, 'analysed'>,
  snps: SnpFilter,
  model: Pick<CmlmModel, 'design' | 'basis' | 'delta' | 'scale'>,
  backend: LinalgBackend,
  opts: { start?: number; end?: number; blockSize?: number; onProgress?: (done: number) => void },
  emit: (snp: number, r: P3dResult, maf: number) => void | Promise<void>,
): Promise<number> {
  const n = samples.analysed.length;
  const scanner = new P3dScanner(model.basis, model.design, model.delta, model.scale);
  const rank = model.basis.rank;
  const prev = new Float64Array(n);
  let havePrev = false;
  let prevResult: P3dResult = MONOMORPHIC;
  let done = 0;
  for await (const block of geno.blocks({
    keep: samples.analysed,
    snpMask: snps.mask,
    start: opts.start,
    end: opts.end,
    blockSize: opts.blockSize ?? 256,
  })) {
    const X = block.data;
    for (let i = 0; i < block.count * n; i++) if (X[i] !== X[i]) X[i] = 1;
    const R = new Float64Array(block.count * rank);
    if (rank > 0) await backend.gemm(block.count, rank, n, X.subarray(0, block.count * n), model.basis.E, R, 0);
    for (let r = 0; r < block.count; r++) {
      const off = r * n;
      let lo = Infinity;
      let hi = -Infinity;
      let same = havePrev;
      for (let i = 0; i < n; i++) {
        const v = X[off + i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (same && v !== prev[i]) same = false;
      }
      let res: P3dResult;
      if (lo === hi) res = MONOMORPHIC;
      else if (same) res = prevResult;
      else res = scanner.test(X, off, R, r * rank);
      prev.set(X.subarray(off, off + n));
      havePrev = true;
      prevResult = res;
      await emit(block.indices[r], res, gapitMaf(X, off, n));
    }
    done += block.count;
    opts.onProgress?.(done);
  }
  return done;
}

export const CMLM_COLUMNS = [...LEADING_COLUMNS, 'beta', 'se', 'p_wald'];

/** One `.assoc.txt` line (GEMMA's leading columns, then beta, se, p_wald). */
export function cmlmAssocLine(geno: GenotypeSource, snps: SnpFilter, snp: number, r: P3dResult): string {
  const s = geno.snps[snp];
  const p = formatP(Math.pow(10, r.log10p), r.log10p);
  return `${s.chr}\t${s.rs}\t${s.pos}\t${snps.nMiss[snp]}\t${s.a1}\t${s.a0}\t${formatFixed(snps.af[snp], 3)}\t${formatE(r.beta)}\t${formatE(r.se)}\t${p}\n`;
}

/** The GAPIT CSV row of one scanned SNP (p from the exact log10 p; nobs = analysed individuals). */
export function cmlmGapitRow(geno: GenotypeSource, snp: number, log10p: number, maf: number, nobs: number, effect: number): GapitRow {
  const s = geno.snps[snp];
  return { snp: s.rs, chr: s.chr, pos: s.pos, p: Math.pow(10, log10p), maf, nobs, effect };
}

/**
 * One line of a distributed CMLM shard result: the `.assoc.txt` line, then GAPIT's MAF, log10 p and the effect as
 * exact decimal round-trips (JavaScript's shortest representation that reads back to the same double), which the
 * coordinator needs for the GAPIT CSV (15 significant digits, more than the `.assoc.txt` carries) without a
 * second scan. {@link parseCmlmShardLine} undoes it.
 */
export function cmlmShardLine(geno: GenotypeSource, snps: SnpFilter, snp: number, r: P3dResult, maf: number): string {
  return `${cmlmAssocLine(geno, snps, snp, r).slice(0, -1)}\t${String(maf)}\t${String(r.log10p)}\t${String(r.beta)}\n`;
}

/** Splits a {@link cmlmShardLine} (without its newline) into the `.assoc.txt` line (with newline) and the exact values. */
export function parseCmlmShardLine(line: string): { assoc: string; rs: string; maf: number; log10p: number; beta: number } | null {
  const fields = line.split('\t');
  if (fields.length !== CMLM_COLUMNS.length + 3) return null;
  const [maf, log10p, beta] = fields.slice(CMLM_COLUMNS.length).map(Number);
  return { assoc: fields.slice(0, CMLM_COLUMNS.length).join('\t') + '\n', rs: fields[1], maf, log10p, beta };
}

/** The compression table as TSV (search order; `chosen` marks the level used for the scan). */
export function compressionTsv(model: CmlmModel): string {
  const lines = ['group_count\tgroups_with_phenotype\tlinkage\tgroup_kinship\tm2LL\tVA\tVE\tchosen'];
  model.rows.forEach((r, i) => {
    const f = (x: number) => (x === x && Number.isFinite(x) ? String(x) : 'NA');
    lines.push([r.g, r.t, r.linkage, r.groupKinship, f(r.m2ll), f(r.vg), f(r.ve), i === model.choice.index ? 1 : 0].join('\t'));
  });
  return lines.join('\n') + '\n';
}

/** The whole single-process CMLM. */
export async function runCmlm(cfg: CmlmConfig): Promise<CmlmResult> {
  const { log, backend } = cfg;
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  await fsp.mkdir(dirname(cfg.out) || '.', { recursive: true });
  const geno = await openGenotypes(cfg);
  try {
    log.info(`genotypes: ${geno.label} (${geno.format}), ${geno.nSamples} samples × ${geno.snps.length} SNPs`);
    const samples = await loadSamples(geno, cfg, log);
    let t = performance.now();
    const { snps, K, kinshipSnps } = await filterAndKinship(geno, samples, cfg);
    timings.filterAndKinship = (performance.now() - t) / 1000;
    log.info(`${snps.kept} SNPs analysed; ${cfg.kinshipMethod} kinship of ${geno.nSamples} individuals from ${kinshipSnps} SNPs`);
    const model = await fitCmlm(K, geno.nSamples, clusteringOrder(geno), samples, cfg, timings);

    const assocPath = `${cfg.out}.assoc.txt`;
    const writer = new AtomicWriter(assocPath);
    const gapitRows: GapitRow[] = [];
    t = performance.now();
    try {
      await writer.write(CMLM_COLUMNS.join('\t') + '\n');
      await scanCmlm(
        geno,
        samples,
        snps,
        model,
        backend,
        { blockSize: cfg.blockSize, onProgress: (d) => log.progress('P3D scan', d, snps.kept) },
        async (snp, r, maf) => {
          await writer.write(cmlmAssocLine(geno, snps, snp, r));
          gapitRows.push(cmlmGapitRow(geno, snp, r.log10p, maf, samples.analysed.length, r.beta));
        },
      );
      await writer.commit();
    } catch (e) {
      await writer.abort();
      throw e;
    }
    timings.scan = (performance.now() - t) / 1000;
    const compressionPath = `${cfg.out}.cmlm.compression.tsv`;
    await writeFileAtomic(compressionPath, compressionTsv(model));
    const gapitPath = `${cfg.out}.gapit.csv`;
    await writeFileAtomic(gapitPath, gapitCsv(gapitRows));
    timings.total = (performance.now() - t0) / 1000;
    const logPath = `${cfg.out}.log.txt`;
    await writeFileAtomic(logPath, cmlmLogText(cfg, geno, samples, snps, model, timings));
    log.info(`wrote ${assocPath}, ${compressionPath}, ${gapitPath} and ${logPath} in ${timings.total.toFixed(1)} s`);
    return { model, samples, snps, assocPath, compressionPath, gapitPath, logPath, timings };
  } finally {
    await geno.close();
  }
}

/** The `.log.txt` of a CMLM run; `extra` lines (a distributed run's) go before the timings. */
export function cmlmLogText(
  cfg: CmlmConfig,
  geno: GenotypeSource,
  samples: AlignedSamples,
  snps: SnpFilter,
  model: CmlmModel,
  timings: Record<string, number>,
  extra: string[] = [],
): string {
  const c = model.chosen;
  const lines = [
    '##',
    '## gwasgrid cmlm (GAPIT 4.1 CMLM semantics: EMMA REML, P3D)',
    `## Command Line Input = ${cfg.commandLine ?? ''}`,
    `## Date = ${new Date().toISOString()}`,
    `## Backend = ${cfg.backend.detail}`,
    '##',
    `## number of total individuals = ${samples.nTotal}`,
    `## number of analyzed individuals = ${samples.analysed.length}`,
    `## number of covariates = ${samples.c}`,
    `## number of total SNPs/var = ${geno.snps.length}`,
    `## number of analyzed SNPs/var = ${snps.kept}`,
    `## kinship = ${cfg.kinshipMethod}, linkage = ${cfg.linkage}, group kinship = ${cfg.groupKinship}`,
    '## compression (g, groups with phenotype, -2LL, VA, VE):',
    ...model.rows.map((r, i) => `##   ${r.g}\t${r.t}\t${r.m2ll}\t${r.vg}\t${r.ve}${i === model.choice.index ? '\t<- chosen' : ''}`),
    `## chosen group count = ${c.g} (${model.choice.reason})`,
    `## VA = ${c.vg}`,
    `## VE = ${c.ve}`,
    `## h2 = ${c.vg / (c.vg + c.ve)}`,
    `## -2 REML log-likelihood (EMMA) = ${c.m2ll}`,
    ...extra,
    '##',
    '## Computation Time (seconds):',
    ...Object.entries(timings).map(([k, v]) => `##      ${k} = ${v.toFixed(3)}`),
    '##',
  ];
  return lines.join('\n') + '\n';
}
