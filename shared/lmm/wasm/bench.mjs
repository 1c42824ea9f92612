// Per-evaluation cost of the LMM Gram accumulation, JavaScript kernel vs both wasm builds:
//
//   npm run build && node shared/lmm/wasm/bench.mjs [--n 1410] [--np 6,10,15] [--rounds 30]
//
// Times one accumulation (orders 0, 1, 2, and order 0 with log|H|) on seeded data and prints ns per
// eigen-index k, plus setVariables (products and XᵀX) in ns per k. Uses the compiled TypeScript in dist/.
// The machine may be shared: the paths are alternated in short batches over many rounds and the minimum
// kept.
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const n = Number(arg('--n', '1410'));
const nps = arg('--np', '6,10,15').split(',').map(Number);
const rounds = Number(arg('--rounds', '30'));
const dist = path.resolve(arg('--dist', path.join(here, '..', '..', '..', 'dist')));
const { accumulator, packedSize, LmmLikelihood } = await import(
  pathToFileURL(path.join(dist, 'shared/lmm/likelihood.js')).href
);
const { createWasmGram, gramWasmSupport } = await import(
  pathToFileURL(path.join(dist, 'shared/lmm/gram-wasm.js')).href
);

let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 4294967296;
};
const s = Float64Array.from({ length: n }, () => Math.exp(6 * rand() - 3));
const support = gramWasmSupport();
const variants = ['simd', 'relaxed'].filter((v) => support[v]);
const batch = Math.max(20, Math.round(3e5 / n));

/** Minimum over rounds of the mean time per call of `fn` (ns), batches interleaved by the caller. */
function timer(fn) {
  for (let i = 0; i < 3 * batch; i++) fn(i);
  let best = Infinity;
  return {
    run() {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) fn(i);
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / batch);
    },
    get best() {
      return best;
    },
  };
}

console.log(
  `n = ${n}; wasm builds: ${variants.join(', ') || 'none'}; ns per k, minimum over ${rounds} rounds`,
);
for (const np of nps) {
  const v = Math.round((Math.sqrt(8 * np + 1) - 1) / 2);
  if (packedSize(v) !== np) throw new Error(`np = ${np} is not V(V+1)/2`);
  const cols = Array.from({ length: v }, () => Float64Array.from({ length: n }, () => rand() - 0.5));
  const prod = new Float64Array(n * np);
  for (let k = 0; k < n; k++) {
    let p = 0;
    for (let a = 0; a < v; a++) for (let b = a; b < v; b++) prod[k * np + p++] = cols[a][k] * cols[b][k];
  }
  const g = [new Float64Array(np), new Float64Array(np), new Float64Array(np)];
  const sums = new Float64Array(3);
  const grams = Object.fromEntries(variants.map((x) => [x, createWasmGram(s, v, x)]));
  const unit = new Float64Array(np);
  for (const x of variants) grams[x].setVariables(cols, unit);
  const rows = [];
  for (const [label, order, log] of [
    ['order 0', 0, false],
    ['order 1', 1, false],
    ['order 2', 2, false],
    ['order 0 + log', 0, true],
  ]) {
    const k = accumulator(np, order, log);
    const timers = {
      js: timer((i) => k(n, 0.5 + i * 1e-12, s, prod, g[0], g[1], g[2], sums)),
      ...Object.fromEntries(
        variants.map((x) => [x, timer((i) => grams[x].accumulate(0.5 + i * 1e-12, order, log, sums))]),
      ),
    };
    for (let r = 0; r < rounds; r++) for (const t of Object.values(timers)) t.run();
    rows.push([label, timers]);
  }
  // setVariables (products and XᵀX) of whole likelihoods on each path.
  const liks = Object.fromEntries(
    ['js', ...variants].map((x) => [x, new LmmLikelihood(s, v - 1, { gram: x })]),
  );
  const setTimers = Object.fromEntries(
    Object.entries(liks).map(([x, lik]) => [x, timer(() => lik.setVariables(cols))]),
  );
  for (let r = 0; r < rounds; r++) for (const t of Object.values(setTimers)) t.run();
  rows.push(['setVariables', setTimers]);
  for (const [label, timers] of rows) {
    const js = timers.js.best / n;
    const parts = [`js ${js.toFixed(2)}`];
    for (const x of variants) {
      const w = timers[x].best / n;
      parts.push(`${x} ${w.toFixed(2)} (${(js / w).toFixed(1)}×)`);
    }
    console.log(`np = ${String(np).padStart(2)}  ${label.padEnd(14)} ${parts.join('   ')}`);
  }
}
