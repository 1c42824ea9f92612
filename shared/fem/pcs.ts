/**
 * Principal components of the analysed samples as rMVP computes them for `nPC.GLM` / `nPC.FarmCPU`
 * (rMVP 1.4.6 `MVP()`: `eigen(MVP.K.VanRaden(geno))$vectors[, 1:nPC]`, on the imputed genotypes of the
 * analysed individuals): every SNP is centred on its mean over the analysed samples, K = Z Zᵀ (VanRaden's
 * scaling by mean(diag) does not change eigenvectors), and the PCs are the eigenvectors of the k largest
 * eigenvalues, unit length. These equal `prcomp`'s PC scores (GAPIT) up to a per-column scale, so as
 * covariates they give the same tests. The sign of each vector is fixed so its largest-magnitude entry is
 * positive (rMVP's sign is LAPACK's and arbitrary; tests do not depend on it).
 *
 * Cost: one rank-k update per SNP block (n²·m flops on the backend) and one n × n eigendecomposition.
 */
import type { LinalgBackend } from '../linalg/backend.js';
import type { AnalysedGenotypes } from './genotypes.js';

/** Returns the top-`k` PCs as a row-major n × k matrix (column j = PC j + 1). */
export async function genotypePcs(G: AnalysedGenotypes, k: number, backend: LinalgBackend, blockSize = 256): Promise<Float64Array> {
  const n = G.n;
  const K = new Float64Array(n * n);
  const Z = new Float64Array(blockSize * n);
  for (let s = G.start; s < G.end; s += blockSize) {
    const c = Math.min(blockSize, G.end - s);
    G.fillRows(s, c, Z);
    for (let r = 0; r < c; r++) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += Z[r * n + i];
      mean /= n;
      for (let i = 0; i < n; i++) Z[r * n + i] -= mean;
    }
    await backend.syrkT(n, c, Z.subarray(0, c * n), K, 1);
  }
  const { vectors } = await backend.syev(n, K);
  const pcs = new Float64Array(n * k);
  for (let j = 0; j < k; j++) {
    const col = n - 1 - j;
    let big = 0;
    for (let i = 0; i < n; i++) {
      const v = vectors[i * n + col];
      if (Math.abs(v) > Math.abs(big)) big = v;
    }
    const sign = big < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) pcs[i * k + j] = sign * vectors[i * n + col];
  }
  return pcs;
}
