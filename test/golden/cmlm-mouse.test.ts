/**
 * CMLM parity with GAPIT 4.1 on mouse_hs1940 CD8 (BIMBAM dosages, GAPIT's SNP set farmcpu_snps_used_CD8.txt;
 * mouse_hs1940/reference/farmcpu_cmlm_README.md). GAPIT searched 39 levels and chose g = 1940 (no
 * compression); the full search takes about a minute here, so the suite runs the chosen level only (Zhang
 * kinship of 1940 mice, REML without Z at n = 1410, every p-value) and `npm run bench:cmlm` runs all 39 levels
 * with the same comparison (groups, −2LL, VA, VE per level).
 */
import { join } from 'node:path';
import { runCmlm } from '../../shared/methods/cmlm.js';
import { memoryLogger } from '../../shared/log.js';
import { dataPath, testBackend, tempDir } from '../helpers/data.js';
import { readTsv } from '../helpers/assoc.js';

const M = (f: string) => dataPath('mouse_hs1940', f);
const REF = (f: string) => dataPath('mouse_hs1940', 'reference', f);

describe('mouse_hs1940 CD8 CMLM vs GAPIT 4.1', () => {
  it('g = 1940 (GAPIT\'s choice): −2LL, VA, VE and all 9100 p-values', async () => {
    const backend = await testBackend();
    const r = await runCmlm({
      geno: M('mouse_hs1940.geno.txt.gz'),
      anno: M('mouse_hs1940.anno.txt'),
      pheno: M('mouse_hs1940.pheno.txt'),
      phenoCol: 1,
      extract: REF('farmcpu_snps_used_CD8.txt'),
      kinshipMethod: 'zhang',
      groupFrom: 1940,
      groupTo: 1940,
      groupBy: 50,
      linkage: 'average',
      groupKinship: 'Mean',
      maf: 0,
      miss: 1,
      out: join(tempDir('cmlm-mouse'), 'cd8'),
      backend,
      log: memoryLogger(),
    });
    const calls = readTsv(REF('cmlm_gapit_cmlm_p3dcalls_CD8.tsv'));
    const ref = calls.rows[0];
    const col = (n: string) => calls.header.indexOf(n);
    const row = r.model.chosen;
    expect(row.g).toBe(1940);
    expect(row.t).toBe(1410);
    expect(Math.abs(row.m2ll - Number(ref[col('REMLs')]))).toBeLessThan(1e-6);
    expect(Math.abs(row.vg / Number(ref[col('vg')]) - 1)).toBeLessThan(1e-8);
    expect(Math.abs(row.ve / Number(ref[col('ve')]) - 1)).toBeLessThan(1e-8);
    const gapit = new Map(readTsv(REF('cmlm_gapit_cmlm_CD8.tsv')).rows.map((x) => [x[0], Number(x[3])]));
    const ours = readTsv(r.assocPath).rows;
    expect(ours.length).toBe(9100);
    let worst = 0;
    for (const x of ours) worst = Math.max(worst, Math.abs(Math.log10(Number(x[9])) - Math.log10(gapit.get(x[1])!)));
    console.log(`mouse CD8 g = 1940: worst |Δ log10 p| = ${worst.toExponential(2)} (file precision 2.2e-7)`);
    expect(worst).toBeLessThan(1e-6);
  }, 300_000);
});
