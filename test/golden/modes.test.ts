/**
 * `--lmm 1`, `2` and `3` write GEMMA's column sets for those modes, with the same values as the `-lmm 4`
 * reference (GEMMA computes each test the same way in every mode; only `logl_H1` differs: REML for -lmm 1).
 * And `--gk 2` (standardised kinship) against a direct computation on maize.
 */
import { describe, expect, it } from 'vitest';
import { bfilePath, dataPath, runGoldenMlm, testBackend } from '../helpers/data.js';
import { readTsv, worstDeviation } from '../helpers/assoc.js';
import { memoryLogger } from '../../shared/log.js';
import { GEMMA_QC } from '../../shared/genotype/qc.js';
import { openGenotypes, loadSamples, qcPass } from '../../shared/methods/inputs.js';
import { TOL } from './golden-mlm.js';

const ref = () => readTsv(dataPath('maize_mdp', 'reference', 'maize_mdp.EarHT.lmm4.assoc.txt'));
const K = () => dataPath('maize_mdp', 'reference', 'maize_mdp.cXX.txt');

describe('--lmm modes', () => {
  const cases = [
    [1, ['beta', 'se', 'logl_H1', 'l_remle', 'p_wald'], ['beta', 'se', 'l_remle', 'p_wald']],
    [2, ['logl_H1', 'l_mle', 'p_lrt'], ['logl_H1', 'l_mle', 'p_lrt']],
    [3, ['beta', 'se', 'p_score'], ['p_score']],
  ] as const;
  for (const [mode, columns, compared] of cases) {
    it(`--lmm ${mode} writes ${columns.join(' ')} equal to GEMMA's -lmm 4 values`, async () => {
      const r = await runGoldenMlm(`mode${mode}`, { bfile: bfilePath('maize_mdp', 'maize_mdp'), kinship: K(), lmm: mode });
      const ours = readTsv(r.assocPath);
      expect(ours.header).toEqual(['chr', 'rs', 'ps', 'n_miss', 'allele1', 'allele0', 'af', ...columns]);
      for (const col of compared) {
        const d = worstDeviation(ours, ref(), col, col.startsWith('p_') ? 'relOrLog10p' : 'rel');
        expect(d.worst, `${col} at ${d.at}`).toBeLessThanOrEqual(col.startsWith('l_') ? TOL.lambda : TOL.stat);
      }
    });
  }
});

describe('--gk 2 standardised kinship', () => {
  it('equals (1/m) Σ z zᵀ with z = (x − mean)/sd over all samples', async () => {
    const backend = await testBackend();
    const log = memoryLogger();
    const spec = { bfile: bfilePath('maize_mdp', 'maize_mdp') };
    const geno = await openGenotypes(spec);
    const samples = await loadSamples(geno, spec, log);
    const pass = await qcPass(geno, samples, { qc: GEMMA_QC, kinship: 2, backend, log });
    const n = geno.nSamples;
    // Direct computation from the kept SNPs.
    const K = new Float64Array(n * n);
    let m = 0;
    for await (const b of geno.blocks({ blockSize: 64, snpMask: pass.qc.mask })) {
      for (let r = 0; r < b.count; r++) {
        const row = b.data.subarray(r * n, (r + 1) * n);
        let s = 0;
        let c = 0;
        for (const v of row) if (!Number.isNaN(v)) {
          s += v;
          c++;
        }
        const mean = s / c;
        const z = Array.from(row, (v) => (Number.isNaN(v) ? 0 : v - mean));
        const variance = z.reduce((a, v) => a + v * v, 0) / n;
        const sd = Math.sqrt(variance);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) K[i * n + j] += (z[i] / sd) * (z[j] / sd);
        m++;
      }
    }
    await geno.close();
    let worst = 0;
    for (let i = 0; i < n * n; i++) worst = Math.max(worst, Math.abs(K[i] / m - pass.K![i]));
    expect(m).toBe(pass.kinshipSnps);
    expect(worst).toBeLessThan(1e-12);
    // Standardised: the mean diagonal is about 1 (exactly 1 without missing values).
    let diag = 0;
    for (let i = 0; i < n; i++) diag += pass.K![i * n + i];
    expect(Math.abs(diag / n - 1)).toBeLessThan(0.05);
  });
});
