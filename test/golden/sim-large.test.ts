/**
 * GEMMA 0.98.5 golden tests on sim_large (2000 × 50,000, structured population, 0.2% missing calls). GEMMA's
 * kinship was not kept (58 MB), so gwasgrid computes it (`-gk 1`, checked against GEMMA on mouse and maize).
 */
import { describe, it } from 'vitest';
import { bfilePath, dataPath, runGoldenMlm } from '../helpers/data.js';
import { compareWithGemma } from './golden-mlm.js';

const P = 'sim_n2000_m50000';
const R = (f: string) => dataPath('sim_large', 'reference', f);

describe('GEMMA golden: sim_large -lmm 4 (kinship computed)', () => {
  it('no covariates', async () => {
    const r = await runGoldenMlm('sim', { bfile: bfilePath('sim_large', P) });
    compareWithGemma(r, R(`${P}.lmm4.assoc.txt.gz`), R(`${P}.lmm4.log.txt`), 'sim_large');
  }, 600_000);
  it('covariates 1, sex, age (-c)', async () => {
    const r = await runGoldenMlm('sim-cov', { bfile: bfilePath('sim_large', P), covar: dataPath('sim_large', `${P}.covariates.txt`) });
    compareWithGemma(r, R(`${P}.cov.lmm4.assoc.txt.gz`), R(`${P}.cov.lmm4.log.txt`), 'sim_large + covariates');
  }, 600_000);
});
