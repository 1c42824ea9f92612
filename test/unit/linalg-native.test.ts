/**
 * The native backend (packages/native, shared/linalg/native.ts) against naive references on seeded data:
 * syrkT and gemm to 1e-12 relative on odd sizes for every kernel variant the CPU supports, and the
 * eigendecomposition invariants (A·V = V·D, VᵀV = I, ascending) for each available eigensolver.
 * Skipped, with the reason printed, only when the addon is not built.
 */
import {
  isNativeUnavailable,
  loadNativeBackend,
  type NativeBackend,
  type NativeEigenSolver,
  type NativeIsa,
} from '../../shared/linalg/native.js';

const loaded = loadNativeBackend();
const skipReason = isNativeUnavailable(loaded) ? loaded.unavailable : null;
if (skipReason) console.log(`linalg-native tests skipped: ${skipReason}`);
const native: NativeBackend | null = isNativeUnavailable(loaded) ? null : loaded;

/** mulberry32: a tiny seeded PRNG, uniform in [-0.5, 0.5). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

function randomArray(len: number, rnd: () => number): Float64Array {
  const a = new Float64Array(len);
  for (let i = 0; i < len; i++) a[i] = rnd();
  return a;
}

/** The naive product beta·C0 + L·R (m × n, inner k) and, per element, the sum of the terms' absolute values. */
function referenceProduct(
  m: number,
  n: number,
  k: number,
  left: (i: number, p: number) => number,
  right: (p: number, j: number) => number,
  c0: Float64Array,
  beta: number,
): { want: Float64Array; scale: Float64Array } {
  const want = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = beta === 0 ? 0 : beta * c0[i * n + j];
      let abs = Math.abs(s);
      for (let p = 0; p < k; p++) {
        const t = left(i, p) * right(p, j);
        s += t;
        abs += Math.abs(t);
      }
      want[i * n + j] = s;
      scale[i * n + j] = abs;
    }
  }
  return { want, scale };
}

/** Largest |got − want| / Σ|terms| over the elements (NaN counts as infinitely wrong). */
function relErr(got: Float64Array, ref: { want: Float64Array; scale: Float64Array }): number {
  let worst = 0;
  for (let i = 0; i < ref.want.length; i++) {
    const err = Math.abs(got[i] - ref.want[i]) / (ref.scale[i] + 1e-300);
    worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
  }
  return worst;
}

function relErrProduct(
  m: number,
  n: number,
  k: number,
  left: (i: number, p: number) => number,
  right: (p: number, j: number) => number,
  c0: Float64Array,
  beta: number,
  got: Float64Array,
): number {
  return relErr(got, referenceProduct(m, n, k, left, right, c0, beta));
}

function randomSymmetric(n: number, rnd: () => number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rnd();
  }
  return a;
}

/** Kinship-like: K = Zᵀ Z / r of r ≪ n centred SNP rows, then double-centred (rank ≤ r − 1, many zeros). */
function kinshipLike(n: number, r: number, rnd: () => number): Float64Array {
  const k = new Float64Array(n * n);
  const z = new Float64Array(n);
  for (let s = 0; s < r; s++) {
    let mean = 0;
    for (let i = 0; i < n; i++) {
      // 0/1/2 genotype-like values with a SNP-specific frequency.
      z[i] = Math.floor((rnd() + 0.5) * 3);
      mean += z[i];
    }
    mean /= n;
    for (let i = 0; i < n; i++) z[i] -= mean;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) k[i * n + j] += (z[i] * z[j]) / r;
  }
  const rowMean = new Float64Array(n);
  let all = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) rowMean[i] += k[i * n + j];
    rowMean[i] /= n;
    all += rowMean[i];
  }
  all /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) k[i * n + j] += all - rowMean[i] - rowMean[j];
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) k[j * n + i] = k[i * n + j]; // exact symmetry
  return k;
}

/**
 * Checks A·V = V·D (to 1e-10·‖A‖_F), VᵀV = I (to 1e-10) and ascending eigenvalues. For large n only a spread
 * of columns j (the first and last 8 and every 8th) is checked — against all rows, and for orthogonality
 * against all other eigenvectors — so the JS reference stays cheap.
 */
function checkEigen(n: number, a: Float64Array, values: Float64Array, vectors: Float64Array): void {
  const cols: number[] = [];
  for (let j = 0; j < n; j++) if (n <= 256 || j < 8 || j >= n - 8 || j % 8 === 0) cols.push(j);
  let norm = 0;
  for (const x of a) norm += x * x;
  norm = Math.sqrt(norm);
  let resid = 0;
  let orth = 0;
  const v = new Float64Array(n);
  for (const j of cols) {
    for (let i = 0; i < n; i++) v[i] = vectors[i * n + j];
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let p = 0; p < n; p++) s += a[i * n + p] * v[p];
      resid = Math.max(resid, Math.abs(s - v[i] * values[j]));
    }
    // (Vᵀ v_j)[q] = Σ_i V[i][q] v_j[i], accumulated row by row.
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const vi = v[i];
      const ro = i * n;
      for (let q = 0; q < n; q++) g[q] += vectors[ro + q] * vi;
    }
    for (let q = 0; q < n; q++) orth = Math.max(orth, Math.abs(g[q] - (q === j ? 1 : 0)));
  }
  expect(resid).toBeLessThanOrEqual(1e-10 * Math.max(norm, 1e-300));
  expect(orth).toBeLessThanOrEqual(1e-10);
  for (let j = 1; j < n; j++) expect(values[j]).toBeGreaterThanOrEqual(values[j - 1]);
  for (const x of values) expect(Number.isFinite(x)).toBe(true);
}

function backendFor(isa: NativeIsa, eigenSolver: NativeEigenSolver = 'auto'): NativeBackend {
  const b = loadNativeBackend({ isa, eigenSolver });
  if (isNativeUnavailable(b)) throw new Error(b.unavailable);
  return b;
}

describe.skipIf(!native)('native backend (@gwasgrid/native)', () => {
  const info = native ? native.info : null;
  const isas: NativeIsa[] = info ? info.supportedIsas : [];

  it('describes itself', () => {
    expect(native!.name).toBe('native');
    expect(native!.detail).toContain(info!.isa);
    expect(native!.detail).toMatch(/dsyevd|Householder/);
    expect(isas).toContain('generic');
  });

  for (const isa of isas) {
    describe(`${isa} kernels`, () => {
      const sizes = [1, 7, 17, 33, 257];

      it('syrkT agrees with the naive product to 1e-12 (odd sizes, beta 0 and 1)', async () => {
        const be = backendFor(isa);
        const rnd = prng(11);
        for (const n of sizes) {
          for (const k of [1, 7, 33, 257]) {
            if (n * n * k > 257 * 257 * 33) continue; // keep the JS reference cheap
            for (const beta of [0, 1]) {
              const a = randomArray(k * n, rnd);
              const c0 = randomSymmetric(n, rnd);
              const c = c0.slice();
              await be.syrkT(n, k, a, c, beta);
              const err = relErrProduct(
                n,
                n,
                k,
                (i, p) => a[p * n + i],
                (p, j) => a[p * n + j],
                c0,
                beta,
                c,
              );
              expect(err, `n=${n} k=${k} beta=${beta}`).toBeLessThanOrEqual(1e-12);
            }
          }
        }
        // A long inner dimension crossing several cache blocks.
        const n = 33;
        const k = 1031;
        const a = randomArray(k * n, rnd);
        const c0 = randomSymmetric(n, rnd);
        const c = c0.slice();
        await be.syrkT(n, k, a, c, 1);
        expect(
          relErrProduct(
            n,
            n,
            k,
            (i, p) => a[p * n + i],
            (p, j) => a[p * n + j],
            c0,
            1,
            c,
          ),
        ).toBeLessThanOrEqual(1e-12);
      });

      it('syrkT: beta = 0 ignores NaN in C, other beta scale C (non-symmetric C included)', async () => {
        const be = backendFor(isa);
        const rnd = prng(12);
        const n = 41;
        const k = 19;
        const a = randomArray(k * n, rnd);
        const c = new Float64Array(n * n).fill(Number.NaN);
        await be.syrkT(n, k, a, c, 0);
        expect(
          relErrProduct(
            n,
            n,
            k,
            (i, p) => a[p * n + i],
            (p, j) => a[p * n + j],
            c,
            0,
            c,
          ),
        ).toBeLessThanOrEqual(1e-12);
        const c0 = randomArray(n * n, rnd); // not symmetric
        const c2 = c0.slice();
        await be.syrkT(n, k, a, c2, 0.5);
        expect(
          relErrProduct(
            n,
            n,
            k,
            (i, p) => a[p * n + i],
            (p, j) => a[p * n + j],
            c0,
            0.5,
            c2,
          ),
        ).toBeLessThanOrEqual(1e-12);
      });

      it('gemm agrees with the naive product to 1e-12 (odd sizes, beta 0 and 1)', async () => {
        const be = backendFor(isa);
        const rnd = prng(13);
        for (const m of sizes) {
          for (const n of [1, 17, 257]) {
            for (const k of [1, 7, 257]) {
              if (m * n * k > 257 * 257 * 7) continue;
              for (const beta of [0, 1]) {
                const a = randomArray(m * k, rnd);
                const b = randomArray(k * n, rnd);
                const c0 = randomArray(m * n, rnd);
                const c = c0.slice();
                await be.gemm(m, n, k, a, b, c, beta);
                const err = relErrProduct(
                  m,
                  n,
                  k,
                  (i, p) => a[i * k + p],
                  (p, j) => b[p * n + j],
                  c0,
                  beta,
                  c,
                );
                expect(err, `m=${m} n=${n} k=${k} beta=${beta}`).toBeLessThanOrEqual(1e-12);
              }
            }
          }
        }
        // Rotation-shaped: more rows than columns, inner dimension over one cache block, subarray views.
        const m = 301;
        const n = 33;
        const k = 513;
        const abuf = randomArray(m * k + 5, rnd);
        const a = abuf.subarray(5);
        const b = randomArray(k * n, rnd);
        const c0 = randomArray(m * n, rnd);
        const c = c0.slice();
        await be.gemm(m, n, k, a, b, c, 1);
        expect(
          relErrProduct(
            m,
            n,
            k,
            (i, p) => a[i * k + p],
            (p, j) => b[p * n + j],
            c0,
            1,
            c,
          ),
        ).toBeLessThanOrEqual(1e-12);
      });

      it('own eigensolver invariants hold with these kernels (n = 200)', async () => {
        const be = backendFor(isa, 'own');
        expect(be.eigenSolver).toBe('tql');
        const rnd = prng(14);
        const a = randomSymmetric(200, rnd);
        const work = a.slice();
        const { values, vectors } = await be.syev(200, work);
        checkEigen(200, a, values, vectors);
      });
    });
  }

  it('threaded products (2 and 3 threads, row and column splits) agree to 1e-12', async () => {
    const rnd = prng(31);
    const backends = [2, 3].map((threads) => {
      const be = loadNativeBackend({ threads });
      if (isNativeUnavailable(be)) throw new Error(be.unavailable);
      return be;
    });
    // Sizes just above the addon's threading threshold (2·10⁷ flops).
    const n = 272;
    const k = 272;
    const a = randomArray(k * n, rnd);
    const c0 = randomSymmetric(n, rnd);
    const ref = referenceProduct(
      n,
      n,
      k,
      (i, p) => a[p * n + i],
      (p, j) => a[p * n + j],
      c0,
      1,
    );
    for (const be of backends) {
      const c = c0.slice();
      await be.syrkT(n, k, a, c, 1);
      expect(relErr(c, ref)).toBeLessThanOrEqual(1e-12);
    }
    for (const [m, nn] of [
      [320, 48],
      [48, 320],
    ]) {
      const kk = 660;
      const x = randomArray(m * kk, rnd);
      const y = randomArray(kk * nn, rnd);
      const z0 = randomArray(m * nn, rnd);
      const gref = referenceProduct(
        m,
        nn,
        kk,
        (i, p) => x[i * kk + p],
        (p, j) => y[p * nn + j],
        z0,
        0.5,
      );
      for (const be of backends) {
        const z = z0.slice();
        await be.gemm(m, nn, kk, x, y, z, 0.5);
        expect(relErr(z, gref), `${be.detail} m=${m} n=${nn}`).toBeLessThanOrEqual(1e-12);
      }
    }
  });

  const solvers: NativeEigenSolver[] = info && info.lapacke ? ['own', 'lapacke'] : ['own'];
  for (const solver of solvers) {
    describe(`syev (${solver === 'own' ? 'own Householder + QL' : 'LAPACKE dsyevd'})`, () => {
      for (const n of [50, 200, 513]) {
        it(`random symmetric and kinship-like matrices, n = ${n}`, async () => {
          const be = backendFor(info!.isa, solver);
          const rnd = prng(100 + n);
          for (const a of [randomSymmetric(n, rnd), kinshipLike(n, Math.max(3, Math.floor(n / 10)), rnd)]) {
            const work = a.slice();
            const { values, vectors } = await be.syev(n, work);
            expect(vectors).toBe(work); // computed in place
            checkEigen(n, a, values, vectors);
          }
        });
      }

      it('repeated eigenvalues: zero matrix, identity + rank one, duplicated samples', async () => {
        const be = backendFor(info!.isa, solver);
        const n = 60;
        const rnd = prng(7);
        const zero = new Float64Array(n * n);
        const eye = new Float64Array(n * n);
        const v = randomArray(n, rnd);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) eye[i * n + j] = (i === j ? 1 : 0) + v[i] * v[j];
        // Samples 2i and 2i+1 identical: K has the kinship of 30 distinct samples, twice.
        const base = kinshipLike(n / 2, 8, rnd);
        const dup = new Float64Array(n * n);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) dup[i * n + j] = base[(i >> 1) * (n / 2) + (j >> 1)];
        for (const a of [zero, eye, dup]) {
          const work = a.slice();
          const { values, vectors } = await be.syev(n, work);
          checkEigen(n, a, values, vectors);
        }
        const { values } = await be.syev(1, new Float64Array([4]));
        expect(Array.from(values)).toEqual([4]);
      });
    });
  }

  it('keeps the event loop free while a product runs', async () => {
    const n = 600;
    const k = 3000;
    const rnd = prng(21);
    const a = randomArray(k * n, rnd);
    const c = new Float64Array(n * n);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const start = Date.now();
    await native!.syrkT(n, k, a, c, 0);
    const elapsed = Date.now() - start;
    clearInterval(timer);
    if (elapsed >= 20) expect(ticks).toBeGreaterThan(0);
  });

  it('rejects bad arguments with TypeError / RangeError instead of crashing', async () => {
    const b = native!.binding;
    const a = new Float64Array(12);
    const c = new Float64Array(9);
    expect(() => b.syrkTSync(3, 4, new Float32Array(12) as unknown as Float64Array, c, 0)).toThrow(TypeError);
    expect(() => b.syrkTSync(3, 4, [1, 2] as unknown as Float64Array, c, 0)).toThrow(TypeError);
    expect(() => b.syrkTSync('3' as unknown as number, 4, a, c, 0)).toThrow(TypeError);
    expect(() => b.syrkTSync(3, 5, a, c, 0)).toThrow(RangeError); // a too short
    expect(() => b.syrkTSync(4, 3, a, c, 0)).toThrow(RangeError); // c too short
    expect(() => b.syrkTSync(-1, 3, a, c, 0)).toThrow(RangeError);
    expect(() => b.syrkTSync(2.5, 3, a, c, 0)).toThrow(RangeError);
    expect(() => b.syrkTSync(3, 4, a, c, Number.NaN)).toThrow(RangeError);
    expect(() => b.syrkTSync(3, 4, a, c, 0, 1000)).toThrow(RangeError);
    const buf = new Float64Array(30);
    expect(() => b.syrkTSync(3, 4, buf.subarray(0, 12), buf.subarray(10, 19), 0)).toThrow(RangeError); // overlap
    expect(() => b.gemmSync(2, 2, 2, a, a, new Float64Array(3), 0)).toThrow(RangeError);
    expect(() => b.gemmSync(2, 2, 2, a, a, a, 0)).toThrow(RangeError); // c overlaps a
    expect(() => b.gemm(2, 2, 2, a, a, {} as Float64Array, 0)).toThrow(TypeError); // thrown before queuing
    expect(() => b.syevSync(3, new Float64Array(8), new Float64Array(3))).toThrow(RangeError);
    expect(() =>
      b.syevSync(2, new Float64Array(4), new Float64Array(2), 0, 'magic' as NativeEigenSolver),
    ).toThrow(RangeError);
    await expect(
      b.syev(2, new Float64Array([1, Number.NaN, Number.NaN, 1]), new Float64Array(2)),
    ).rejects.toThrow(/NaN/);
    await expect(native!.syrkT(3, 5, a, c, 0)).rejects.toThrow(RangeError);
    await expect(native!.gemm(4, 4, 4, a, a, c, 0)).rejects.toThrow(RangeError);
    // Zero-sized products are valid and do nothing harmful.
    await native!.gemm(0, 3, 2, new Float64Array(0), new Float64Array(6), new Float64Array(0), 1);
    const z = new Float64Array([1, 2, 3, 4]);
    await native!.syrkT(2, 0, new Float64Array(0), z, 2);
    expect(Array.from(z)).toEqual([2, 4, 6, 8]); // beta·C with k = 0 (non-symmetric C: both triangles scaled)
  });
});
