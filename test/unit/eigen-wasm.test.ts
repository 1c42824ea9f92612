/**
 * The wasm eigensolver (shared/linalg/wasm/eigen.ts through loadWasmBackend().syev), both builds, against the
 * plain-TypeScript reference (tsSyev), the native dsyevd where the addon is built, and GEMMA's eigenvalues of
 * the mouse_hs1940 CD8 kinship.
 *
 * Tolerances (named below): eigenvalues within EIG_TOL = 1e-10 of the reference, relative to the largest
 * |eigenvalue|; reconstruction ‖A − U S Uᵀ‖_F / ‖A‖_F ≤ REC_TOL = 1e-12; orthonormality max |UᵀU − I| ≤
 * ORTH_TOL = 1e-12. Eigenvectors of repeated eigenvalues are not unique, so vectors are never compared column by
 * column: where a cluster is known, its projector U_c U_cᵀ is compared with the reference's (≤ 1e-10).
 */
import { loadWasmBackend, wasmSupport, type WasmBackend, type WasmVariant } from '../../shared/linalg/wasm.js';
import { tsSyev } from '../../shared/linalg/ts.js';
import { isNativeUnavailable, loadNativeBackend } from '../../shared/linalg/native.js';
import type { EigenResult } from '../../shared/linalg/backend.js';
import { readKinship } from '../../shared/kinship/io.js';
import { doubleCentre, subMatrix } from '../../shared/kinship/kinship.js';
import { openGenotypes, loadSamples } from '../../shared/methods/inputs.js';
import { memoryLogger } from '../../shared/log.js';
import { bfilePath, dataPath } from '../helpers/data.js';
import { readFileSync } from 'node:fs';
import { seeded } from '../helpers/random.js';

const EIG_TOL = 1e-10;
const REC_TOL = 1e-12;
const ORTH_TOL = 1e-12;
/** GEMMA prints eigenvalues to 10 significant digits (and zeroes those below 1e-10). */
const GEMMA_EIG_TOL = 1e-9;

const nativeLoaded = loadNativeBackend();
const native = isNativeUnavailable(nativeLoaded) ? null : nativeLoaded;
if (!native) console.log(`eigen-wasm: native comparison skipped (${(nativeLoaded as { unavailable: string }).unavailable})`);

function randomSymmetric(n: number, seed: number): Float64Array {
  const r = seeded(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      const x = r();
      a[i * n + j] = x;
      a[j * n + i] = x;
    }
  return a;
}

/** A random orthogonal matrix (modified Gram–Schmidt on a random square matrix; columns orthonormal). */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const r = seeded(seed);
  const q = Float64Array.from({ length: n * n }, () => r());
  for (let j = 0; j < n; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let d = 0;
        for (let i = 0; i < n; i++) d += q[i * n + k] * q[i * n + j];
        for (let i = 0; i < n; i++) q[i * n + j] -= d * q[i * n + k];
      }
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += q[i * n + j] ** 2;
    s = Math.sqrt(s);
    for (let i = 0; i < n; i++) q[i * n + j] /= s;
  }
  return q;
}

/** Q diag(values) Qᵀ, symmetrised exactly. */
function withSpectrum(values: number[], seed: number): Float64Array {
  const n = values.length;
  const q = randomOrthogonal(n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] * values[k] * q[j * n + k];
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  return a;
}

/** ‖A − U S Uᵀ‖_F / ‖A‖_F and max |UᵀU − I| (naive O(n³); for the small matrices). */
function invariants(n: number, a: Float64Array, { values, vectors: u }: EigenResult): { rec: number; orth: number } {
  let num = 0;
  let den = 0;
  let orth = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let x = 0;
      let o = 0;
      for (let k = 0; k < n; k++) {
        x += u[i * n + k] * values[k] * u[j * n + k];
        o += u[k * n + i] * u[k * n + j];
      }
      num += (a[i * n + j] - x) ** 2;
      den += a[i * n + j] ** 2;
      orth = Math.max(orth, Math.abs(o - (i === j ? 1 : 0)));
    }
  }
  return { rec: den === 0 ? Math.sqrt(num) : Math.sqrt(num / den), orth };
}

/** Largest |Δλ| relative to max |λ| (absolute when the spectrum is zero). */
function eigDeviation(got: Float64Array, want: ArrayLike<number>): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  return scale === 0 ? worst : worst / scale;
}

/** Largest entry of the difference of the projectors onto columns [from, to) of two eigenbases. */
function projectorDeviation(n: number, u: Float64Array, v: Float64Array, from: number, to: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let p = 0;
      let q = 0;
      for (let k = from; k < to; k++) {
        p += u[i * n + k] * u[j * n + k];
        q += v[i * n + k] * v[j * n + k];
      }
      worst = Math.max(worst, Math.abs(p - q));
    }
  return worst;
}

function ascending(values: Float64Array): boolean {
  for (let i = 1; i < values.length; i++) if (!(values[i] >= values[i - 1])) return false;
  return true;
}

const support = wasmSupport();
const variants: WasmVariant[] = [];
if (support.simd) variants.push('simd');
if (support.relaxed) variants.push('relaxed');

describe.each(variants)('wasm %s eigensolver', (variant) => {
  let be: WasmBackend;
  beforeAll(async () => {
    be = await loadWasmBackend({ variant });
  });

  /** Runs the wasm solver and checks the invariants, A unchanged, ascending order, and the references. */
  async function check(n: number, a: Float64Array, what: string): Promise<EigenResult> {
    const input = a.slice();
    const got = await be.syev(n, input);
    expect(Array.from(input), `${what}: A unchanged`).toEqual(Array.from(a));
    expect(got.values.length).toBe(n);
    expect(got.vectors.length).toBe(n * n);
    expect(ascending(got.values), `${what}: ascending`).toBe(true);
    const { rec, orth } = invariants(n, a, got);
    expect(rec, `${what}: reconstruction`).toBeLessThanOrEqual(REC_TOL);
    expect(orth, `${what}: orthonormality`).toBeLessThanOrEqual(ORTH_TOL);
    const ts = tsSyev(n, a.slice());
    expect(eigDeviation(got.values, ts.values), `${what}: eigenvalues vs ts`).toBeLessThanOrEqual(EIG_TOL);
    if (native) {
      const nat = await native.syev(n, a.slice());
      expect(eigDeviation(got.values, nat.values), `${what}: eigenvalues vs native`).toBeLessThanOrEqual(EIG_TOL);
    }
    return got;
  }

  test('n = 1 and n = 2 are exact', async () => {
    const one = await check(1, Float64Array.of(-3.5), 'n=1');
    expect(Array.from(one.values)).toEqual([-3.5]);
    expect(Math.abs(one.vectors[0])).toBe(1);
    // [[2, 1], [1, 2]]: eigenvalues 1 and 3.
    const two = await check(2, Float64Array.of(2, 1, 1, 2), 'n=2');
    expect(two.values[0]).toBeCloseTo(1, 14);
    expect(two.values[1]).toBeCloseTo(3, 14);
    // Already diagonal 2 × 2 (zero off-diagonal: no reflector, no rotation).
    const diag2 = await check(2, Float64Array.of(5, 0, 0, -1), 'diag n=2');
    expect(Array.from(diag2.values)).toEqual([-1, 5]);
  });

  test('random symmetric matrices of odd and even sizes (8-wide strips, tails, several WY blocks)', async () => {
    for (const n of [3, 4, 7, 8, 9, 17, 33, 64, 70, 131]) await check(n, randomSymmetric(n, 100 + n), `random n=${n}`);
  });

  test('a diagonal matrix: its sorted diagonal, unit vectors (up to sign)', async () => {
    const d = [3, -1, 0, 7, 2, 2, -5, 0.5, 11, 0];
    const n = d.length;
    const a = new Float64Array(n * n);
    d.forEach((x, i) => (a[i * n + i] = x));
    const got = await check(n, a, 'diagonal');
    expect(Array.from(got.values)).toEqual([...d].sort((x, y) => x - y));
  });

  test('the zero matrix and a rank-one matrix', async () => {
    const zero = await check(6, new Float64Array(36), 'zero');
    expect(Array.from(zero.values)).toEqual([0, 0, 0, 0, 0, 0]);
    const n = 40;
    const x = Float64Array.from({ length: n }, seeded(9));
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = x[i] * x[j];
    const got = await check(n, a, 'rank one');
    const norm2 = x.reduce((s, v) => s + v * v, 0);
    expect(Math.abs(got.values[n - 1] - norm2) / norm2).toBeLessThan(1e-13);
  });

  test('repeated eigenvalues: the clusters span the same subspaces as the reference', async () => {
    // 60 eigenvalues in clusters (multiplicities 20, 15, 1, 10, 14), the largest cluster at zero, as in a kinship.
    const spectrum = [
      ...Array<number>(20).fill(0),
      ...Array<number>(15).fill(1),
      2.5,
      ...Array<number>(10).fill(4),
      ...Array<number>(14).fill(-2),
    ];
    const n = spectrum.length;
    const a = withSpectrum(spectrum, 4242);
    const got = await check(n, a, 'clusters');
    const want = [...spectrum].sort((x, y) => x - y);
    expect(eigDeviation(got.values, want)).toBeLessThanOrEqual(EIG_TOL);
    const ts = tsSyev(n, a.slice());
    let from = 0;
    while (from < n) {
      let to = from + 1;
      while (to < n && want[to] === want[from]) to++;
      const dev = projectorDeviation(n, got.vectors, ts.vectors, from, to);
      expect(dev, `projector of the cluster at ${want[from]} (×${to - from})`).toBeLessThanOrEqual(1e-10);
      from = to;
    }
  });

  test('a non-finite entry is refused at the door, naming it', async () => {
    const a = randomSymmetric(5, 1);
    a[7] = NaN;
    a[5 + 2 * 5 + 1] = NaN;
    await expect(be.syev(5, a)).rejects.toThrow(/A\[1, 2\] = NaN is not finite/);
    a.fill(0)[24] = -Infinity;
    await expect(be.syev(5, a)).rejects.toThrow(/A\[4, 4\] = -Infinity/);
  });
});

describe('wasm eigensolver on a real kinship (mouse_hs1940 cXX, GEMMA 0.98.5)', () => {
  let K: Float64Array;
  let analysed: Int32Array;
  beforeAll(async () => {
    K = await readKinship(dataPath('mouse_hs1940', 'reference', 'mouse_hs1940.cXX.txt.gz'), 1940);
    const spec = { bfile: bfilePath('mouse_hs1940', 'mouse_hs1940'), phenoCol: 1 };
    const geno = await openGenotypes(spec);
    try {
      analysed = (await loadSamples(geno, spec, memoryLogger())).analysed;
    } finally {
      await geno.close();
    }
  });

  test.each(variants)('%s: a 300-sample principal submatrix matches ts (and native) and reconstructs', async (variant) => {
    const be = await loadWasmBackend({ variant });
    const n = 300;
    const idx = Int32Array.from({ length: n }, (_, i) => i * 6);
    const a = subMatrix(K, 1940, idx);
    const got = await be.syev(n, a.slice());
    const { rec, orth } = invariants(n, a, got);
    const ts = tsSyev(n, a.slice());
    const dTs = eigDeviation(got.values, ts.values);
    console.log(`[eigen-wasm ${variant}] kinship n=300: eigenvalues vs ts ${dTs.toExponential(2)}, rec ${rec.toExponential(2)}, orth ${orth.toExponential(2)}`);
    expect(dTs).toBeLessThanOrEqual(EIG_TOL);
    expect(rec).toBeLessThanOrEqual(REC_TOL);
    expect(orth).toBeLessThanOrEqual(ORTH_TOL);
    if (native) expect(eigDeviation(got.values, (await native.syev(n, a.slice())).values)).toBeLessThanOrEqual(EIG_TOL);
  });

  // One build only (the default one): the two builds differ only in fused vs separate multiply-adds.
  test('the CD8 double-centred kinship (n = 1410) gives GEMMA\'s eigenvalues', async () => {
    const be = await loadWasmBackend();
    const variant = be.variant;
    const n = analysed.length;
    expect(n).toBe(1410);
    const a = subMatrix(K, 1940, analysed);
    doubleCentre(a, n);
    const got = await be.syev(n, a.slice());
    // GEMMA zeroes eigenvalues below 1e-10; its file has 10 significant digits.
    const gemma = readFileSync(dataPath('mouse_hs1940', 'reference', 'mouse_hs1940.CD8.eigenD.txt'), 'utf8')
      .trim()
      .split('\n')
      .map(Number);
    const ours = Array.from(got.values, (x) => (x < 1e-10 ? 0 : x));
    const dGemma = eigDeviation(Float64Array.from(ours), gemma);
    // Reconstruction and orthonormality with the backend's own products (checked against naive ones elsewhere).
    const us = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) us[i * n + k] = got.vectors[i * n + k] * got.values[k];
    const ut = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) ut[k * n + i] = got.vectors[i * n + k];
    const r = new Float64Array(n * n);
    await be.gemm(n, n, n, us, ut, r, 0);
    let num = 0;
    let den = 0;
    for (let i = 0; i < n * n; i++) {
      num += (a[i] - r[i]) ** 2;
      den += a[i] ** 2;
    }
    const utu = new Float64Array(n * n);
    await be.syrkT(n, n, got.vectors, utu, 0);
    let orth = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) orth = Math.max(orth, Math.abs(utu[i * n + j] - (i === j ? 1 : 0)));
    const rec = Math.sqrt(num / den);
    let dNative = NaN;
    if (native) dNative = eigDeviation(got.values, (await native.syev(n, a.slice())).values);
    console.log(
      `[eigen-wasm ${variant}] CD8 kinship n=${n}: vs GEMMA ${dGemma.toExponential(2)}, vs native ${dNative.toExponential(2)}, ` +
        `rec ${rec.toExponential(2)}, orth ${orth.toExponential(2)}`,
    );
    expect(dGemma).toBeLessThanOrEqual(GEMMA_EIG_TOL);
    if (native) expect(dNative).toBeLessThanOrEqual(EIG_TOL);
    expect(rec).toBeLessThanOrEqual(REC_TOL);
    expect(orth).toBeLessThanOrEqual(ORTH_TOL);
  });
});
