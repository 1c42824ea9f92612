/**
 * The WebAssembly Gram accumulation (`shared/lmm/gram-wasm.ts`) against the generated JavaScript kernel of
 * `likelihood.ts`, on seeded random data, both wasm builds: every G entry, Σd and Σd² within 1e-13 relative (the
 * two differ only in summation order and, in the relaxed build, fused multiply-adds; entries whose sum cancels
 * by more than 100× are held to 1e-14·Σ|terms| instead), XᵀX bit-identical, log|H| as accurate as the
 * JavaScript kernel's against a compensated log1p sum; then REML/ML values and derivatives of whole likelihoods
 * on both paths within 1e-12, the GWASGRID_GRAM switch, and the wasm path inside a worker thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { accumulator, LmmLikelihood, packedSize, type Derivs } from '../../shared/lmm/likelihood.js';
import { createWasmGram, gramWasmSupport, type GramVariant } from '../../shared/lmm/gram-wasm.js';
import { normal, rng } from '../helpers/random.js';

const support = gramWasmSupport();
const variants = (['relaxed', 'simd'] as GramVariant[]).filter((v) => support[v]);

/** Eigenvalues like a kinship's (spread over decades, some exactly 0) and V random columns. */
function data(n: number, v: number, seed: number) {
  const r = rng(seed);
  const s = Float64Array.from({ length: n }, (_, k) => (k % 7 === 3 ? 0 : Math.exp(3 * normal(r))));
  const cols = Array.from({ length: v }, (_, a) =>
    Float64Array.from({ length: n }, () => (a === 0 ? 1 + 0.1 * normal(r) : normal(r) + 0.3 * a)),
  );
  return { s, cols };
}

/** The JavaScript path's products (k-major) and XᵀX sums, as `LmmLikelihood.setVariables` forms them. */
function jsProducts(cols: Float64Array[], n: number) {
  const v = cols.length;
  const np = packedSize(v);
  const prod = new Float64Array(n * np);
  const unit = new Float64Array(np);
  let p = 0;
  for (let a = 0; a < v; a++)
    for (let b = a; b < v; b++) {
      let acc = 0;
      for (let k = 0; k < n; k++) {
        const x = cols[a][k] * cols[b][k];
        prod[k * np + p] = x;
        acc += x;
      }
      unit[p++] = acc;
    }
  return { prod, unit, np };
}

const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));

/** Σ_k log1p(λs_k), Neumaier-compensated: log|H| to about one rounding. */
function logDetTruth(lambda: number, s: Float64Array): number {
  let sum = 0;
  let c = 0;
  for (let k = 0; k < s.length; k++) {
    const t = Math.log1p(lambda * s[k]);
    const u = sum + t;
    c += Math.abs(sum) >= Math.abs(t) ? sum - u + t : t - u + sum;
    sum = u;
  }
  return sum + c;
}

describe.runIf(variants.length > 0)('wasm Gram accumulation vs the JavaScript kernel', () => {
  it('reports the builds it can run', () => {
    console.log(`[gram-wasm] support: ${JSON.stringify(support)}`);
    expect(support.simd).toBe(true);
  });

  for (const variant of variants)
    it(`${variant}: G₀/G₁/G₂, Σd, Σd², log|H| for np = 1, 3, 6, 10, 15, 21, 36 and n = 1, 3, 15, 17, 1409, 1410`, () => {
      let worstG = 0;
      let worstGAbs = 0;
      let worstSum = 0;
      let worstLogW = 0;
      let worstLogJ = 0;
      let cases = 0;
      let cancelling = 0;
      for (const v of [1, 2, 3, 4, 5, 6, 8]) {
        for (const n of [1, 3, 15, 17, 1409, 1410]) {
          const { s, cols } = data(n, v, 1000 * v + n);
          const { prod, unit, np } = jsProducts(cols, n);
          const gram = createWasmGram(s, v, variant)!;
          expect(gram.variant).toBe(variant);
          const unitW = new Float64Array(np);
          gram.setVariables(cols, unitW);
          expect(Array.from(unitW)).toEqual(Array.from(unit));
          const g = [new Float64Array(np), new Float64Array(np), new Float64Array(np)];
          const sumsJ = new Float64Array(3);
          const sumsW = new Float64Array(3);
          for (const lambda of [1e-5, 0.037, 1, 7.5, 1e5]) {
            // Σ|terms| of every G entry: the scale of its summation-order rounding.
            const mag = [new Float64Array(np), new Float64Array(np), new Float64Array(np)];
            for (let k = 0; k < n; k++) {
              const d = 1 / (lambda * s[k] + 1);
              for (let j = 0; j < np; j++) {
                const t = Math.abs(prod[k * np + j]);
                mag[0][j] += d * t;
                mag[1][j] += d * d * t;
                mag[2][j] += d * d * d * t;
              }
            }
            const truth = logDetTruth(lambda, s);
            for (const order of [0, 1, 2] as const) {
              for (const withLog of [false, true]) {
                accumulator(np, order, withLog)(n, lambda, s, prod, g[0], g[1], g[2], sumsJ);
                gram.accumulate(lambda, order, withLog, sumsW);
                const gw = [gram.g0, gram.g1, gram.g2];
                for (let r = 0; r <= order; r++)
                  for (let j = 0; j < np; j++) {
                    const diff = Math.abs(gw[r][j] - g[r][j]);
                    worstGAbs = Math.max(worstGAbs, diff / mag[r][j]);
                    // Relative to the entry itself unless the sum cancels by more than 100× (then only the
                    // summation-order bound below applies: any reordering moves such an entry that much).
                    if (mag[r][j] <= 100 * Math.abs(g[r][j]))
                      worstG = Math.max(worstG, rel(gw[r][j], g[r][j]));
                    else cancelling++;
                  }
                worstSum = Math.max(worstSum, rel(sumsW[0], sumsJ[0]));
                if (order >= 1) worstSum = Math.max(worstSum, rel(sumsW[1], sumsJ[1]));
                if (withLog && truth !== 0) {
                  const errW = Math.abs(sumsW[2] - truth) / Math.abs(truth);
                  const errJ = Math.abs(sumsJ[2] - truth) / Math.abs(truth);
                  // Both paths round the same h = λs + 1 (which loses the digits of λs ≪ 1: 1e-14 relative at
                  // λ = 0.037 and 1e-11 at 1e-5 here), then differ only in how the eight factors are grouped,
                  // each product of eight adding ≤ 8ε (n·ε in all) and each log and sum one rounding (ε·log|H|).
                  const bound = 4 * errJ * Math.abs(truth) + 2.3e-16 * (n + 4 * Math.abs(truth));
                  expect(errW * Math.abs(truth)).toBeLessThanOrEqual(bound);
                  if (lambda >= 1) {
                    worstLogW = Math.max(worstLogW, errW);
                    worstLogJ = Math.max(worstLogJ, errJ);
                  }
                }
                cases++;
              }
            }
          }
        }
      }
      console.log(
        `[gram-wasm] ${variant}: ${cases} cases; worst relative difference G ${worstG.toExponential(2)} ` +
          `(${cancelling} entry checks cancelling > 100× left to the bound |ΔG| ≤ ${worstGAbs.toExponential(2)}·Σ|terms|), ` +
          `Σd/Σd² ${worstSum.toExponential(2)}; worst log|H| relative error at λ ≥ 1: wasm ${worstLogW.toExponential(2)}, ` +
          `JavaScript ${worstLogJ.toExponential(2)}`,
      );
      expect(worstG).toBeLessThan(1e-13);
      expect(worstGAbs).toBeLessThan(1e-14);
      expect(worstSum).toBeLessThan(1e-13);
      expect(worstLogW).toBeLessThan(1.5 * worstLogJ + 1e-15);
    });

  it('whole likelihoods (REML/ML f, d1, d2, grid, GLS) agree between the wasm and JavaScript paths', () => {
    let worst = 0;
    for (const [n, q] of [
      [17, 1],
      [301, 2],
      [1410, 2],
      [1410, 4],
    ] as const) {
      const { s, cols } = data(n, q + 1, 77 + n + q);
      // y with a genetic-like component so that the optimum is interior.
      const r = rng(n);
      const y = cols[q];
      for (let k = 0; k < n; k++) y[k] = Math.sqrt(0.5 * s[k] + 1) * normal(r) + 0.2 * cols[0][k];
      const js = new LmmLikelihood(s, q, { gram: 'js' });
      const wa = new LmmLikelihood(s, q, { gram: 'auto' });
      expect(js.gramPath).toBe('js');
      expect(wa.gramPath).toBe(variants[0]);
      expect(js.setVariables(cols)).toBe(true);
      expect(wa.setVariables(cols)).toBe(true);
      const dj: Derivs = { f: 0, d1: 0, d2: 0 };
      const dw: Derivs = { f: 0, d1: 0, d2: 0 };
      // The derivatives are differences of O(n) traces and quadratic forms divided by λ (d1) and λ² (d2): at
      // λ = 1e-5 they amplify any rounding of the Gram sums (on either path) by 1e5 and 1e10, so there they are
      // compared relative to that scale, n/λ and n/λ², instead of their own value.
      const check = (a: number, b: number, scale = 0) => {
        expect(Number.isFinite(b)).toBe(true);
        worst = Math.max(worst, Math.abs(a - b) / Math.max(Math.abs(b), scale));
      };
      for (const l of [1e-5, 0.01, 0.3, 1, 4, 50, 1e5]) {
        const s1 = l < 0.01 ? n / l : 0;
        const s2 = l < 0.01 ? n / (l * l) : 0;
        check(wa.remlF(l), js.remlF(l));
        check(wa.mlF(l), js.mlF(l));
        check(wa.remlD1(l), js.remlD1(l), s1);
        check(wa.mlD1(l), js.mlD1(l), s1);
        js.remlD12(l, dj);
        wa.remlD12(l, dw);
        check(dw.d1, dj.d1, s1);
        check(dw.d2, dj.d2, s2);
        js.mlD12(l, dj);
        wa.mlD12(l, dw);
        check(dw.d1, dj.d1, s1);
        check(dw.d2, dj.d2, s2);
        const gj = js.gls(l);
        const gw = wa.gls(l);
        check(gw.Pyy, gj.Pyy);
        for (let i = 0; i < q; i++) check(gw.beta[i], gj.beta[i]);
      }
      const grid = Float64Array.from([1e-5, 1e-3, 0.1, 10, 1e3, 1e5]);
      const [rj, mj, rw, mw] = [0, 1, 2, 3].map(() => new Float64Array(grid.length));
      js.gridD1(grid, rj, mj);
      wa.gridD1(grid, rw, mw);
      for (let i = 0; i < grid.length; i++) {
        const s1 = grid[i] < 0.01 ? n / grid[i] : 0;
        check(rw[i], rj[i], s1);
        check(mw[i], mj[i], s1);
      }
    }
    console.log(
      `[gram-wasm] worst relative difference of likelihood values and derivatives: ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(1e-12);
  });

  it('GWASGRID_GRAM selects the path', () => {
    const saved = process.env.GWASGRID_GRAM;
    try {
      const { s } = data(9, 1, 1);
      process.env.GWASGRID_GRAM = 'js';
      expect(new LmmLikelihood(s, 1).gramPath).toBe('js');
      process.env.GWASGRID_GRAM = '';
      expect(new LmmLikelihood(s, 1).gramPath).toBe(variants[0]);
      for (const v of variants) {
        process.env.GWASGRID_GRAM = v;
        expect(new LmmLikelihood(s, 1).gramPath).toBe(v);
      }
      process.env.GWASGRID_GRAM = 'fast';
      expect(() => new LmmLikelihood(s, 1)).toThrow(/GWASGRID_GRAM/);
    } finally {
      if (saved === undefined) delete process.env.GWASGRID_GRAM;
      else process.env.GWASGRID_GRAM = saved;
    }
  });

  it('a singular XᵀX is rejected on both paths', () => {
    const n = 40;
    const { s, cols } = data(n, 3, 3);
    cols[1] = Float64Array.from(cols[0], (x) => 2 * x);
    expect(new LmmLikelihood(s, 2, { gram: 'js' }).setVariables(cols)).toBe(false);
    expect(new LmmLikelihood(s, 2, { gram: 'auto' }).setVariables(cols)).toBe(false);
  });

  const dist = fileURLToPath(new URL('../../dist/shared/lmm/likelihood.js', import.meta.url));
  it.runIf(existsSync(dist))('runs in a worker thread (compiled dist/, after npm run build)', async () => {
    const { s, cols } = data(1410, 3, 11);
    const here = new LmmLikelihood(s, 2, { gram: 'auto' });
    here.setVariables(cols);
    const expected = here.remlF(0.7);
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.url).then(({ LmmLikelihood }) => {
        const lik = new LmmLikelihood(workerData.s, 2);
        lik.setVariables(workerData.cols);
        parentPort.postMessage({ path: lik.gramPath, f: lik.remlF(0.7) });
      });`;
    const worker = new Worker(src, {
      eval: true,
      workerData: { url: new URL(`file://${dist}`).href, s, cols },
      env: { ...process.env, GWASGRID_GRAM: '' },
    });
    const msg = await new Promise<{ path: string; f: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(msg.path).toBe(here.gramPath);
    expect(rel(msg.f, expected)).toBeLessThan(1e-12);
  });
});
