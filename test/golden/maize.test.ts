/**
 * GEMMA 0.98.5 golden tests on maize_mdp (commands in ../shared/data/maize_mdp/README.md). Maize has 3.6%
 * missing genotypes, so these also check mean imputation over the analysed samples and the missingness filter.
 */
import { describe, it } from 'vitest';
import { bfilePath, dataPath, runGoldenMlm } from '../helpers/data.js';
import { compareWithGemma } from './golden-mlm.js';

const M = (f: string) => dataPath('maize_mdp', f);
const R = (f: string) => dataPath('maize_mdp', 'reference', f);
const K = () => R('maize_mdp.cXX.txt');

describe('GEMMA golden: maize_mdp -lmm 4', () => {
  it('EarHT (phenotype from the .fam)', async () => {
    const r = await runGoldenMlm('maize-earht', { bfile: bfilePath('maize_mdp', 'maize_mdp'), kinship: K() });
    compareWithGemma(r, R('maize_mdp.EarHT.lmm4.assoc.txt'), R('maize_mdp.EarHT.lmm4.log.txt'), 'maize EarHT');
  });
  for (const [trait, col] of [
    ['dpoll', 2],
    ['EarDia', 3],
    ['Sim50', 6],
  ] as const) {
    it(`${trait} (-p pheno.txt -n ${col})`, async () => {
      const r = await runGoldenMlm(`maize-${trait}`, { bfile: bfilePath('maize_mdp', 'maize_mdp'), pheno: M('maize_mdp.pheno.txt'), phenoCol: col, kinship: K() });
      compareWithGemma(r, R(`maize_mdp.${trait}.lmm4.assoc.txt`), R(`maize_mdp.${trait}.lmm4.log.txt`), `maize ${trait}`);
    });
  }
  it('EarHT + Q1,Q2 covariates (15 taxa with NA covariates dropped)', async () => {
    const r = await runGoldenMlm('maize-earht-q', {
      bfile: bfilePath('maize_mdp', 'maize_mdp'),
      pheno: M('maize_mdp.pheno.txt'),
      phenoCol: 1,
      covar: M('maize_mdp.covariates_Q.txt'),
      kinship: K(),
    });
    compareWithGemma(r, R('maize_mdp.EarHT.Qcov.lmm4.assoc.txt'), R('maize_mdp.EarHT.Qcov.lmm4.log.txt'), 'maize EarHT+Q');
  });
});
