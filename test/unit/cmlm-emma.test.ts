/**
 * EMMA REML on the compressed model: the spectral likelihood of model.ts/emma.ts against the textbook REML
 * log-likelihood computed densely (spec §2.3: EMMA's value = ℓ_REML + ½·log|XᵀX|), with and without Z, and the
 * R uniroot emulation (Brent zeroin) against its contract.
 */
import { emmaReml, remlDLL, remlLL, uniroot, UNIROOT_TOL } from '../../shared/cmlm/emma.js';
import { remlSpectrum, type Design } from '../../shared/cmlm/model.js';
import type { Compression } from '../../shared/cmlm/compress.js';
import { rng, normal } from '../helpers/random.js';
import { testBackend } from '../helpers/data.js';

/** A random compressed model: t groups, n individuals, q covariates (intercept first), PSD KW. */
function randomModel(n: number, t: number, q: number, seed: number, groupCovariates = false): { c: Compression; d: Design } {
  const r = rng(seed);
  const m = 3 * t;
  const G = Float64Array.from({ length: t * m }, () => normal(r));
  const KW = new Float64Array(t * t);
  for (let a = 0; a < t; a++) for (let b = 0; b < t; b++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += G[a * m + k] * G[b * m + k];
    KW[a * t + b] = s / m;
  }
  const groupOf = Int32Array.from({ length: n }, (_, i) => (i < t ? i : Math.floor(r() * t)));
  const X = new Float64Array(n * q);
  const groupValue = Float64Array.from({ length: t * q }, () => normal(r));
  for (let i = 0; i < n; i++) {
    X[i * q] = 1;
    for (let a = 1; a < q; a++) X[i * q + a] = groupCovariates ? groupValue[groupOf[i] * q + a] : normal(r);
  }
  const y = Float64Array.from({ length: n }, (_, i) => 2 + normal(r) + 0.8 * Math.sin(groupOf[i]));
  return { c: { g: t, groupOf, t, KW }, d: { n, q, X, y } };
}

/** Eigendecomposition of ZKWZᵀ (n × n). */
async function denseEigen(c: Compression) {
  const n = c.groupOf.length;
  const H = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) H[i * n + j] = c.KW[c.groupOf[i] * c.t + c.groupOf[j]];
  return (await testBackend()).syev(n, H);
}

/** Textbook REML log-likelihood of y ~ N(Xβ, σ²H), H = ZKWZᵀ + δI, at the profiled σ². */
function denseReml(eig: { values: Float64Array; vectors: Float64Array }, d: Design, delta: number) {
  const { n, q, X, y } = d;
  const vectors = eig.vectors;
  const values = eig.values.map((v) => v + delta);
  let logDetH = 0;
  for (const v of values) logDetH += Math.log(v);
  // H⁻¹ applied via the eigenbasis.
  const hinv = (v: Float64Array) => {
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += vectors[i * n + k] * v[i];
      s /= values[k];
      for (let i = 0; i < n; i++) out[i] += vectors[i * n + k] * s;
    }
    return out;
  };
  const cols = Array.from({ length: q }, (_, a) => Float64Array.from({ length: n }, (_, i) => X[i * q + a]));
  const HiX = cols.map(hinv);
  const Hiy = hinv(y);
  const XHX = new Float64Array(q * q);
  const XHy = new Float64Array(q);
  const XtX = new Float64Array(q * q);
  for (let a = 0; a < q; a++) {
    for (let b = 0; b < q; b++) for (let i = 0; i < n; i++) {
      XHX[a * q + b] += cols[a][i] * HiX[b][i];
      XtX[a * q + b] += cols[a][i] * cols[b][i];
    }
    for (let i = 0; i < n; i++) XHy[a] += cols[a][i] * Hiy[i];
  }
  const det = (M: Float64Array) => {
    const e = Float64Array.from(M);
    let logdet = 0;
    for (let k = 0; k < q; k++) {
      logdet += Math.log(e[k * q + k]);
      for (let i = k + 1; i < q; i++) {
        const f = e[i * q + k] / e[k * q + k];
        for (let j = k; j < q; j++) e[i * q + j] -= f * e[k * q + j];
      }
    }
    return logdet;
  };
  // yᵀPy = yᵀH⁻¹y − (XᵀH⁻¹y)ᵀ(XᵀH⁻¹X)⁻¹(XᵀH⁻¹y), via Gaussian elimination on q × q.
  const A = Float64Array.from(XHX);
  const b = Float64Array.from(XHy);
  for (let k = 0; k < q; k++) for (let i = k + 1; i < q; i++) {
    const f = A[i * q + k] / A[k * q + k];
    for (let j = k; j < q; j++) A[i * q + j] -= f * A[k * q + j];
    b[i] -= f * b[k];
  }
  const beta = new Float64Array(q);
  for (let k = q - 1; k >= 0; k--) {
    let s = b[k];
    for (let j = k + 1; j < q; j++) s -= A[k * q + j] * beta[j];
    beta[k] = s / A[k * q + k];
  }
  let yPy = 0;
  for (let i = 0; i < n; i++) yPy += y[i] * Hiy[i];
  for (let a = 0; a < q; a++) yPy -= beta[a] * XHy[a];
  const s2 = yPy / (n - q);
  const lReml = -0.5 * ((n - q) * Math.log(2 * Math.PI * s2) + logDetH + det(XHX) + (n - q));
  return { emma: lReml + 0.5 * det(XtX), vg: s2 };
}

describe('EMMA REML spectrum', () => {
  // With Z, EMMA keeps t − q eigenvalues of S·ZKZᵀ·S: exact when the covariates lie in the span of Z (the
  // intercept, group-level covariates). Individual-level covariates (PCs) make it GAPIT's approximation, which the
  // maize EarHT + PC1–3 golden test checks against GAPIT itself.
  it.each([
    ['with Z, intercept only', 60, 17, 1],
    ['with Z, two group-level covariates', 70, 23, 3],
    ['without Z (one individual per group), two covariates', 40, 40, 3],
  ])('%s: equals the textbook REML log-likelihood', async (label, n, t, q) => {
    const { c, d } = randomModel(n, t, q, n * 31 + t, label.includes('group-level'));
    const spec = await remlSpectrum(c, d, await testBackend());
    const eig = await denseEigen(c);
    for (const logDelta of [-3, 0, 1.7]) {
      const ref = denseReml(eig, d, Math.exp(logDelta));
      expect(Math.abs(remlLL(spec, logDelta) - ref.emma)).toBeLessThan(1e-9 * Math.abs(ref.emma));
    }
    const fit = emmaReml(spec);
    const ref = denseReml(eig, d, fit.delta);
    expect(Math.abs(-2 * ref.emma - fit.m2ll)).toBeLessThan(1e-9 * Math.abs(fit.m2ll));
    expect(Math.abs(ref.vg - fit.vg)).toBeLessThan(1e-9 * ref.vg);
    expect(fit.ve).toBeCloseTo(fit.vg * fit.delta, 12);
    // The derivative is the log-likelihood's slope in log δ, divided by δ.
    const h = 1e-5;
    const x = 0.3;
    const numeric = (remlLL(spec, x + h) - remlLL(spec, x - h)) / (2 * h);
    expect(Math.abs(numeric - Math.exp(x) * remlDLL(spec, x))).toBeLessThan(1e-6 * Math.max(1, Math.abs(numeric)));
  });
});

describe('uniroot (R zeroin)', () => {
  it('finds a sign change to within the tolerance and honours exact endpoint roots', () => {
    const f = (x: number) => Math.exp(x) - 3;
    const root = uniroot(f, -1, 4);
    expect(Math.abs(root - Math.log(3))).toBeLessThan(UNIROOT_TOL);
    expect(uniroot((x) => x - 2, 2, 5)).toBe(2);
    expect(uniroot((x) => x - 5, 2, 5)).toBe(5);
  });

  it('stops at R default tolerance, not at machine precision (its result is not the exact root)', () => {
    // A smooth function whose root Brent would reach in a few more steps: R stops earlier.
    const f = (x: number) => Math.tanh(x - 0.123456789) + 0.01 * (x - 0.123456789) ** 3;
    const root = uniroot(f, -9.8, 10);
    expect(Math.abs(root - 0.123456789)).toBeLessThan(UNIROOT_TOL);
    const tight = uniroot(f, -9.8, 10, 1e-15);
    expect(Math.abs(tight - 0.123456789)).toBeLessThan(1e-14);
  });
});
