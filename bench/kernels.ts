/**
 * `npm run bench:kernels`: GFLOP/s of the kinship (syrkT, n²·k flops) and rotation (gemm, 2·m·n·k flops)
 * kernels at n = 2000 for every available backend, and symmetric eigendecomposition seconds at n = 1000, 2000
 * and 4000 (native: LAPACKE dsyevd; wasm: its own SIMD Householder + QL, shared/linalg/wasm/eigen.ts; ts: the
 * plain-TypeScript reference, skipped at 4000 unless --full: about 3 minutes). Best of --reps (default 2); a
 * size whose first run takes over 20 s is not repeated. Prints the machine's SIMD level so readers can relate the
 * numbers to its peak (PERFORMANCE.md: AVX-512 FMA ≈ 112 GFLOP/s on the 2-vCPU Zen 5 VMs; AVX2 FMA ≈ 47 on Zen 3).
 */
import { readFileSync } from 'node:fs';
import { selectBackend } from '../shared/linalg/select.js';
import type { LinalgBackend } from '../shared/linalg/backend.js';

const args = process.argv.slice(2);
const reps = Number(args[args.indexOf('--reps') + 1] || 2) || 2;
const full = args.includes('--full');

function rand(len: number, seed: number): Float64Array {
  let a = seed >>> 0;
  return Float64Array.from({ length: len }, () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 2 ** 32 - 0.5;
  });
}

function kinshipLike(n: number, m: number): Float64Array {
  const Z = rand(m * n, 7);
  const K = new Float64Array(n * n);
  // K = ZᵀZ/m, symmetric positive semi-definite like a relatedness matrix.
  for (let s = 0; s < m; s++)
    for (let i = 0; i < n; i++) {
      const zi = Z[s * n + i] / m;
      if (zi === 0) continue;
      for (let j = 0; j < n; j++) K[i * n + j] += zi * Z[s * n + j];
    }
  return K;
}

async function best(fn: () => Promise<void>, once = 0): Promise<number> {
  let b = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await fn();
    b = Math.min(b, (performance.now() - t) / 1000);
    if (once > 0 && b > once) break;
  }
  return b;
}

const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
const isa = flags.includes(' avx512f') ? 'AVX-512' : flags.includes(' avx2') ? 'AVX2+FMA' : 'baseline';
const model = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:(.*)$/m)?.[1]?.trim();
console.log(`machine: ${model}, SIMD ${isa}; node ${process.version}; best of ${reps}`);

const backends: LinalgBackend[] = [];
for (const name of ['native', 'wasm', 'ts'] as const) {
  try {
    backends.push((await selectBackend(name)).backend);
  } catch (e) {
    console.log(`${name}: not available (${(e as Error).message})`);
  }
}

const n = 2000;
const k = 4000;
const m = 1000;
const A = rand(k * n, 1);
const X = rand(m * n, 2);
const U = rand(n * n, 3);
console.log('\n| backend | syrkT n=2000 k=4000 GFLOP/s | gemm 1000×2000·2000×2000 GFLOP/s |');
console.log('|---|---|---|');
for (const b of backends) {
  const C = new Float64Array(n * n);
  const R = new Float64Array(m * n);
  const small = b.name === 'ts';
  // The ts kernels are ~30× slower: time a quarter of the work and scale the flop count accordingly.
  const kk = small ? k / 4 : k;
  const mm = small ? m / 4 : m;
  const tS = await best(() => b.syrkT(n, kk, A.subarray(0, kk * n), C, 0));
  const tG = await best(() => b.gemm(mm, n, n, X.subarray(0, mm * n), U, R.subarray(0, mm * n), 0));
  console.log(`| ${b.detail} | ${((n * n * kk) / tS / 1e9).toFixed(1)} | ${((2 * mm * n * n) / tG / 1e9).toFixed(1)} |`);
}

console.log('\n| backend | eigen n=1000 s | n=2000 s | n=4000 s |');
console.log('|---|---|---|---|');
const mats = new Map<number, Float64Array>();
for (const size of [1000, 2000, 4000]) mats.set(size, kinshipLike(size, 300));
for (const b of backends) {
  const cells: string[] = [];
  for (const size of [1000, 2000, 4000]) {
    if (b.name === 'ts' && size === 4000 && !full) {
      cells.push('(skipped; --full)');
      continue;
    }
    const t = await best(async () => {
      await b.syev(size, Float64Array.from(mats.get(size)!));
    }, 20);
    cells.push(t.toFixed(2));
  }
  console.log(`| ${b.name} | ${cells.join(' | ')} |`);
}
