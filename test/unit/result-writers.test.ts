/**
 * Output formats (--format) and what every scan reports:
 * - number text: plink2's `%g` (6 digits) reproduces every BETA/SE/T_STAT/P/A1_FREQ string of plink2's own
 *   mouse CD8 .glm.linear (../shared/data/mouse_hs1940/reference, PLINK v2.00a3.5), and R's 15-digit printing
 *   reproduces every effect/se/p string that R wrote in rMVP's maize EarHT MLM reference;
 * - Benjamini–Hochberg = R p.adjust(c(0.01, 0.04, 0.03, 0.2), "BH") = 0.04 0.05333333 0.05333333 0.2;
 * - one maize EarHT scan written in all four formats: headers exactly as the tools name them, one row per SNP,
 *   the same p-values and effects in every file;
 * - λGC = median χ²/0.4549364 against the same statistic computed from GEMMA's own p_wald (reference
 *   maize_mdp.EarHT.lmm4.assoc.txt), tolerance 1e-5 relative (GEMMA prints 7 digits);
 * - a scan that fails half-way leaves no result file and no temporary file.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { g6, rNum } from '../../shared/results/writers/numbers.js';
import { benjaminiHochberg } from '../../shared/results/writers/gapit.js';
import { CHISQ1_MEDIAN } from '../../shared/results/rows.js';
import { runMlm, runMlmOn } from '../../shared/methods/mlm.js';
import { openGenotypes } from '../../shared/methods/inputs.js';
import { GEMMA_QC } from '../../shared/genotype/qc.js';
import { memoryLogger } from '../../shared/log.js';
import { chisqQuantileUpper } from '../../shared/stats/quantiles.js';
import type { GenotypeSource } from '../../shared/genotype/types.js';
import { readTsv } from '../helpers/assoc.js';
import { bfilePath, dataPath, tempDir, testBackend } from '../helpers/data.js';

const R = (set: string, f: string) => dataPath(set, 'reference', f);

describe('number text of other tools', () => {
  it('plink2 %g: every number of plink2\'s mouse CD8 .glm.linear prints back identically', () => {
    const t = readTsv(R('mouse_hs1940', 'mouse_hs1940.plink2.CD8.glm.linear'));
    let n = 0;
    const bad: string[] = [];
    for (const col of ['A1_FREQ', 'BETA', 'SE', 'T_STAT', 'P']) {
      const i = t.col(col);
      for (const r of t.rows) {
        n++;
        if (g6(Number(r[i])) !== r[i]) bad.push(`${col} ${r[i]} → ${g6(Number(r[i]))}`);
      }
    }
    expect(n).toBe(5 * 10300);
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('R 15 digits: every effect/se/p of rMVP\'s maize EarHT MLM prints back identically', () => {
    const t = readTsv(R('maize_mdp', 'farmcpu_rmvp_mlm_EarHT.tsv'));
    const bad: string[] = [];
    for (const col of ['effect', 'se', 'p']) {
      const i = t.col(col);
      for (const r of t.rows) if (r[i] !== 'NA' && r[i] !== 'Inf' && rNum(Number(r[i])) !== r[i]) bad.push(`${col} ${r[i]} → ${rNum(Number(r[i]))}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect([rNum(1e-5), rNum(1e5), rNum(123456), rNum(0.0001), rNum(0.00123), rNum(NaN)]).toEqual(['1e-05', '1e+05', '123456', '1e-04', '0.00123', 'NA']);
  });

  it('Benjamini–Hochberg = R p.adjust(method = "BH")', () => {
    const q = benjaminiHochberg(Float64Array.from([0.01, 0.04, 0.03, 0.2, NaN]));
    expect(Array.from(q.subarray(0, 4)).map((x) => Number(x.toPrecision(7)))).toEqual([0.04, 0.05333333, 0.05333333, 0.2]);
    expect(q[4]).toBeNaN();
  });
});

describe('mlm --format gemma,plink2,gapit,rmvp', () => {
  it('maize EarHT: four files from one scan, named columns, same numbers; λGC matches GEMMA\'s p-values', async () => {
    const dir = tempDir('formats');
    const out = join(dir, 'earht');
    const r = await runMlm({
      bfile: bfilePath('maize_mdp', 'maize_mdp'),
      kinship: R('maize_mdp', 'maize_mdp.cXX.txt'),
      gk: 1,
      lmm: 4,
      qc: GEMMA_QC,
      formats: ['gemma', 'plink2', 'gapit', 'rmvp'],
      out,
      backend: await testBackend(),
      log: memoryLogger(),
      threads: 1,
    });
    expect(r.outputs).toEqual([`${out}.assoc.txt`, `${out}.glm.linear`, `${out}.GWAS_Results.csv`, `${out}.MLM.csv`]);
    const gemma = readTsv(`${out}.assoc.txt`);
    const plink = readTsv(`${out}.glm.linear`);
    expect(readFileSync(`${out}.glm.linear`, 'utf8').split('\n')[0]).toBe('#CHROM\tPOS\tID\tREF\tALT\tA1\tA1_CT\tA1_FREQ\tOBS_CT\tBETA\tSE\tT_STAT\tP');
    const gapit = readFileSync(`${out}.GWAS_Results.csv`, 'utf8').trim().split('\n');
    expect(gapit[0]).toBe('SNP,Chr,Pos,P.value,MAF,nobs,Effect,H&B.P.Value');
    const rmvp = readFileSync(`${out}.MLM.csv`, 'utf8').trim().split('\n');
    expect(rmvp[0]).toBe('"SNP","CHROM","POS","A1","A2","MAF","Effect","SE","col1.MLM"');
    expect(plink.rows.length).toBe(2040);
    expect(gapit.length - 1).toBe(2040);
    expect(rmvp.length - 1).toBe(2040);
    // Row by row (GAPIT is sorted by Chr, Pos; match by SNP name).
    const gapitBy = new Map(gapit.slice(1).map((l) => [l.split(',')[0], l.split(',')]));
    const rmvpBy = new Map(rmvp.slice(1).map((l) => [JSON.parse(l.split(',')[0]) as string, l.split(',')]));
    const [rs, pw, beta, se, af, a1, a0] = ['rs', 'p_wald', 'beta', 'se', 'af', 'allele1', 'allele0'].map((c) => gemma.col(c));
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
    let worst = 0;
    gemma.rows.forEach((g, k) => {
      const p = plink.rows[k];
      expect(p[plink.col('ID')]).toBe(g[rs]);
      expect([p[plink.col('A1')], p[plink.col('ALT')], p[plink.col('REF')]]).toEqual([g[a1], g[a1], g[a0]]);
      expect(p[plink.col('OBS_CT')]).toBe('279');
      const ga = gapitBy.get(g[rs])!;
      const rm = rmvpBy.get(g[rs])!;
      const pval = Number(g[pw]);
      for (const x of [Number(p[plink.col('P')]), Number(ga[3]), Number(rm[8])]) worst = Math.max(worst, rel(x, pval));
      for (const x of [Number(p[plink.col('BETA')]), Number(ga[6]), Number(rm[6])]) worst = Math.max(worst, rel(x, Number(g[beta])));
      worst = Math.max(worst, rel(Number(rm[7]), Number(g[se])));
      worst = Math.max(worst, rel(Number(p[plink.col('T_STAT')]), Number(g[beta]) / Number(g[se])));
      expect(Math.abs(Number(ga[4]) - Math.min(Number(g[af]), 1 - Number(g[af])))).toBeLessThan(6e-4);
      expect([rm[3], rm[4]]).toEqual([`"${g[a0]}"`, `"${g[a1]}"`]);
    });
    console.log(`[formats] worst relative difference to the .assoc.txt (7 digits): ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(5e-6);
    // λGC against GEMMA's own p-values.
    const ref = readTsv(R('maize_mdp', 'maize_mdp.EarHT.lmm4.assoc.txt'));
    const chi = ref.rows.map((x) => chisqQuantileUpper(Number(x[ref.col('p_wald')]), 1)).sort((a, b) => a - b);
    const h = chi.length >> 1;
    const refLambda = (chi.length % 2 ? chi[h] : (chi[h - 1] + chi[h]) / 2) / CHISQ1_MEDIAN;
    console.log(`[formats] λGC ours ${r.lambdaGc}, from GEMMA's p_wald ${refLambda}`);
    expect(rel(r.lambdaGc, refLambda)).toBeLessThan(1e-5);
    expect(readFileSync(r.logPath, 'utf8')).toMatch(/## lambda GC = \d\.\d{6}/);
  });

  it('a scan that fails half-way leaves no result file and no temporary file', async () => {
    const dir = tempDir('atomic');
    const geno = await openGenotypes({ bfile: bfilePath('maize_mdp', 'maize_mdp') });
    let passes = 0;
    // The second pass over the genotypes is the scan: fail after its first block.
    const failing: GenotypeSource = Object.create(geno, {
      blocks: {
        value: async function* (opts: Parameters<GenotypeSource['blocks']>[0]) {
          const pass = ++passes;
          let k = 0;
          for await (const b of geno.blocks(opts)) {
            if (pass === 2 && k++ === 1) throw new Error('disk vanished');
            yield b;
          }
        },
      },
    });
    try {
      await expect(
        runMlmOn(
          {
            bfile: 'unused',
            kinship: R('maize_mdp', 'maize_mdp.cXX.txt'),
            gk: 1,
            lmm: 1,
            qc: GEMMA_QC,
            formats: ['gemma', 'plink2', 'gapit', 'rmvp'],
            out: join(dir, 'x'),
            backend: await testBackend(),
            log: memoryLogger(),
            threads: 1,
            blockSize: 64,
          },
          failing,
        ),
      ).rejects.toThrow('disk vanished');
    } finally {
      await geno.close();
    }
    expect(passes).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
  });
});
