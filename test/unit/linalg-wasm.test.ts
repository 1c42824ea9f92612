import {
  loadWasmBackend,
  wasmSupport,
  type WasmBackend,
  type WasmPanelLimits,
  type WasmVariant,
} from '../../shared/linalg/wasm.js';
import { seeded } from '../helpers/random.js';

function randomArray(len: number, seed: number): Float64Array {
  const r = seeded(seed);
  const x = new Float64Array(len);
  for (let i = 0; i < len; i++) x[i] = r();
  return x;
}

/**
 * Checks got ≈ beta·C0 + L·R elementwise (L rows × depth, R depth × cols, row-major), with tolerance 1e-12
 * relative to the natural error scale |beta·C0| + Σ_p |L(i,p)·R(p,j)| (so cancellation cannot make it flaky).
 */
function expectProduct(
  rows: number,
  cols: number,
  depth: number,
  left: Float64Array,
  right: Float64Array,
  c0: Float64Array,
  beta: number,
  got: Float64Array,
  what: string,
): void {
  const want = new Float64Array(rows * cols);
  const scale = new Float64Array(rows * cols);
  if (beta !== 0) {
    for (let i = 0; i < rows * cols; i++) {
      want[i] = beta * c0[i];
      scale[i] = Math.abs(want[i]);
    }
  }
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    for (let p = 0; p < depth; p++) {
      const l = left[i * depth + p];
      const rr = p * cols;
      for (let j = 0; j < cols; j++) {
        const t = l * right[rr + j];
        want[row + j] += t;
        scale[row + j] += Math.abs(t);
      }
    }
  }
  let worst = 0;
  let where = '';
  for (let i = 0; i < rows * cols; i++) {
    const rel = Math.abs(got[i] - want[i]) / (scale[i] || 1);
    if (!(rel <= worst)) {
      worst = rel;
      where = `(${Math.floor(i / cols)}, ${i % cols}) got ${got[i]} want ${want[i]}`;
    }
  }
  expect(worst, `${what}: worst relative error at ${where}`).toBeLessThanOrEqual(1e-12);
}

function transpose(rows: number, cols: number, a: Float64Array): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

const SIZES = [1, 3, 17, 33, 130, 257];
const BETAS = [0, 1];

/** Tiny panels, so that small problems run through every chunked path (k chunks, column panels, panel pairs). */
const TINY: WasmPanelLimits = { bPanel: 2000, aChunk: 700, cChunk: 900, syrkPanel: 50, syrkAChunk: 1500 };

const support = wasmSupport();
const variants: WasmVariant[] = [];
if (support.simd) variants.push('simd');
if (support.relaxed) variants.push('relaxed');
console.log(
  `wasm kernels under test: ${variants.join(', ') || 'none'} (simd ${support.simd}, relaxed ${support.relaxed})`,
);

test('this runtime has at least plain wasm SIMD (Node ≥ 16.4)', () => {
  expect(support.simd).toBe(true);
});

test('auto picks relaxed when it validates', async () => {
  const be = await loadWasmBackend();
  expect(be.name).toBe('wasm');
  expect(be.variant).toBe(support.relaxed ? 'relaxed' : 'simd');
  expect(be.detail).toMatch(support.relaxed ? /relaxed/ : /SIMD/);
});

describe.each(variants)('wasm %s kernels', (variant) => {
  let be: WasmBackend;
  let tiny: WasmBackend;
  beforeAll(async () => {
    be = await loadWasmBackend({ variant });
    tiny = await loadWasmBackend({ variant, limits: TINY });
    expect(be.variant).toBe(variant);
  });

  test('syrkT matches the naive AᵀA (odd sizes, beta 0 and 1; NaN in C ignored when beta = 0)', async () => {
    let seed = 11;
    for (const n of SIZES) {
      for (const k of SIZES) {
        for (const beta of BETAS) {
          const a = randomArray(k * n, seed++);
          const c0 = randomArray(n * n, seed++);
          if (beta === 0) c0[0] = NaN;
          const c = c0.slice();
          await be.syrkT(n, k, a, c, beta);
          expectProduct(n, n, k, transpose(k, n, a), a, c0, beta, c, `syrkT n=${n} k=${k} beta=${beta}`);
        }
      }
    }
  });

  test('gemm matches the naive A·B (all triples of odd sizes, beta 0 or 1; NaN in C ignored when beta = 0)', async () => {
    let seed = 1001;
    for (const m of SIZES) {
      for (const n of SIZES) {
        for (const k of SIZES) {
          // Beta alternates along the 216 triples, so every size meets both values many times.
          const beta = BETAS[seed % 2];
          const a = randomArray(m * k, seed++);
          const b = randomArray(k * n, seed++);
          const c0 = randomArray(m * n, seed++);
          if (beta === 0) c0[c0.length - 1] = NaN;
          const c = c0.slice();
          await be.gemm(m, n, k, a, b, c, beta);
          expectProduct(m, n, k, a, b, c0, beta, c, `gemm ${m}×${k}·${k}×${n} beta=${beta}`);
        }
      }
    }
  });

  test('chunked paths (tiny panels) give the same results, other beta, subarray views', async () => {
    let seed = 5001;
    for (const [n, k] of [
      [130, 257],
      [257, 33],
      [101, 1],
    ]) {
      for (const beta of [0, 1, 0.5]) {
        const a = randomArray(k * n, seed++);
        const c0 = randomArray(n * n, seed++);
        const c = c0.slice();
        await tiny.syrkT(n, k, a, c, beta);
        expectProduct(n, n, k, transpose(k, n, a), a, c0, beta, c, `tiny syrkT n=${n} k=${k} beta=${beta}`);
      }
    }
    for (const [m, n, k] of [
      [130, 257, 33],
      [33, 130, 257],
      [257, 17, 130],
      [5, 1000, 3],
    ]) {
      for (const beta of [0, 1, -2]) {
        // Operands as views at odd offsets into larger buffers.
        const aBuf = randomArray(m * k + 3, seed++);
        const bBuf = randomArray(k * n + 5, seed++);
        const c0 = randomArray(m * n, seed++);
        const cBuf = new Float64Array(m * n + 7);
        cBuf.set(c0, 7);
        const a = aBuf.subarray(3);
        const b = bBuf.subarray(5);
        const c = cBuf.subarray(7);
        await tiny.gemm(m, n, k, a, b, c, beta);
        expectProduct(m, n, k, a, b, c0, beta, c, `tiny gemm ${m}×${k}·${k}×${n} beta=${beta}`);
      }
    }
  });

  test('degenerate shapes: k = 0 scales C, empty m or n is a no-op', async () => {
    const c = Float64Array.from([1, 2, 3, 4]);
    await be.syrkT(2, 0, new Float64Array(0), c, 0.5);
    expect(Array.from(c)).toEqual([0.5, 1, 1.5, 2]);
    await be.gemm(2, 2, 0, new Float64Array(0), new Float64Array(0), c, 0);
    expect(Array.from(c)).toEqual([0, 0, 0, 0]);
    await be.gemm(0, 3, 2, new Float64Array(0), new Float64Array(6), new Float64Array(0), 1);
    await expect(
      be.gemm(2, 2, 2, new Float64Array(3), new Float64Array(4), new Float64Array(4), 0),
    ).rejects.toThrow(RangeError);
  });

  test('syev returns an orthonormal eigenbasis in ascending order', async () => {
    const n = 9;
    const r = randomArray(n * n, 77);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = r[i * n + j] + r[j * n + i];
    const { values, vectors } = await be.syev(n, a.slice());
    for (let j = 1; j < n; j++) expect(values[j]).toBeGreaterThanOrEqual(values[j - 1]);
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let p = 0; p < n; p++) av += a[i * n + p] * vectors[p * n + j];
        expect(Math.abs(av - values[j] * vectors[i * n + j])).toBeLessThan(1e-10);
      }
    }
  });
});
