/**
 * CMLM parity with GAPIT 4.1 on its maize tutorial data (maize_mdp/reference/cmlm_*; made with
 * `GAPIT(Y, GD, GM, model = "CMLM", file.output = FALSE)`, see farmcpu_cmlm_README.md): the Zhang kinship,
 * every compression level's −2LL, VA and VE (p3dcalls files, in search order), the chosen level, and every
 * marker's p-value. Also: the low-rank P3D scan equals a dense n × n P3D scan on the same compressed model.
 *
 * Tolerances (issue #5): −2LL within 1e-3, VA/VE within 1e-5 relative, |Δ log10 p| ≤ 1e-6, kinship 1e-12. The
 * assertions are tighter where our measured agreement allows (printed worst cases in the test names' logs).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { filterAndKinship, fitCmlm, clusteringOrder, scanCmlm, runCmlm, type CmlmModel } from '../../shared/methods/cmlm.js';
import { openGenotypes, loadSamples, type InputSpec } from '../../shared/methods/inputs.js';
import type { GenotypeSource } from '../../shared/genotype/types.js';
import type { P3dResult } from '../../shared/cmlm/p3d.js';
import { denseP3d, P3dScanner } from '../../shared/cmlm/p3d.js';
import { memoryLogger } from '../../shared/log.js';
import { dataPath, testBackend, tempDir } from '../helpers/data.js';
import { readTsv } from '../helpers/assoc.js';

const ORIG = (f: string) => dataPath('maize_mdp', 'original', f);
const REF = (f: string) => dataPath('maize_mdp', 'reference', f);
const DEFAULTS = { groupFrom: 1, groupTo: Infinity, groupBy: 50, linkage: 'average', groupKinship: 'Mean' } as const;

function spec(trait: string): InputSpec {
  const validation = trait.startsWith('Sim');
  return {
    numeric: ORIG('mdp_numeric.txt'),
    map: ORIG('mdp_SNP_information.txt'),
    pheno: ORIG(validation ? 'mdp_traits_validation.txt' : 'mdp_traits.txt'),
    phenoName: trait.replace(/_pc3$/, ''),
    covar: trait.endsWith('_pc3') ? REF('cmlm_gapit_pcs3_used.tsv') : undefined,
  };
}

let geno: GenotypeSource;
let K: Float64Array;

beforeAll(async () => {
  const backend = await testBackend();
  geno = await openGenotypes(spec('EarHT'));
  const samples = await loadSamples(geno, spec('EarHT'), memoryLogger());
  ({ K } = await filterAndKinship(geno, samples, { kinshipMethod: 'zhang', maf: 0, miss: 1, backend, log: memoryLogger() }));
}, 120_000);

afterAll(async () => {
  await geno?.close();
});

describe('maize_mdp CMLM vs GAPIT 4.1', () => {
  it('Zhang kinship of all 281 genotyped taxa equals GAPIT\'s to 1e-12', () => {
    const lines = gunzipSync(readFileSync(REF('cmlm_gapit_kinship_zhang.tsv.gz'))).toString('utf8').trim().split('\n');
    const taxa = lines[0].split('\t').slice(1);
    const index = new Map(geno.sampleIds!.map((s, i) => [s.iid, i]));
    const n = geno.nSamples;
    expect(taxa.length).toBe(n);
    let worst = 0;
    for (let a = 0; a < n; a++) {
      const row = lines[a + 1].split('\t');
      expect(row[0]).toBe(taxa[a]);
      const ia = index.get(taxa[a])!;
      for (let b = 0; b < n; b++) worst = Math.max(worst, Math.abs(Number(row[b + 1]) - K[ia * n + index.get(taxa[b])!]));
    }
    console.log(`Zhang kinship: worst |Δ| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-12);
  });

  const TRAITS: Array<[string, number]> = [
    ['EarHT', 281],
    ['dpoll', 281],
    ['EarDia', 281],
    ['Sim50', 131],
    ['EarHT_pc3', 281],
  ];

  it.each(TRAITS)('%s: compression levels, chosen g = %i and every p-value', async (trait, chosenG) => {
    const backend = await testBackend();
    const log = memoryLogger();
    const samples = await loadSamples(geno, spec(trait), log);
    const model = await fitCmlm(K, geno.nSamples, clusteringOrder(geno), samples, { ...DEFAULTS, backend, log });

    // Every level, in GAPIT's search order (the p3dcalls rows without the final scan).
    const calls = readTsv(REF(`cmlm_gapit_cmlm_p3dcalls_${trait}.tsv`));
    const col = (name: string) => calls.header.indexOf(name);
    const searched = calls.rows.filter((r) => r[col('optOnly')] === '1');
    expect(model.rows.map((r) => r.g)).toEqual([281, 231, 181, 131, 81, 31]);
    expect(model.rows.length).toBe(searched.length);
    let worstLL = 0;
    let worstV = 0;
    model.rows.forEach((row, i) => {
      const ref = searched[i];
      const ngrp = ref[col('ngrp')];
      expect(row.t).toBe(ngrp === 'NA' ? samples.analysed.length : Number(ngrp));
      worstLL = Math.max(worstLL, Math.abs(row.m2ll - Number(ref[col('REMLs')])));
      worstV = Math.max(worstV, Math.abs(row.vg / Number(ref[col('vg')]) - 1), Math.abs(row.ve / Number(ref[col('ve')]) - 1));
    });
    console.log(`${trait}: worst |Δ −2LL| = ${worstLL.toExponential(2)}, worst VA/VE relative = ${worstV.toExponential(2)}`);
    expect(worstLL).toBeLessThan(1e-6);
    expect(worstV).toBeLessThan(1e-8);
    expect(model.chosen.g).toBe(chosenG);

    // Every marker.
    const results = new Map<number, P3dResult>();
    await scanCmlm(geno, samples, { mask: new Uint8Array(geno.snps.length).fill(1), nMiss: new Int32Array(0), af: new Float64Array(0), kept: 0 }, model, backend, {}, (snp, r) => {
      results.set(snp, r);
    });
    const ref = readTsv(REF(`cmlm_gapit_cmlm_${trait}.tsv`));
    const rsIndex = new Map(geno.snps.map((s, i) => [s.rs, i]));
    let worstP = 0;
    let worstBeta = 0;
    for (const row of ref.rows) {
      const r = results.get(rsIndex.get(row[0])!)!;
      worstP = Math.max(worstP, Math.abs(r.log10p - Math.log10(Number(row[3]))));
      if (row[5] !== 'NA') worstBeta = Math.max(worstBeta, Math.abs(r.beta / Number(row[5]) - 1));
      else expect(r.beta).toBeNaN();
    }
    console.log(`${trait}: ${ref.rows.length} markers, worst |Δ log10 p| = ${worstP.toExponential(2)}, worst effect relative = ${worstBeta.toExponential(2)}`);
    expect(ref.rows.length).toBe(3093);
    expect(worstP).toBeLessThan(1e-8);
    expect(worstBeta).toBeLessThan(1e-8);
  }, 120_000);

  it('the low-rank P3D scan equals a dense n × n P3D scan on the compressed model (Sim50, g = 131) to 1e-10', async () => {
    const backend = await testBackend();
    const log = memoryLogger();
    const samples = await loadSamples(geno, spec('Sim50'), log);
    const model: CmlmModel = await fitCmlm(K, geno.nSamples, clusteringOrder(geno), samples, {
      ...DEFAULTS,
      groupFrom: 131,
      groupTo: 131,
      backend,
      log,
    });
    expect(model.basis.rank).toBe(131);
    const n = samples.analysed.length;
    // Dense ZKWZᵀ from the basis's definition, decomposed whole.
    const Kn = new Float64Array(n * n);
    const { E, mu, rank } = model.basis;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += E[i * rank + k] * mu[k] * E[j * rank + k];
      Kn[i * n + j] = s;
    }
    const eig = await backend.syev(n, Kn);
    let worst = 0;
    let tested = 0;
    for await (const block of geno.blocks({ keep: samples.analysed, blockSize: 64, end: 640 })) {
      for (let r = 0; r < block.count; r += 5) {
        const x = Float64Array.from(block.data.subarray(r * n, (r + 1) * n), (v) => (v === v ? v : 1));
        const e = new Float64Array(rank);
        for (let k = 0; k < rank; k++) for (let i = 0; i < n; i++) e[k] += E[i * rank + k] * x[i];
        if (Math.min(...x) === Math.max(...x)) continue;
        const low = new P3dScanner(model.basis, model.design, model.delta, model.scale).test(x, 0, e, 0);
        const dense = denseP3d(eig.vectors, eig.values, model.design, model.delta, model.scale, x);
        worst = Math.max(worst, Math.abs(low.beta / dense.beta - 1), Math.abs(low.se / dense.se - 1), Math.abs(low.log10p / dense.log10p - 1));
        tested++;
      }
    }
    console.log(`low-rank vs dense P3D: ${tested} markers, worst relative difference ${worst.toExponential(2)}`);
    expect(tested).toBeGreaterThan(100);
    expect(worst).toBeLessThan(1e-10);
  }, 120_000);

  it('the command pipeline writes the assoc, compression, GAPIT CSV and log files (Sim50)', async () => {
    const backend = await testBackend();
    const out = join(tempDir('cmlm'), 'sim50');
    const r = await runCmlm({ ...spec('Sim50'), ...DEFAULTS, kinshipMethod: 'zhang', maf: 0, miss: 1, out, backend, log: memoryLogger() });
    const assoc = readTsv(r.assocPath);
    expect(assoc.header).toEqual(['chr', 'rs', 'ps', 'n_miss', 'allele1', 'allele0', 'af', 'beta', 'se', 'p_wald']);
    expect(assoc.rows.length).toBe(3093);
    const ref = new Map(readTsv(REF('cmlm_gapit_cmlm_Sim50.tsv')).rows.map((row) => [row[0], Number(row[3])]));
    let worst = 0;
    for (const row of assoc.rows) worst = Math.max(worst, Math.abs(Math.log10(Number(row[9])) - Math.log10(ref.get(row[1])!)));
    // The file holds 7 significant digits: ≤ 2.2e-7 in log10.
    expect(worst).toBeLessThan(1e-6);
    const comp = readTsv(r.compressionPath);
    expect(comp.header).toEqual(['group_count', 'groups_with_phenotype', 'linkage', 'group_kinship', 'm2LL', 'VA', 'VE', 'chosen']);
    expect(comp.rows.filter((row) => row[7] === '1').map((row) => row[0])).toEqual(['131']);
    const csv = readFileSync(r.gapitPath, 'utf8').trim().split('\n');
    expect(csv[0]).toBe('SNP,Chr,Pos,P.value,MAF,nobs,Effect,H&B.P.Value');
    expect(csv.length).toBe(3094);
    const first = csv[1].split(',');
    expect(first[5]).toBe('281');
    expect(readFileSync(r.logPath, 'utf8')).toContain('## chosen group count = 131');
  }, 120_000);
});
