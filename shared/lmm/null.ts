/**
 * The null model of the MLM scan, as GEMMA 0.98.5 fits it (Zhou & Stephens 2012):
 * K_a (kinship of the analysed samples) is double-centred, K_a ← P K_a P with P = I − 11ᵀ/n_a, and
 * eigendecomposed, K_a = U diag(s) Uᵀ, with eigenvalues |s| < 1e-10 set to 0. y and W are rotated by Uᵀ.
 * λ = σg²/σe² is fitted by REML (l_remle) and ML (l_mle) over [1e-5, 1e5] (see optimize.ts). Reported:
 * vg = λ·ve and ve = yᵀPy/(n − c) at l_remle; pve = λt/(λt + 1) with t = tr(K_a)/n_a after centring (the mean
 * eigenvalue); se(pve) by the delta method from the REML curvature; covariate effects β̂ and their s.e.
 *
 * The null model is an explicit, versioned value: the distributed coordinator hashes and broadcasts it.
 */
import type { LinalgBackend } from '../linalg/backend.js';
import { doubleCentre } from '../kinship/kinship.js';
import { LmmLikelihood, type Derivs } from './likelihood.js';
import { GEMMA_LAMBDA, mlObjective, optimiseLambda, remlObjective, type LambdaOptions } from './optimize.js';
import { NumericError } from '../errors.js';

export const NULL_MODEL_VERSION = 1;
export const EIGEN_ZERO = 1e-10;

export interface NullModel {
  version: typeof NULL_MODEL_VERSION;
  n: number;
  c: number;
  /** Eigenvalues of the centred K_a, ascending, small ones zeroed. */
  eigenvalues: Float64Array;
  /** Eigenvectors (columns), row-major n × n. */
  U: Float64Array;
  /** Uᵀw_j for each covariate column j. */
  UtW: Float64Array[];
  Uty: Float64Array;
  traceG: number;
  lRemle: number;
  loglRemle: number;
  lMle: number;
  loglMle: number;
  vg: number;
  ve: number;
  pve: number;
  pveSe: number;
  beta: Float64Array;
  betaSe: Float64Array;
  lambdaOptions: LambdaOptions;
}

export interface EigenInput {
  eigenvalues: Float64Array;
  U: Float64Array;
}

/** Centres K_a in place and eigendecomposes it with the backend; zeroes tiny eigenvalues. */
export async function centredEigen(Ka: Float64Array, n: number, backend: LinalgBackend): Promise<EigenInput> {
  doubleCentre(Ka, n);
  const { values, vectors } = await backend.syev(n, Ka);
  for (let i = 0; i < n; i++) if (Math.abs(values[i]) < EIGEN_ZERO) values[i] = 0;
  return { eigenvalues: values, U: vectors };
}

/** Rotates the columns of a row-major n × c matrix: returns Uᵀ col_j for each j. */
export async function rotateColumns(
  M: Float64Array,
  n: number,
  c: number,
  U: Float64Array,
  backend: LinalgBackend,
): Promise<Float64Array[]> {
  // Rows of Mᵀ (c × n) times U (n × n) give (Uᵀ m_j)ᵀ.
  const Mt = new Float64Array(c * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) Mt[j * n + i] = M[i * c + j];
  const R = new Float64Array(c * n);
  await backend.gemm(c, n, n, Mt, U, R, 0);
  return Array.from({ length: c }, (_, j) => R.slice(j * n, (j + 1) * n));
}

/** Fits REML and ML λ and the variance components on the rotated data. */
export function fitNullModel(
  eig: EigenInput,
  UtW: Float64Array[],
  Uty: Float64Array,
  opts: LambdaOptions = GEMMA_LAMBDA,
): NullModel {
  const n = eig.eigenvalues.length;
  const c = UtW.length;
  const lik = new LmmLikelihood(eig.eigenvalues, c);
  if (!lik.setVariables([...UtW, Uty])) {
    throw new NumericError(
      'the covariate matrix is singular (a covariate is constant, duplicated or a combination of others)',
      'remove redundant covariate columns; GEMMA-style covariate files must include the intercept column once',
    );
  }
  const reml = optimiseLambda(remlObjective(lik), opts);
  const ml = optimiseLambda(mlObjective(lik), opts);
  if (!Number.isFinite(reml.lambda) || !Number.isFinite(ml.lambda)) {
    throw new NumericError(
      'the null model could not be fitted (λ optimisation failed)',
      'check that the kinship matches the genotypes and is informative for the analysed samples (not e.g. every pair equally related)',
    );
  }
  let traceG = 0;
  for (let i = 0; i < n; i++) traceG += eig.eigenvalues[i];
  traceG /= n;
  const d: Derivs = { f: 0, d1: 0, d2: 0 };
  lik.remlD12(reml.lambda, d);
  const seLambda = Math.sqrt(-1 / d.d2);
  const tl = traceG * reml.lambda;
  const pve = tl / (tl + 1);
  const pveSe = (traceG / ((tl + 1) * (tl + 1))) * seLambda;
  const g = lik.gls(reml.lambda);
  const ve = g.Pyy / (n - c);
  const vg = ve * reml.lambda;
  const betaSe = new Float64Array(c);
  for (let j = 0; j < c; j++) betaSe[j] = Math.sqrt(ve * g.inv[j * c + j]);
  return {
    version: NULL_MODEL_VERSION,
    n,
    c,
    eigenvalues: eig.eigenvalues,
    U: eig.U,
    UtW,
    Uty,
    traceG,
    lRemle: reml.lambda,
    loglRemle: reml.logl,
    lMle: ml.lambda,
    loglMle: ml.logl,
    vg,
    ve,
    pve,
    pveSe,
    beta: g.beta,
    betaSe,
    lambdaOptions: opts,
  };
}
