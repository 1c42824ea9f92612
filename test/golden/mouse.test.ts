/**
 * GEMMA 0.98.5 golden tests on mouse_hs1940 (commands in ../shared/data/mouse_hs1940/README.md).
 */
import { describe, it } from 'vitest';
import { bfilePath, dataPath, runGoldenMlm } from '../helpers/data.js';
import { compareWithGemma } from './golden-mlm.js';

const M = (f: string) => dataPath('mouse_hs1940', f);
const R = (f: string) => dataPath('mouse_hs1940', 'reference', f);

describe('GEMMA golden: mouse_hs1940 -lmm 4', () => {
  it('CD8 (bed, -n 1, -k cXX)', async () => {
    const r = await runGoldenMlm('mouse-cd8', { bfile: bfilePath('mouse_hs1940', 'mouse_hs1940'), kinship: R('mouse_hs1940.cXX.txt.gz'), phenoCol: 1 });
    compareWithGemma(r, R('mouse_hs1940.CD8.lmm4.assoc.txt'), R('mouse_hs1940.CD8.lmm4.log.txt'), 'mouse CD8');
  });

  it('MCH (bed, -n 6)', async () => {
    const r = await runGoldenMlm('mouse-mch', { bfile: bfilePath('mouse_hs1940', 'mouse_hs1940'), kinship: R('mouse_hs1940.cXX.txt.gz'), phenoCol: 6 });
    compareWithGemma(r, R('mouse_hs1940.MCH.lmm4.assoc.txt'), R('mouse_hs1940.MCH.lmm4.log.txt'), 'mouse MCH');
  });

  it('CD8 + sex covariate (-c, GEMMA-style covariate file)', async () => {
    const r = await runGoldenMlm('mouse-cd8-sex', {
      bfile: bfilePath('mouse_hs1940', 'mouse_hs1940'),
      kinship: R('mouse_hs1940.cXX.txt.gz'),
      covar: M('mouse_hs1940.covariates_sex.txt'),
      phenoCol: 1,
    });
    compareWithGemma(r, R('mouse_hs1940.CD8.sexcov.lmm4.assoc.txt'), R('mouse_hs1940.CD8.sexcov.lmm4.log.txt'), 'mouse CD8+sex');
  });

  it('CD8 from BIMBAM dosages (-g -p -a)', async () => {
    const r = await runGoldenMlm('mouse-bimbam', {
      geno: M('mouse_hs1940.geno.txt.gz'),
      anno: M('mouse_hs1940.anno.txt'),
      pheno: M('mouse_hs1940.pheno.txt'),
      kinship: R('mouse_hs1940.bimbam.cXX.txt.gz'),
      phenoCol: 1,
    });
    compareWithGemma(r, R('mouse_hs1940.bimbam.CD8.lmm4.assoc.txt'), R('mouse_hs1940.bimbam.CD8.lmm4.log.txt'), 'mouse BIMBAM CD8');
  });
});
