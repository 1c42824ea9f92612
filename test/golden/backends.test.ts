/**
 * Every available backend (ts, wasm, native) gives the same analysis to 1e-10 relative on a golden data set
 * (maize_mdp EarHT, kinship computed): the kinship (syrkT), the eigenvalues (syev), the null model, and every
 * SNP's beta, se, λ and p (relative difference of p; for p_lrt per unit of |ℓ₀|, for beta in units of its s.e.) after rotation (gemm). Eigenvectors may differ in sign or within repeated
 * eigenvalues; the statistics do not.
 */
import { describe, expect, it } from 'vitest';
import { bfilePath } from '../helpers/data.js';
import { memoryLogger } from '../../shared/log.js';
import { GEMMA_QC } from '../../shared/genotype/qc.js';
import { openGenotypes, loadSamples, qcPass } from '../../shared/methods/inputs.js';
import { nullModelFromKinship, imputeMeans } from '../../shared/methods/mlm.js';
import { LmmScanner, type LmmRow } from '../../shared/lmm/scan.js';
import { selectBackend } from '../../shared/linalg/select.js';
import type { LinalgBackend } from '../../shared/linalg/backend.js';

const TOL = 1e-10;

async function analyse(backend: LinalgBackend) {
  const log = memoryLogger();
  const spec = { bfile: bfilePath('maize_mdp', 'maize_mdp') };
  const geno = await openGenotypes(spec);
  try {
    const samples = await loadSamples(geno, spec, log);
    const pass = await qcPass(geno, samples, { qc: GEMMA_QC, kinship: 1, backend, log });
    const model = await nullModelFromKinship(pass.K!, geno.nSamples, samples, backend, log, {});
    const scanner = new LmmScanner(model, 4);
    const n = samples.analysed.length;
    const rows: LmmRow[] = [];
    for await (const b of geno.blocks({ keep: samples.analysed, snpMask: pass.qc.mask, blockSize: 64 })) {
      imputeMeans(b.data, b.count, n);
      const R = new Float64Array(b.count * n);
      await backend.gemm(b.count, n, n, b.data, model.U, R, 0);
      for (let r = 0; r < b.count; r++) rows.push(scanner.test(R.subarray(r * n, (r + 1) * n)));
    }
    return { K: Float64Array.from(pass.K!), model, rows };
  } finally {
    await geno.close();
  }
}

const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), 1e-300));

describe('backends agree on a golden analysis', async () => {
  const names = ['ts', 'wasm', 'native'] as const;
  const available: Array<[string, LinalgBackend]> = [];
  for (const name of names) {
    try {
      available.push([name, (await selectBackend(name)).backend]);
    } catch (e) {
      console.log(`[backends] ${name} not available here: ${(e as Error).message}`);
    }
  }
  it('ts, wasm and native (where built) agree to 1e-10 relative', async () => {
    expect(available.map(([n]) => n)).toContain('ts');
    const ref = await analyse(available[0][1]);
    for (const [name, backend] of available.slice(1)) {
      const got = await analyse(backend);
      let kin = 0;
      let kScale = 0;
      for (let i = 0; i < ref.K.length; i++) {
        kin = Math.max(kin, Math.abs(got.K[i] - ref.K[i]));
        kScale = Math.max(kScale, Math.abs(ref.K[i]));
      }
      let eig = 0;
      const ev = ref.model.eigenvalues;
      for (let i = 0; i < ev.length; i++) eig = Math.max(eig, Math.abs(got.model.eigenvalues[i] - ev[i]) / ev[ev.length - 1]);
      const nullDev = Math.max(rel(got.model.lRemle, ref.model.lRemle), rel(got.model.lMle, ref.model.lMle), rel(got.model.loglRemle, ref.model.loglRemle));
      let snp = 0;
      let where = '';
      got.rows.forEach((r, i) => {
        const q = ref.rows[i];
        for (const k of ['beta', 'se', 'lRemle', 'lMle', 'log10pWald', 'log10pLrt', 'log10pScore'] as const) {
          // For p-values: the relative difference of p itself, |Δ log10 p|·ln 10.
          let d = k.startsWith('log10p') ? (r[k] === q[k] ? 0 : Math.abs(r[k] - q[k]) * Math.LN10) : rel(r[k], q[k]);
          // p_lrt comes from 2(ℓ₁ − ℓ₀), a difference of two log-likelihoods of size |ℓ₀| (≈ 1200 here): a
          // 1e-16 relative rounding of ℓ moves p by ~|ℓ₀|·1e-16 relative, so its error is measured in units of |ℓ₀|.
          if (k === 'log10pLrt') d /= Math.max(1, Math.abs(ref.model.loglMle));
          // beta can be ~0; its error is measured on its own statistical scale, the standard error.
          if (k === 'beta') d = Math.abs(r.beta - q.beta) / q.se;
          if (d > snp) {
            snp = d;
            where = `${k} of SNP #${i}`;
          }
        }
      });
      console.log(
        `[backends] ${name} vs ts: kinship ${(kin / kScale).toExponential(2)}, eigenvalues ${eig.toExponential(2)}, ` +
          `null model ${nullDev.toExponential(2)}, per-SNP ${snp.toExponential(2)} (${where}) over ${got.rows.length} SNPs`,
      );
      expect(kin / kScale).toBeLessThan(TOL);
      expect(eig).toBeLessThan(TOL);
      expect(nullDev).toBeLessThan(TOL);
      expect(snp).toBeLessThan(TOL);
    }
  });
});
