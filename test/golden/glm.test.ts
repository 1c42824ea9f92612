/**
 * GLM against rMVP 1.4.6 `MVP(method = "GLM")` (maize: GAPIT's mdp_numeric.txt; mouse: BIMBAM dosages
 * restricted to farmcpu_snps_used_CD8.txt) and PLINK 2.00a3.5 `--glm` (bed inputs; commands in the data
 * READMEs). plink2 drops samples with a missing call while we impute them, so plink2 rows are compared where
 * its OBS_CT equals our sample count (no missing call among the analysed samples).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bfilePath, dataPath, tempDir, testBackend } from '../helpers/data.js';
import { memoryLogger } from '../../shared/log.js';
import { runGlm, type GlmConfig, type GlmResult } from '../../shared/methods/glm.js';
import { compareWithRmvp } from './fem-golden.js';

async function glm(tag: string, cfg: Partial<GlmConfig>): Promise<GlmResult> {
  return runGlm({ impute: 'major', npc: 0, maf: 0, miss: 1, out: join(tempDir(`glm-${tag}`), tag), backend: await testBackend(), log: memoryLogger(), ...cfg });
}

/**
 * Our PREFIX.glm.linear against plink2's: every column as text, except P, whose last printed digit may differ
 * (plink2's p is accurate to ~1e-7 relative); P must then agree with our full-precision p to plink2's print
 * precision (half a unit in the 6th significant digit) plus 1e-6 relative.
 */
export function compareGlmLinear(ours: string, refPath: string, r: GlmResult, label: string): void {
  const parse = (text: string) =>
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split('\t'));
  const mine = new Map(parse(readFileSync(ours, 'utf8')).map((t) => [t[2], t]));
  const index = new Map(r.snps.map((s, i) => [s.rs, i]));
  let compared = 0;
  let identical = 0;
  let worstP = 0;
  for (const t of parse(readFileSync(refPath, 'utf8'))) {
    const o = mine.get(t[2]);
    if (!o) throw new Error(`${label}: ${t[2]} missing from our output`);
    if (o[8] !== t[8]) continue;
    compared++;
    expect(o.slice(0, 12), `${label}: ${t[2]}`).toEqual(t.slice(0, 12));
    if (o[12] === t[12]) {
      identical++;
      continue;
    }
    const p = r.rows.p[index.get(t[2])!];
    const ref = Number(t[12]);
    const unit = Math.pow(10, Math.floor(Math.log10(ref)) - 5);
    const dev = Math.abs(p - ref) / (0.5 * unit + 1e-6 * ref);
    worstP = Math.max(worstP, dev);
  }
  console.log(`${label}: ${compared} complete SNPs vs plink2, columns 1–12 identical as text, P identical in ${identical}, others within ${worstP.toFixed(2)} of plink2's print precision`);
  expect(compared).toBeGreaterThan(0);
  expect(worstP).toBeLessThanOrEqual(1);
}

describe('GLM golden: rMVP MVP(method = "GLM")', () => {
  const M = (f: string) => dataPath('maize_mdp', 'original', f);
  for (const trait of ['EarHT', 'dpoll', 'EarDia']) {
    it(`maize ${trait} (GAPIT numeric matrix)`, async () => {
      const r = await glm(`maize-${trait}`, { numeric: M('mdp_numeric.txt'), map: M('mdp_SNP_information.txt'), pheno: M('mdp_traits.txt'), phenoName: trait });
      compareWithRmvp(dataPath('maize_mdp', 'reference', `farmcpu_rmvp_glm_${trait}.tsv`), r.snps, r.rows, `maize ${trait} GLM`);
    });
  }
  it('mouse CD8 (BIMBAM dosages, --snps list in map order)', async () => {
    const D = (f: string) => dataPath('mouse_hs1940', f);
    const r = await glm('cd8', {
      geno: D('mouse_hs1940.geno.txt.gz'),
      anno: D('mouse_hs1940.anno.txt'),
      pheno: D('mouse_hs1940.pheno.txt'),
      phenoCol: 1,
      snpsFile: D('reference/farmcpu_snps_used_CD8.txt'),
    });
    compareWithRmvp(D('reference/farmcpu_rmvp_glm_CD8.tsv'), r.snps, r.rows, 'mouse CD8 GLM');
  });
});

describe('GLM golden: plink2 --glm', () => {
  it('mouse CD8 on the bed (no missing calls)', async () => {
    const D = (f: string) => dataPath('mouse_hs1940', f);
    const r = await glm('cd8-bed', { bfile: bfilePath('mouse_hs1940', 'mouse_hs1940'), pheno: D('mouse_hs1940.pheno.plink.txt'), phenoName: 'CD8' });
    compareGlmLinear(r.linearPath, D('reference/mouse_hs1940.plink2.CD8.glm.linear'), r, 'mouse CD8 plink2');
  });
  it('maize EarHT with and without the Q1, Q2 covariates (SNPs without missing calls)', async () => {
    const D = (f: string) => dataPath('maize_mdp', f);
    const base = { bfile: bfilePath('maize_mdp', 'maize_mdp'), pheno: D('maize_mdp.pheno.plink.txt'), phenoName: 'EarHT' };
    const r = await glm('maize-plink', base);
    compareGlmLinear(r.linearPath, D('reference/maize_mdp.plink2.EarHT.glm.linear'), r, 'maize EarHT plink2');
    const q = await glm('maize-plink-q', { ...base, covar: D('maize_mdp.covar_Q.plink.txt') });
    compareGlmLinear(q.linearPath, D('reference/maize_mdp.plink2.Qcov.EarHT.glm.linear'), q, 'maize EarHT + Q plink2');
  });
});
