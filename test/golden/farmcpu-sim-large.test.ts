/**
 * sim_large (n = 1956, m = 50,000) against rMVP 1.4.6 (its README: the bed converted by
 * `MVP.Data(fileBed, SNP.impute = "Major")`, phenotype y, no covariates, all defaults): GLM and static-bin
 * FarmCPU (7 iterations, 0 → 58 pseudo-QTNs). One genotype load serves both scans.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { bfilePath, dataPath, testBackend } from '../helpers/data.js';
import { memoryLogger } from '../../shared/log.js';
import { prepareFemInputs, type FemInputs } from '../../shared/methods/fem-inputs.js';
import { InProcessBus } from '../../shared/methods/farmcpu/bus.js';
import { positionKeys } from '../../shared/methods/farmcpu/bins.js';
import { glmScan } from '../../shared/methods/glm.js';
import { DEFAULT_SETTINGS, runFarmCpu } from '../../shared/methods/farmcpu/run.js';
import { compareIterations, compareWithRmvp } from './fem-golden.js';

const R = (f: string) => dataPath('sim_large', 'reference', f);

describe('sim_large vs rMVP (GLM, FarmCPU static bins)', () => {
  let inputs: FemInputs;
  let bus: () => Promise<InProcessBus>;
  beforeAll(async () => {
    const backend = await testBackend();
    inputs = await prepareFemInputs(
      {
        bfile: bfilePath('sim_large', 'sim_n2000_m50000'),
        pheno: dataPath('sim_large', 'sim_n2000_m50000.pheno.plink.txt'),
        phenoName: 'y',
        impute: 'major',
        npc: 0,
        maf: 0,
        miss: 1,
        requirePositions: true,
      },
      backend,
      memoryLogger(),
    );
    const keys = positionKeys(inputs.geno.snps);
    bus = async () => new InProcessBus({ n: inputs.n, y: inputs.y, cv: inputs.cv, cvCols: inputs.cvCols, genotypes: inputs.genotypes, keys, backend }, 2);
  }, 120_000);
  afterAll(async () => {
    await inputs?.raw.close();
  });

  it('GLM', async () => {
    const rows = await glmScan(await bus());
    compareWithRmvp(R('farmcpu_rmvp_glm_y.tsv.gz'), inputs.geno.snps, rows, 'sim_large GLM');
  });

  it('FarmCPU: pseudo-QTNs of every iteration and final p', async () => {
    const r = await runFarmCpu({ n: inputs.n, y: inputs.y, cv: inputs.cv, cvCols: inputs.cvCols, snps: inputs.geno.snps }, DEFAULT_SETTINGS, await bus(), memoryLogger());
    compareIterations(R('farmcpu_rmvp_farmcpu_iterations_y.tsv'), inputs.geno.snps, r.iterations, 'sim_large');
    compareWithRmvp(R('farmcpu_rmvp_farmcpu_y.tsv.gz'), inputs.geno.snps, r.rows, 'sim_large FarmCPU');
  });
});
