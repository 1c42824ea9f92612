// GFLOP/s of the wasm kernels, both builds: `node shared/linalg/wasm/bench.mjs [--reps 3] [--dist dir]`.
//
//   syrkT  n = 2000, k = 4000   (C ← AᵀA, flops n²·k)
//   gemm   m = 1000, k = n = 2000 (C ← A·B, flops 2·m·n·k)
//
// "kernel" times the wasm exports on operands already in linear memory; "backend" times loadWasmBackend()
// from the compiled TypeScript (dist/shared/linalg/wasm.js, after `npm run build`), copies included.
// Reports the minimum over the repetitions (the machine is shared).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import v8 from 'node:v8';
import { performance } from 'node:perf_hooks';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const reps = Number(arg('--reps', '3'));
const dist = path.resolve(arg('--dist', path.join(here, '..', '..', '..', 'dist')));
const WA = globalThis.WebAssembly;

const SY = { n: 2000, k: 4000 };
const GE = { m: 1000, n: 2000, k: 2000 };
const syFlops = SY.n * SY.n * SY.k;
const geFlops = 2 * GE.m * GE.n * GE.k;

function random(len, seed) {
  const x = new Float64Array(len);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    x[i] = s / 2147483648 - 1;
  }
  return x;
}

async function best(fn) {
  let t = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    t = Math.min(t, performance.now() - t0);
  }
  return t / 1000;
}

const fmt = (flops, s) => `${(flops / s / 1e9).toFixed(1).padStart(5)} GFLOP/s (${(s * 1000).toFixed(0)} ms)`;

const relaxedBytes = readFileSync(path.join(here, 'kernels-relaxed.wasm'));
if (!WA.validate(relaxedBytes)) {
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // plain SIMD only
  }
}

const A = random(SY.k * SY.n, 1);
const GA = random(GE.m * GE.k, 2);
const GB = random(GE.k * GE.n, 3);

console.log(`node ${process.version}, ${reps} repetitions, minimum time`);
for (const variant of ['simd', 'relaxed']) {
  const bytes = readFileSync(path.join(here, `kernels-${variant}.wasm`));
  if (!WA.validate(bytes)) {
    console.log(`${variant}: does not validate in this runtime, skipped`);
    continue;
  }
  const { instance } = await WA.instantiate(bytes, {});
  const ex = instance.exports;
  const al = (x) => Math.ceil(x / 64) * 64;
  const work = al(ex.heapBase());
  let at = al(work + ex.workBytes());
  const place = (len) => {
    const p = at;
    at = al(at + len * 8);
    return p;
  };
  const pZ = place(SY.k * SY.n);
  const pS = place(SY.n * SY.n);
  const pA = place(GE.m * GE.k);
  const pB = place(GE.k * GE.n);
  const pC = place(GE.m * GE.n);
  ex.memory.grow(Math.ceil((at - ex.memory.buffer.byteLength) / 65536));
  const mem = new Float64Array(ex.memory.buffer);
  mem.set(A, pZ / 8);
  mem.set(GA, pA / 8);
  mem.set(GB, pB / 8);
  const tSy = await best(() => ex.gemmTN(SY.n, SY.n, SY.k, pZ, SY.n, pZ, SY.n, pS, SY.n, 0, 1, work));
  const tGe = await best(() => ex.gemm(GE.m, GE.n, GE.k, pA, GE.k, pB, GE.n, pC, GE.n, 0, work));
  console.log(`${variant.padEnd(7)} kernel   syrkT ${fmt(syFlops, tSy)}   gemm ${fmt(geFlops, tGe)}`);
}

const distWasm = path.join(dist, 'shared', 'linalg', 'wasm.js');
if (existsSync(distWasm)) {
  const { loadWasmBackend, wasmSupport } = await import(pathToFileURL(distWasm).href);
  const support = wasmSupport();
  for (const variant of ['simd', 'relaxed']) {
    if (!support[variant]) continue;
    const be = await loadWasmBackend({ variant });
    const K = new Float64Array(SY.n * SY.n);
    const C = new Float64Array(GE.m * GE.n);
    const tSy = await best(() => be.syrkT(SY.n, SY.k, A, K, 0));
    const tGe = await best(() => be.gemm(GE.m, GE.n, GE.k, GA, GB, C, 0));
    console.log(`${variant.padEnd(7)} backend  syrkT ${fmt(syFlops, tSy)}   gemm ${fmt(geFlops, tGe)}`);
  }
} else {
  console.log(
    `(no ${path.relative(process.cwd(), distWasm)}: build first for the end-to-end "backend" rows)`,
  );
}
