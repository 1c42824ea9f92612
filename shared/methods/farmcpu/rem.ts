/**
 * FarmCPU's random-effect (REM) bin optimisation, rMVP `method.bin = "EMMA"` (`FarmCPU.BIN` → `FarmCPU.Burger`
 * → `MVP.K.VanRaden` + `MVP.EMMA.Vg.Ve`; spec ../shared/docs/FARMCPU_CMLM.md §1.6, §2.3): for every bin size b
 * (in the given order) and count s (ascending), the candidates of §1.5 define a kinship from their genotypes
 * GK (n × k): columns centred on their means, K = Z Zᵀ / mean(diag(Z Zᵀ)) (with rMVP's quirk: a 2-column GK
 * keeps only its first column). The REML likelihood of y = Xβ + g + e, g ~ N(0, σ²_g K), e ~ N(0, σ²_e I),
 * X = [1, covariates, previous pseudo-QTNs], is maximised over log δ (δ = σ²_e/σ²_g) exactly as EMMA (Kang et
 * al. 2008 Genetics 178:1709) does it: 101 grid points on [−10, 10], edge optima admitted by the derivative's
 * sign, Brent's root finder (R `uniroot`, tol ε^¼) on every + → − sign change of the derivative, the best
 * candidate kept. The (b, s) with the smallest −2 log L wins (strict <, so ties keep the first).
 *
 * EMMA eigendecomposes the n × n matrix S(K + I)S (S = I − X(XᵀX)⁻Xᵀ). Because K has rank ≤ k here, the same
 * eigenvalues and projections η come from the k × k matrix (SZ)ᵀ(SZ)/c: its non-zero eigenvalues λ_i with
 * η_i = v_iᵀ(SZ)ᵀy / √(c λ_i), and the remaining n − q − r directions have λ = 0 and Σ η² = yᵀSy − Σ η_i².
 * Cost per (b, s): O(n·k·q + k³) instead of O(n³).
 */
import { jacobiEigen, symmetricPseudoInverse } from '../../fem/ginv.js';
import type { QtnVector } from './protocol.js';
import { binCandidates, type ScanResult } from './rounds.js';
import { uniroot } from '../../stats/uniroot.js';

export interface RemEvaluation {
  binSize: number;
  binCount: number;
  /** SNPs in GK. */
  nSnps: number;
  /** −2 × EMMA's REML log-likelihood at the optimum. */
  m2LL: number;
  vg: number;
  ve: number;
  delta: number;
}


/**
 * EMMA REML (`MVP.EMMA.Vg.Ve` semantics) for y (n), X (n × q, row-major, intercept included) and the
 * candidate genotypes Z (n × k, row-major). Returns EMMA's REML log-likelihood, δ, σ²_g and σ²_e.
 */
export function emmaRemlLowRank(y: Float64Array, X: Float64Array, q: number, Zraw: Float64Array, kRaw: number): { reml: number; delta: number; vg: number; ve: number } {
  const n = y.length;
  const k = kRaw === 2 ? 1 : kRaw;
  // Centre the genotype columns (VanRaden) and scale by mean(diag(Z Zᵀ)).
  const Z = new Float64Array(n * k);
  let ss = 0;
  for (let j = 0; j < k; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += Zraw[i * kRaw + j];
    mean /= n;
    for (let i = 0; i < n; i++) {
      const v = Zraw[i * kRaw + j] - mean;
      Z[i * k + j] = v;
      ss += v * v;
    }
  }
  const c = ss / n;
  // Residualise y and Z on X: S v = v − X (XᵀX)⁻ Xᵀ v.
  const XtX = new Float64Array(q * q);
  for (let i = 0; i < n; i++) for (let a = 0; a < q; a++) for (let b = 0; b < q; b++) XtX[a * q + b] += X[i * q + a] * X[i * q + b];
  const iXX = symmetricPseudoInverse(XtX, q).inverse;
  const resid = (get: (i: number) => number): Float64Array => {
    const xt = new Float64Array(q);
    for (let i = 0; i < n; i++) {
      const v = get(i);
      for (let a = 0; a < q; a++) xt[a] += X[i * q + a] * v;
    }
    const coef = new Float64Array(q);
    for (let a = 0; a < q; a++) {
      let s = 0;
      for (let b = 0; b < q; b++) s += iXX[a * q + b] * xt[b];
      coef[a] = s;
    }
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let fit = 0;
      for (let a = 0; a < q; a++) fit += X[i * q + a] * coef[a];
      out[i] = get(i) - fit;
    }
    return out;
  };
  const Sy = resid((i) => y[i]);
  const A: Float64Array[] = [];
  for (let j = 0; j < k; j++) A.push(resid((i) => Z[i * k + j]));
  const M = new Float64Array(k * k);
  const Aty = new Float64Array(k);
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += A[a][i] * A[b][i];
      M[a * k + b] = M[b * k + a] = s / c;
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += A[a][i] * Sy[i];
    Aty[a] = s;
  }
  let yPy = 0;
  for (let i = 0; i < n; i++) yPy += Sy[i] * Sy[i];
  const { values, vectors } = jacobiEigen(M, k);
  let lmax = 0;
  for (const v of values) lmax = Math.max(lmax, v);
  const lam: number[] = [];
  const eta2: number[] = [];
  let sumEta2 = 0;
  for (let i = 0; i < k; i++) {
    const l = values[i];
    if (!(l > 1e-12 * lmax)) continue;
    let s = 0;
    for (let a = 0; a < k; a++) s += vectors[a * k + i] * Aty[a];
    const e = (s * s) / (c * l);
    lam.push(l);
    eta2.push(e);
    sumEta2 += e;
  }
  const nq = n - q;
  const nrest = nq - lam.length;
  const rest = Math.max(0, yPy - sumEta2);
  const f1 = (d: number) => {
    let s = rest / d;
    for (let i = 0; i < lam.length; i++) s += eta2[i] / (lam[i] + d);
    return s;
  };
  const LL = (logd: number) => {
    const d = Math.exp(logd);
    let sl = nrest * Math.log(d);
    for (let i = 0; i < lam.length; i++) sl += Math.log(lam[i] + d);
    return 0.5 * (nq * (Math.log(nq / (2 * Math.PI)) - 1 - Math.log(f1(d))) - sl);
  };
  const dLLraw = (logd: number) => {
    const d = Math.exp(logd);
    let s1 = rest / d;
    let s2 = rest / (d * d);
    let g = nrest / d;
    for (let i = 0; i < lam.length; i++) {
      const ld = lam[i] + d;
      s1 += eta2[i] / ld;
      s2 += eta2[i] / (ld * ld);
      g += 1 / ld;
    }
    return 0.5 * ((nq * s2) / s1 - g);
  };
  const ngrids = 100;
  const llim = -10;
  const ulim = 10;
  const esp = 1e-10;
  const grid: number[] = [];
  const dLL: number[] = [];
  for (let i = 0; i <= ngrids; i++) {
    const ld = (i / ngrids) * (ulim - llim) + llim;
    grid.push(ld);
    dLL.push(Math.exp(ld) * dLLraw(ld));
  }
  const m = grid.length;
  const opt: Array<{ logd: number; ll: number }> = [];
  if (dLL[0] < esp) opt.push({ logd: llim, ll: LL(llim) });
  if (dLL[m - 2] > -esp) opt.push({ logd: ulim, ll: LL(ulim) });
  for (let i = 0; i < m - 1; i++) {
    if (dLL[i] * dLL[i + 1] < 0 && dLL[i] > 0 && dLL[i + 1] < 0) {
      const root = uniroot(dLLraw, grid[i], grid[i + 1]);
      opt.push({ logd: root, ll: LL(root) });
    }
  }
  let best = opt[0];
  for (const o of opt) if (o.ll > best.ll) best = o;
  if (!best) return { reml: NaN, delta: NaN, vg: NaN, ve: NaN };
  const delta = Math.exp(best.logd);
  const vg = f1(delta) / nq;
  return { reml: best.ll, delta, vg, ve: vg * delta };
}

/**
 * Evaluates every (bin size, count) and returns the winning candidates (map order) with all evaluations.
 * `xQtns`: the previous iteration's pseudo-QTNs (fixed effects from iteration 3 on).
 */
export function remCandidates(
  prev: ScanResult,
  binSizes: readonly number[],
  counts: readonly number[],
  inputs: { n: number; y: Float64Array; cv: Float64Array; cvCols: number },
  xQtns: readonly QtnVector[],
): { binSize: number; binCount: number; candidates: number[]; evaluations: RemEvaluation[] } {
  const { n, y, cv, cvCols } = inputs;
  const q = 1 + cvCols + xQtns.length;
  const X = new Float64Array(n * q);
  for (let i = 0; i < n; i++) {
    X[i * q] = 1;
    for (let j = 0; j < cvCols; j++) X[i * q + 1 + j] = cv[i * cvCols + j];
    xQtns.forEach((qt, j) => (X[i * q + 1 + cvCols + j] = qt.genotype[i]));
  }
  const evaluations: RemEvaluation[] = [];
  let best: { binSize: number; binCount: number; candidates: number[]; m2LL: number } | null = null;
  for (const b of binSizes) {
    const ranked = prev.ranked.get(b);
    if (!ranked) throw new Error(`internal: no leads for bin size ${b}`);
    for (const s of counts) {
      const cands = binCandidates(ranked, s);
      const k = cands.length;
      const Z = new Float64Array(n * k);
      cands.forEach((snp, j) => {
        const g = prev.genotypes.get(snp);
        if (!g) throw new Error(`internal: no genotype for REM candidate SNP ${snp}`);
        for (let i = 0; i < n; i++) Z[i * k + j] = g[i];
      });
      const r = emmaRemlLowRank(y, X, q, Z, k);
      const m2LL = -2 * r.reml;
      evaluations.push({ binSize: b, binCount: s, nSnps: k, m2LL, vg: r.vg, ve: r.ve, delta: r.delta });
      if (best === null || m2LL < best.m2LL) best = { binSize: b, binCount: s, candidates: cands, m2LL };
    }
  }
  return { binSize: best!.binSize, binCount: best!.binCount, candidates: best!.candidates, evaluations };
}
