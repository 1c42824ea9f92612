/**
 * GEMMA `-gk 1` kinship matrices, every entry: ours (computed, written in GEMMA's text format and read back)
 * against GEMMA 0.98.5's .cXX.txt. The reference text has 10 significant digits, so the tolerance is
 * 1e-9 relative to the entry plus 1e-14 absolute (rounding of the print, not of the computation).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { bfilePath, dataPath, tempDir, testBackend } from '../helpers/data.js';
import { memoryLogger } from '../../shared/log.js';
import { GEMMA_QC } from '../../shared/genotype/qc.js';
import { openGenotypes, loadSamples, qcPass, type InputSpec } from '../../shared/methods/inputs.js';
import { readKinship, writeKinship } from '../../shared/kinship/io.js';

const TOL_REL = 1e-9;
const TOL_ABS = 1e-14;

async function checkKinship(spec: InputSpec, ref: string, label: string, expectedSnps: number) {
  const backend = await testBackend();
  const log = memoryLogger();
  const geno = await openGenotypes(spec);
  try {
    const samples = await loadSamples(geno, spec, log);
    const pass = await qcPass(geno, samples, { qc: GEMMA_QC, kinship: 1, backend, log });
    expect(pass.kinshipSnps).toBe(expectedSnps);
    const n = geno.nSamples;
    const path = join(tempDir('kin'), 'k.cXX.txt');
    await writeKinship(path, pass.K!, n);
    const ours = await readKinship(path, n);
    const theirs = await readKinship(ref, n);
    let worst = 0;
    let worstAbs = 0;
    for (let i = 0; i < n * n; i++) {
      const d = Math.abs(ours[i] - theirs[i]);
      worstAbs = Math.max(worstAbs, d);
      const excess = d / (TOL_REL * Math.abs(theirs[i]) + TOL_ABS);
      worst = Math.max(worst, excess);
    }
    console.log(`[kinship ${label}] n = ${n}, SNPs = ${pass.kinshipSnps}, worst |Δ| = ${worstAbs.toExponential(2)}, worst Δ/tolerance = ${worst.toFixed(3)}`);
    expect(worst).toBeLessThanOrEqual(1);
  } finally {
    await geno.close();
  }
}

describe('GEMMA golden: -gk 1 kinship', () => {
  it('mouse_hs1940 from the bed (SNP filter on the CD8-phenotyped mice)', async () => {
    await checkKinship(
      { bfile: bfilePath('mouse_hs1940', 'mouse_hs1940'), phenoCol: 1 },
      dataPath('mouse_hs1940', 'reference', 'mouse_hs1940.cXX.txt.gz'),
      'mouse bed',
      10768,
    );
  });
  it('mouse_hs1940 from BIMBAM dosages', async () => {
    const d = (f: string) => dataPath('mouse_hs1940', f);
    await checkKinship(
      { geno: d('mouse_hs1940.geno.txt.gz'), anno: d('mouse_hs1940.anno.txt'), pheno: d('mouse_hs1940.pheno.txt'), phenoCol: 1 },
      dataPath('mouse_hs1940', 'reference', 'mouse_hs1940.bimbam.cXX.txt.gz'),
      'mouse BIMBAM',
      10768,
    );
  });
  it('maize_mdp (missing genotypes filled with the mean over all 281 lines)', async () => {
    await checkKinship(
      { bfile: bfilePath('maize_mdp', 'maize_mdp') },
      dataPath('maize_mdp', 'reference', 'maize_mdp.cXX.txt'),
      'maize',
      2040,
    );
  });
});
