/**
 * Memory estimates for an MLM run, printed before the heavy stages and checked against `--max-memory`
 * (exit code 5 when exceeded). Also meant for deployment docs (SLURM `--mem`, Kubernetes requests): import
 * {@link estimateMemory} or run `gwasgrid mlm … --max-memory 1` to see the figures and stop.
 *
 * The model (8-byte doubles; n = genotype samples, n_a = analysed samples, m = SNPs):
 * - kinship K: n² · 8 per matrix held (one per distinct set of kinship SNPs), plus two accumulation blocks of
 *   512 SNPs × n;
 * - eigendecomposition: the analysed submatrix K_a and the eigenvectors U, n_a² · 8 each, plus the solver's
 *   workspace: about 2·n_a² doubles (LAPACK dsyevd; the wasm solver's two n_a × n_a arrays), plus the wasm
 *   solver's rotation log (n_a²/2 doubles, at most 32 MiB) and its 4 MiB of code and stack;
 * - scan: U (n_a² · 8) stays resident; rotation blocks of `blockSize` SNPs × n_a, genotypes and rotated
 *   copies, for each block in flight (threads + 1);
 * - per SNP: metadata and QC arrays, about 300 bytes · m;
 * - the Node.js runtime itself, about 80 MB.
 * The peak is the resident part (K, per-SNP arrays, runtime) plus the largest stage (kinship accumulation,
 * eigendecomposition or scan). It is a model of the allocations, not a measurement: it has not yet been
 * calibrated against measured peak RSS (e.g. ../shared/data/*\/reference/runs.tsv), so leave headroom.
 */
import { ResourceError, UsageError } from './errors.js';

export interface MemoryOptions {
  /** Analysed samples (default n). */
  nAnalysed?: number;
  /** Whether the kinship is computed (else read from a file: K is still held, n² · 8). */
  computeKinship?: boolean;
  /** Kinship matrices held at once (multi-trait runs with different kinship SNP sets). Default 1. */
  kinships?: number;
  /** SNPs per rotation block (default 128). */
  blockSize?: number;
  /** Threads testing blocks (default 1). */
  threads?: number;
}

export interface MemoryPart {
  what: string;
  bytes: number;
  formula: string;
}

export interface MemoryEstimate {
  /** Estimated peak resident memory in bytes. */
  peak: number;
  parts: MemoryPart[];
}

const RUNTIME_BYTES = 80 * 2 ** 20;
const PER_SNP_BYTES = 300;

/** Estimated peak memory of an MLM run on n samples × m SNPs (see the module comment for the model). */
export function estimateMemory(n: number, m: number, opts: MemoryOptions = {}): MemoryEstimate {
  const na = opts.nAnalysed ?? n;
  const kin = opts.kinships ?? 1;
  const bs = opts.blockSize ?? 128;
  const threads = opts.threads ?? 1;
  const parts: MemoryPart[] = [
    { what: 'kinship matrix K', bytes: kin * n * n * 8, formula: `${kin > 1 ? `${kin} × ` : ''}n² · 8 (n = ${n})` },
    ...(opts.computeKinship === false ? [] : [{ what: 'kinship accumulation blocks', bytes: 2 * 512 * n * 8, formula: '2 · 512 · n · 8' }]),
    { what: 'analysed kinship K_a', bytes: na * na * 8, formula: `n_a² · 8 (n_a = ${na})` },
    { what: 'eigenvectors U', bytes: na * na * 8, formula: 'n_a² · 8' },
    {
      what: 'eigensolver workspace',
      bytes: 2 * na * na * 8 + Math.min(na * na * 4, 32 * 2 ** 20) + 4 * 2 ** 20,
      formula: '≈ 2 · n_a² · 8 + min(n_a²/2 · 8, 32 MiB) + 4 MiB (LAPACK dsyevd, or the wasm solver and its rotation log)',
    },
    { what: 'rotation blocks', bytes: 2 * (threads + 1) * bs * na * 8, formula: `2 · (threads + 1) · ${bs} · n_a · 8` },
    { what: 'SNP metadata and QC arrays', bytes: PER_SNP_BYTES * m, formula: `≈ ${PER_SNP_BYTES} B · m (m = ${m})` },
    { what: 'runtime', bytes: RUNTIME_BYTES, formula: 'Node.js, code, buffers' },
  ];
  const get = (w: string) => parts.find((p) => p.what === w)?.bytes ?? 0;
  const resident = get('kinship matrix K') + get('SNP metadata and QC arrays') + get('runtime');
  const kinStage = get('kinship accumulation blocks');
  const eigenStage = get('analysed kinship K_a') + get('eigenvectors U') + get('eigensolver workspace');
  const scanStage = get('eigenvectors U') + get('rotation blocks');
  return { peak: resident + Math.max(kinStage, eigenStage, scanStage), parts };
}

/** Peak memory of `gwasgrid kinship` (K, its accumulation blocks, per-SNP arrays, runtime). */
export function estimateKinshipMemory(n: number, m: number): MemoryEstimate {
  const parts = estimateMemory(n, m, { computeKinship: true }).parts.filter((p) =>
    ['kinship matrix K', 'kinship accumulation blocks', 'SNP metadata and QC arrays', 'runtime'].includes(p.what),
  );
  return { peak: parts.reduce((a, p) => a + p.bytes, 0), parts };
}

/** "1.5 GiB", "300 MiB", "12 KiB". */
export function formatBytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let x = b;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${u === 0 ? x.toFixed(0) : x.toFixed(x >= 100 ? 0 : 1)} ${units[u]}`;
}

/**
 * Parses a size: a number with an optional unit K, M, G or T (binary: 1K = 1024 bytes; `KB`, `KiB`, `k` are
 * accepted too) or B. "4G", "500M", "1.5GiB", "1048576".
 */
export function parseSize(text: string, flag = '--max-memory'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m || (m[3] && !m[2] && m[3].toLowerCase() !== 'b')) {
    throw new UsageError(`${flag} "${text}" is not a size`, 'write a number with an optional unit, e.g. 500M, 4G, 1.5G (1G = 1024³ bytes)');
  }
  const pow = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * 1024 ** pow);
}

/** Logs the estimate and refuses (ResourceError, exit 5) when it exceeds `limit` bytes. */
export function checkMemory(est: MemoryEstimate, limit: number | undefined, log: { info(m: string): void }, what: string): void {
  const top = [...est.parts].sort((a, b) => b.bytes - a.bytes).slice(0, 4);
  log.info(
    `memory estimate for ${what}: peak ≈ ${formatBytes(est.peak)} (${top.map((p) => `${p.what} ${formatBytes(p.bytes)} = ${p.formula}`).join('; ')})` +
      (limit !== undefined ? `; --max-memory ${formatBytes(limit)}` : ''),
  );
  if (limit !== undefined && est.peak > limit) {
    throw new ResourceError(
      `${what} needs about ${formatBytes(est.peak)} but --max-memory is ${formatBytes(limit)}`,
      'raise --max-memory (or the job\'s memory request), give a precomputed --kinship, analyse fewer samples, or run on a larger machine',
    );
  }
}
