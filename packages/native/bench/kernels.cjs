#!/usr/bin/env node
// Micro-benchmark of the native kernels:
//   syrkT  C(n×n) += Aᵀ·A, A k × n        GFLOP/s counted as n²·k
//   gemm   C(m×n) = A(m×k)·B(k×n)          GFLOP/s counted as 2·m·n·k   (rotation: m SNPs, k = n samples)
//   syev   seconds for a kinship-like (double-centred, rank-deficient) n × n matrix
// Usage: node bench/kernels.cjs [--n 2000] [--k 4000] [--reps 3] [--threads 1,2] [--isa avx2,generic]
//                               [--eigen 1000,2000] [--solver auto,own]
// Reports the minimum wall time over the repetitions (the machine may be shared).
'use strict';

const { binding, variant, reason } = require('..');

if (!binding) {
  console.log(`native addon unavailable: ${reason}`);
  process.exit(0);
}

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}
const list = (s) => s.split(',').filter(Boolean);

const info = binding.info();
const n = Number(arg('n', '2000'));
const k = Number(arg('k', '4000'));
const reps = Number(arg('reps', '3'));
const threadList = list(arg('threads', '1,2'))
  .map(Number)
  .filter((t, i, a) => a.indexOf(t) === i);
const isas = list(arg('isa', info.isa));
const eigenSizes = list(arg('eigen', '1000,2000')).map(Number);
const solvers = list(arg('solver', info.lapacke ? 'auto,own' : 'auto'));

let seed = 0x9e3779b9;
function rnd() {
  // xorshift32, uniform in [-0.5, 0.5)
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296 - 0.5;
}
const randomArray = (len) => {
  const a = new Float64Array(len);
  for (let i = 0; i < len; i++) a[i] = rnd();
  return a;
};

function best(fn) {
  let t = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    t = Math.min(t, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return t;
}

console.log(
  `@gwasgrid/native: isa ${info.isa} of [${info.supportedIsas}], lapacke ${info.lapacke}, ` +
    `tile ${info.tile.mr}x${info.tile.nr} (mc ${info.tile.mc}, kc ${info.tile.kc}, nc ${info.tile.nc}), ` +
    `default threads ${info.defaultThreads}, openblas threads ${info.openblasThreads}; built ${variant ? variant.builtAt : '?'}`,
);

const A = randomArray(k * n);
const C = new Float64Array(n * n);
const U = randomArray(n * n);
const R = new Float64Array(k * n);
for (const isa of isas) {
  if (!binding.setIsa(isa)) {
    console.log(`isa ${isa}: not supported on this CPU`);
    continue;
  }
  for (const threads of threadList) {
    const ts = best(() => binding.syrkTSync(n, k, A, C, 0, threads));
    const tg = best(() => binding.gemmSync(k, n, n, A, U, R, 0, threads));
    console.log(
      `isa ${isa.padEnd(7)} threads ${threads}: syrkT n=${n} k=${k}: ${ts.toFixed(3)} s, ` +
        `${((n * n * k) / ts / 1e9).toFixed(1)} GFLOP/s | gemm m=${k} n=${n} k=${n}: ${tg.toFixed(3)} s, ` +
        `${((2 * k * n * n) / tg / 1e9).toFixed(1)} GFLOP/s`,
    );
  }
}
binding.setIsa(info.isa);

function kinship(size) {
  // K = Zᵀ Z / r of r = size / 2 random SNP rows, double-centred (rank ≤ r − 1, one exact zero eigenvalue).
  const r = Math.max(2, Math.floor(size / 2));
  const Z = randomArray(r * size);
  const K = new Float64Array(size * size);
  binding.syrkTSync(size, r, Z, K, 0);
  const mean = new Float64Array(size);
  let all = 0;
  for (let i = 0; i < size; i++) {
    let s = 0;
    for (let j = 0; j < size; j++) s += K[i * size + j];
    mean[i] = s / size;
    all += mean[i];
  }
  all /= size;
  for (let i = 0; i < size; i++)
    for (let j = 0; j < size; j++) K[i * size + j] = (K[i * size + j] - mean[i] - mean[j] + all) / r;
  return K;
}

for (const size of eigenSizes) {
  const K = kinship(size);
  const w = new Float64Array(size);
  for (const solver of solvers) {
    let used = '';
    const t = best(() => {
      const a = K.slice();
      used = binding.syevSync(size, a, w, 0, solver);
    });
    console.log(`syev n=${size} (${used}): ${t.toFixed(3)} s`);
  }
}
