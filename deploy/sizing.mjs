#!/usr/bin/env node
/**
 * Memory per process of a distributed gwasgrid MLM run, from the sample counts — a stand-alone script (plain
 * Node, no build, no dependencies) used by the runbooks, by the Kubernetes overlays' resource requests and by
 * test/deploy (which checks the overlays against it and the estimate against measured peaks).
 *
 *   node deploy/sizing.mjs --n 5000 [--genotyped 5200] [--threads 8] [--block 128]
 *
 * The model (bytes; n = analysed samples, N = genotyped samples, t = worker threads, b = SNPs per block):
 *   coordinator = BASE + 8·N²            kinship accumulated over all genotyped samples (GEMMA -gk)
 *                      + 4·8·n²          K restricted and centred, the eigenvector matrix U, LAPACK dsyevd's
 *                                        workspace (≈ 2 n² doubles) — U is then encoded (another n²) for workers
 *                      + 2·8·b·N         double-buffered genotype blocks while the kinship is accumulated
 *   worker      = BASE + THREAD·t
 *                      + 2·8·n²          U (the null model) and, while it streams in, its received chunks
 *                      + 2·(t+2)·8·b·n   genotype blocks and their rotations Uᵀx in flight (t threads + 2)
 * with BASE = 256 MiB (Node, V8 heap, native addon, gRPC) and THREAD = 32 MiB per scanning thread.
 *
 * Calibrated with /usr/bin/time -v (maximum RSS) on this repository's data (2-core VM, native backend):
 *   n = 1410, N = 1940 (mouse_hs1940): coordinator 263 MB (estimate 366 MB), worker (1 thread) 231 MB (estimate 342 MB)
 *   n = 2000, N = 2000 (sim_large):    coordinator 302 MB (estimate 433 MB), worker (1 thread) 293 MB (estimate 378 MB)
 *   n = 5000, N = 5000 (synthetic):    coordinator 905 MB (estimate 1279 MB), worker (1 thread) 507 MB (estimate 733 MB)
 * so the estimate is an upper bound with 25–40 % headroom; use it as the memory request (and limit).
 */

export const MiB = 1024 * 1024;
export const BASE = 256 * MiB;
export const THREAD = 32 * MiB;
export const DEFAULT_BLOCK = 128;

/** Peak bytes of `gwasgrid coordinator` (MLM) for n analysed and N genotyped samples. */
export function coordinatorBytes({ n, genotyped = n, block = DEFAULT_BLOCK }) {
  return BASE + 8 * genotyped * genotyped + 4 * 8 * n * n + 2 * 8 * block * genotyped;
}

/** Peak bytes of one `gwasgrid worker` with `threads` scanning threads. */
export function workerBytes({ n, threads = 1, block = DEFAULT_BLOCK }) {
  return BASE + THREAD * threads + 2 * 8 * n * n + 2 * (threads + 2) * 8 * block * n;
}

/** A Kubernetes quantity rounded up: whole Gi from 4 Gi on, else whole multiples of 64 Mi. */
export function quantity(bytes) {
  if (bytes >= 4 * 1024 * MiB) return `${Math.ceil(bytes / (1024 * MiB))}Gi`;
  return `${Math.ceil(bytes / (64 * MiB)) * 64}Mi`;
}

/** SLURM --mem value (MiB, rounded up to 64). */
export function slurmMem(bytes) {
  return `${Math.ceil(bytes / (64 * MiB)) * 64}M`;
}

/** Everything the runbooks print for one configuration. */
export function sizing(opts) {
  const c = coordinatorBytes(opts);
  const w = workerBytes(opts);
  return {
    coordinator: { bytes: c, k8s: quantity(c), slurm: slurmMem(c) },
    worker: { bytes: w, k8s: quantity(w), slurm: slurmMem(w) },
  };
}

function parseArgs(argv) {
  const opts = { n: NaN, genotyped: undefined, threads: 1, block: DEFAULT_BLOCK };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => Number(inline ?? argv[++i]);
    if (flag === '--n') opts.n = value();
    else if (flag === '--genotyped') opts.genotyped = value();
    else if (flag === '--threads') opts.threads = value();
    else if (flag === '--block') opts.block = value();
    else if (flag === '--help' || flag === '-h') return null;
    else throw new Error(`unknown flag ${argv[i]}`);
  }
  if (argv.length === 0) return null;
  for (const [k, v] of Object.entries(opts)) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`--${k} must be a whole number ≥ 1`);
  }
  return opts;
}

const USAGE = `usage: node deploy/sizing.mjs --n ANALYSED [--genotyped N] [--threads T] [--block B]
Peak memory of the coordinator and of one worker of a distributed MLM (see the comment at the top of this file).
  --n          analysed samples (phenotyped, with covariates)
  --genotyped  samples in the genotype file (default: --n)
  --threads    scanning threads per worker (default 1)
  --block      SNPs per block (default ${DEFAULT_BLOCK})
example: node deploy/sizing.mjs --n 20000 --threads 8`;

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    if (!opts) {
      console.log(USAGE);
      process.exit(process.argv.length > 2 ? 0 : 2);
    }
    const s = sizing(opts);
    const gb = (b) => `${(b / 1e9).toFixed(2)} GB`;
    console.log(`n = ${opts.n}, genotyped = ${opts.genotyped ?? opts.n}, ${opts.threads} thread(s) per worker, blocks of ${opts.block} SNPs`);
    console.log(`coordinator: ${gb(s.coordinator.bytes)}  (Kubernetes memory: ${s.coordinator.k8s}, SLURM --mem=${s.coordinator.slurm})`);
    console.log(`worker:      ${gb(s.worker.bytes)}  (Kubernetes memory: ${s.worker.k8s}, SLURM --mem=${s.worker.slurm})`);
  } catch (e) {
    console.error(`sizing: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
}
