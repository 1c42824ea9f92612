/**
 * FarmCPU against rMVP 1.4.6 (`MVP(method = "FarmCPU")`, static bins; `MVP.FarmCPU(method.bin = "EMMA")`) on
 * the inputs the references read (the farmcpu_cmlm_README.md of each reference folder): maize = GAPIT's
 * mdp_numeric.txt + mdp_SNP_information.txt with mdp_traits(.validation).txt; mouse = BIMBAM dosages restricted
 * to farmcpu_snps_used_CD8.txt in its order. Checks the pseudo-QTN set of every iteration and every final p
 * (|Δ log10 p| ≤ 1e-6), effect and se, and NA rows.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataPath, tempDir, testBackend } from '../helpers/data.js';
import { readTsv } from '../helpers/assoc.js';
import { memoryLogger } from '../../shared/log.js';
import { runFarmCpuPipeline, type FarmCpuConfig } from '../../shared/methods/farmcpu/pipeline.js';
import { DEFAULT_SETTINGS } from '../../shared/methods/farmcpu/run.js';
import { compareIterations, compareWithRmvp } from './fem-golden.js';

const M = (f: string) => dataPath('maize_mdp', 'original', f);
const R = (f: string) => dataPath('maize_mdp', 'reference', f);

async function maize(trait: string, extra: Partial<FarmCpuConfig> = {}, tag = trait) {
  const sim = trait.startsWith('Sim');
  return runFarmCpuPipeline({
    numeric: M('mdp_numeric.txt'),
    map: M('mdp_SNP_information.txt'),
    pheno: M(sim ? 'mdp_traits_validation.txt' : 'mdp_traits.txt'),
    phenoName: trait,
    impute: 'major',
    npc: 0,
    maf: 0,
    miss: 1,
    settings: DEFAULT_SETTINGS,
    out: join(tempDir(`farmcpu-${tag}`), tag),
    backend: await testBackend(),
    log: memoryLogger(),
    ...extra,
  });
}

describe('FarmCPU golden: maize_mdp vs rMVP static bins', () => {
  for (const trait of ['EarHT', 'dpoll', 'EarDia']) {
    it(`${trait}: pseudo-QTNs of every iteration and final p`, async () => {
      const r = await maize(trait);
      compareIterations(R(`farmcpu_rmvp_static_iterations_${trait}.tsv`), r.snps, r.iterations, `maize ${trait}`);
      compareWithRmvp(R(`farmcpu_rmvp_farmcpu_${trait}.tsv`), r.snps, r.rows, `maize ${trait} FarmCPU`);
      // The pseudo-QTNs' own rows: reward p and reduced-model effect/se (rMVP's per-iteration detail file).
      const det = readTsv(R(`farmcpu_rmvp_static_pseudoQTN_detail_${trait}.tsv`));
      const last = Math.max(...det.rows.map((x) => Number(x[det.col('iteration')])));
      const byName = new Map(r.snps.map((s, i) => [s.rs, i]));
      let worst = 0;
      for (const x of det.rows.filter((x) => Number(x[det.col('iteration')]) === last)) {
        const i = byName.get(x[det.col('SNP')])!;
        worst = Math.max(worst, Math.abs(Math.log10(r.rows.p[i]) - Math.log10(Number(x[det.col('reward_p')]))));
        expect(Math.abs(r.rows.se[i] / Number(x[det.col('se')]) - 1)).toBeLessThan(1e-6);
      }
      expect(worst).toBeLessThan(1e-6);
    });
  }

  it('Sim0: early exit at iteration 2 returns the plain GLM', async () => {
    const r = await maize('Sim0');
    expect(r.earlyExit).toBe(true);
    compareIterations(R('farmcpu_rmvp_static_iterations_Sim0.tsv'), r.snps, r.iterations, 'maize Sim0');
    compareWithRmvp(R('farmcpu_rmvp_farmcpu_Sim0.tsv'), r.snps, r.rows, 'maize Sim0 FarmCPU');
    compareWithRmvp(R('farmcpu_rmvp_glm_Sim0.tsv'), r.snps, r.rows, 'maize Sim0 = rMVP GLM');
  });

  it('EarHT with GAPIT\'s PC1–3 as covariates (early exit; rMVP given the same PCs)', async () => {
    const r = await maize('EarHT', { covar: R('cmlm_gapit_pcs3_used.tsv') }, 'EarHT-pc3');
    expect(r.earlyExit).toBe(true);
    compareWithRmvp(R('farmcpu_rmvp_farmcpu_EarHT_pc3gapit.tsv'), r.snps, r.rows, 'maize EarHT + GAPIT PCs');
  });

  it('partitioning does not change a byte (1 vs 7 in-process partitions)', async () => {
    const one = await maize('EarHT', { partitions: 1 }, 'EarHT-p1');
    const seven = await maize('EarHT', { partitions: 7 }, 'EarHT-p7');
    expect(readFileSync(seven.assocPath, 'utf8')).toBe(readFileSync(one.assocPath, 'utf8'));
    const strip = (s: string) => s.split('\n').map((l) => l.split('\t').slice(0, -1).join('\t')).join('\n');
    expect(strip(readFileSync(seven.iterationsPath, 'utf8'))).toBe(strip(readFileSync(one.iterationsPath, 'utf8')));
  });
});

describe('FarmCPU golden: maize_mdp vs rMVP with EMMA REM bins (--bin-method optimum)', () => {
  it('EarHT: every REM evaluation, pseudo-QTNs of every iteration and final p', async () => {
    const r = await maize('EarHT', { settings: { ...DEFAULT_SETTINGS, binMethod: 'optimum' } }, 'EarHT-emma');
    compareIterations(R('farmcpu_rmvp_binemma_iterations_EarHT.tsv'), r.snps, r.iterations, 'maize EarHT EMMA');
    compareWithRmvp(R('farmcpu_rmvp_farmcpu_binemma_EarHT.tsv'), r.snps, r.rows, 'maize EarHT EMMA FarmCPU');
    const grid = readTsv(R('farmcpu_rmvp_binemma_remgrid_EarHT.tsv'));
    const ours = r.iterations.flatMap((it) => (it.rem ?? []).map((e) => ({ it: it.iteration, ...e })));
    expect(ours.length).toBe(grid.rows.length);
    let worstLL = 0;
    let worstDelta = 0;
    grid.rows.forEach((g, k) => {
      const o = ours[k];
      expect(o.it).toBe(Number(g[grid.col('iteration')]));
      expect(o.binSize).toBe(Number(g[grid.col('bin_size')]));
      expect(o.binCount).toBe(Number(g[grid.col('n_bins')]));
      expect(o.nSnps).toBe(Number(g[grid.col('n_snps_in_GK')]));
      worstLL = Math.max(worstLL, Math.abs(o.m2LL - Number(g[grid.col('m2LL')])));
      // Where σ²_g → 0 (δ near the e^10 edge) the likelihood is flat to 1e-12 and EMMA's choice between the edge
      // and a nearby root is rounding noise; there only −2LL is defined well enough to compare.
      const refDelta = Number(g[grid.col('delta')]);
      if (refDelta < Math.exp(9)) worstDelta = Math.max(worstDelta, Math.abs(Math.log(o.delta / refDelta)));
    });
    console.log(`maize EarHT EMMA: ${ours.length} REM evaluations, worst |Δ −2LL| ${worstLL.toExponential(2)}, worst |Δ log δ| ${worstDelta.toExponential(2)}`);
    // −2LL is flat at the optimum, so uniroot's tolerance on log δ (ε^¼) moves it far less than δ itself.
    expect(worstLL).toBeLessThan(1e-6);
    expect(worstDelta).toBeLessThan(1e-3);
  });
});

describe('FarmCPU golden: mouse_hs1940 CD8 vs rMVP (BIMBAM dosages, positioned GEMMA SNPs)', () => {
  it('CD8: pseudo-QTNs of every iteration and final p (3 partitions)', async () => {
    const D = (f: string) => dataPath('mouse_hs1940', f);
    const r = await runFarmCpuPipeline({
      geno: D('mouse_hs1940.geno.txt.gz'),
      anno: D('mouse_hs1940.anno.txt'),
      pheno: D('mouse_hs1940.pheno.txt'),
      phenoCol: 1,
      snpsFile: D('reference/farmcpu_snps_used_CD8.txt'),
      impute: 'major',
      npc: 0,
      maf: 0,
      miss: 1,
      settings: DEFAULT_SETTINGS,
      out: join(tempDir('farmcpu-cd8'), 'cd8'),
      backend: await testBackend(),
      log: memoryLogger(),
      partitions: 3,
    });
    compareIterations(D('reference/farmcpu_rmvp_farmcpu_iterations_CD8.tsv'), r.snps, r.iterations, 'mouse CD8');
    const c = compareWithRmvp(D('reference/farmcpu_rmvp_farmcpu_CD8.tsv'), r.snps, r.rows, 'mouse CD8 FarmCPU');
    expect(c.naRows).toBe(4);
  });
});
