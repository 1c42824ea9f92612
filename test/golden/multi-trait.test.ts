/**
 * Several phenotypes in one `mlm` run (--pheno-col 1,6 / --pheno-name a,b): each trait's output must be what a
 * separate run of that trait writes, byte for byte, and match GEMMA's separate runs.
 * - mouse CD8 + MCH (1410 vs 1580 analysed samples, so two eigendecompositions) against the GEMMA 0.98.5
 *   references mouse_hs1940.{CD8,MCH}.lmm4.assoc.txt/.log.txt (tolerances of golden-mlm.ts);
 * - maize EarHT (279 samples), dpoll (276), Sim0 and Sim50 (both 281: one eigendecomposition for the two) byte
 *   for byte against separate single-trait runs, with the reference kinship and with the
 *   kinship computed (different SNP masks per trait: one kinship per mask, as separate runs compute).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bfilePath, dataPath, runGoldenMlm, tempDir, testBackend } from '../helpers/data.js';
import { compareWithGemma } from './golden-mlm.js';
import { runMlm } from '../../shared/methods/mlm.js';
import { GEMMA_QC } from '../../shared/genotype/qc.js';
import { memoryLogger } from '../../shared/log.js';

const R = (set: string, f: string) => dataPath(set, 'reference', f);

describe('multi-trait MLM', () => {
  it('mouse CD8 + MCH in one run = GEMMA separate runs', async () => {
    const r = await runGoldenMlm('mouse-multi', {
      bfile: bfilePath('mouse_hs1940', 'mouse_hs1940'),
      kinship: R('mouse_hs1940', 'mouse_hs1940.cXX.txt.gz'),
      traits: [{ phenoCol: 1 }, { phenoCol: 6 }],
    });
    const [cd8, mch] = r.traits!;
    expect(cd8.assocPath).toMatch(/mouse-multi\.col1\.assoc\.txt$/);
    expect(mch.assocPath).toMatch(/mouse-multi\.col6\.assoc\.txt$/);
    compareWithGemma(cd8, R('mouse_hs1940', 'mouse_hs1940.CD8.lmm4.assoc.txt'), R('mouse_hs1940', 'mouse_hs1940.CD8.lmm4.log.txt'), 'multi: mouse CD8');
    compareWithGemma(mch, R('mouse_hs1940', 'mouse_hs1940.MCH.lmm4.assoc.txt'), R('mouse_hs1940', 'mouse_hs1940.MCH.lmm4.log.txt'), 'multi: mouse MCH');
  });

  for (const kinship of ['reference', 'computed'] as const) {
    it(`maize EarHT, dpoll, Sim0, Sim50 (${kinship} kinship) = separate runs, byte for byte`, async () => {
      const backend = await testBackend();
      const dir = tempDir('multi');
      const base = {
        bfile: bfilePath('maize_mdp', 'maize_mdp'),
        pheno: dataPath('maize_mdp', 'maize_mdp.pheno.plink.txt'),
        kinship: kinship === 'reference' ? R('maize_mdp', 'maize_mdp.cXX.txt') : undefined,
        gk: 1 as const,
        lmm: 4 as const,
        qc: GEMMA_QC,
        backend,
        threads: 1,
      };
      const names = ['EarHT', 'dpoll', 'Sim0', 'Sim50'];
      const log = memoryLogger();
      const multi = await runMlm({ ...base, traits: names.map((phenoName) => ({ phenoName })), out: join(dir, 'multi'), log });
      expect(multi.traits!.map((t) => t.assocPath)).toEqual(names.map((n) => join(dir, `multi.${n}.assoc.txt`)));
      // Sim0 and Sim50 have the same 281 samples: one eigendecomposition for the two.
      expect(log.lines.filter((l) => l.startsWith('eigendecomposition')).length).toBe(3);
      expect(log.lines.some((l) => /traits Sim0, Sim50: the same 281 analysed samples/.test(l))).toBe(true);
      for (const [i, phenoName] of names.entries()) {
        const single = await runMlm({ ...base, phenoName, out: join(dir, `single-${phenoName}`), log: memoryLogger() });
        expect(readFileSync(multi.traits![i].assocPath, 'utf8'), phenoName).toBe(readFileSync(single.assocPath, 'utf8'));
        expect(multi.traits![i].lambdaGc).toBe(single.lambdaGc);
      }
    });
  }
});
