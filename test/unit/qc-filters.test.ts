/**
 * The QC flags against plink2 (PLINK v2.00a3.5, Debian plink2 2.00~a3.5-220809+dfsg-1+b2), commands run in
 * ../shared/data/<set>, counts from plink2's log:
 * - --hwe: `plink2 --bfile mouse_hs1940 --pheno mouse_hs1940.pheno.plink.txt --pheno-name CD8 --require-pheno CD8
 *   --nonfounders --hwe 1e-3 --write-snplist` → "1470 variants removed due to Hardy-Weinberg exact test" of the
 *   10300 variants plink2 loads (it skips the 1926 with bp -9);
 * - --mac: `plink2 --bfile maize_mdp --pheno maize_mdp.pheno.plink.txt --pheno-name EarHT --require-pheno EarHT
 *   --mac 20 --write-snplist` → "439 variants removed due to allele frequency threshold(s)";
 * - --mind: `plink2 --bfile maize_mdp --mind 0.1 --write-samples` → "22 samples removed" (maize_mind.mindrem.id,
 *   listed below).
 * Exact counts and sample lists are expected (no tolerance).
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BedFile } from '../../shared/genotype/plink.js';
import { SnpQc } from '../../shared/genotype/qc.js';
import { sampleMissingness } from '../../shared/genotype/sample-qc.js';
import { alignSamples } from '../../shared/samples/align.js';
import { loadSamples, genotypeSamples } from '../../shared/methods/inputs.js';
import { memoryLogger } from '../../shared/log.js';
import { bfilePath, dataPath, tempDir } from '../helpers/data.js';

async function qcWith(set: string, pheno: { phenoCol?: number; phenoName?: string; pheno?: string }, opts: { mac?: number; hwe?: number }) {
  const geno = await BedFile.open(bfilePath(set, set));
  try {
    const samples = await loadSamples(geno, pheno, memoryLogger());
    const qc = new SnpQc(geno.snps, true, { maf: 0, miss: 1, r2: 0.9999, ...opts }, samples.W, samples.c);
    for await (const b of geno.blocks({ blockSize: 512 })) {
      for (let r = 0; r < b.count; r++) qc.evaluate(b.indices[r], b.data, r * b.n, samples.analysed);
    }
    return { geno, qc };
  } finally {
    await geno.close();
  }
}

describe('QC filters = plink2', () => {
  it('--hwe 1e-3 on mouse CD8 samples removes plink2\'s 1470 of its 10300 variants', async () => {
    const withHwe = await qcWith('mouse_hs1940', { phenoCol: 1 }, { hwe: 1e-3 });
    const without = await qcWith('mouse_hs1940', { phenoCol: 1 }, {});
    const snps = withHwe.geno.snps;
    let considered = 0;
    let removed = 0;
    for (let s = 0; s < snps.length; s++) {
      if (snps[s].pos <= 0) continue; // plink2 does not load variants with bp -9
      considered++;
      if (without.qc.mask[s] && !withHwe.qc.mask[s]) removed++;
    }
    expect(considered).toBe(10300);
    expect(removed).toBe(1470);
  });

  it('--mac 20 on maize EarHT samples removes plink2\'s 439 variants', async () => {
    const { qc } = await qcWith('maize_mdp', { pheno: dataPath('maize_mdp', 'maize_mdp.pheno.plink.txt'), phenoName: 'EarHT' }, { mac: 20 });
    expect(qc.counts.mac).toBe(439);
    expect(qc.counts.kept + qc.counts.monomorphic).toBe(2654);
  });

  it('--mind 0.1 on maize removes plink2\'s 22 samples', async () => {
    const geno = await BedFile.open(bfilePath('maize_mdp', 'maize_mdp'));
    try {
      const r = await sampleMissingness(geno, 0.1);
      const ids = r.removedIdx.map((i) => geno.fam[i].iid).sort();
      expect(ids).toEqual(
        ['4722', 'CML10', 'CML247', 'CML281', 'CML328', 'D940Y', 'F2834T', 'I29', 'IA5125', 'K4', 'KY226', 'M162W', 'MO45', 'N7A', 'NC342', 'PA91', 'R109B', 'SC55', 'SD40', 'SG1533', 'TZI11', 'VA26'].sort(),
      );
      // Removed samples are never analysed, and the summary counts them.
      const s = await alignSamples(genotypeSamples(geno), {}, r.removed);
      expect(s.analysed.length).toBeLessThan(279);
      expect(Array.from(s.analysed).some((i) => r.removed[i])).toBe(false);
      expect(s.summary.some((l) => /sample QC \(--mind\): \d+ phenotyped samples of fam column 6 removed/.test(l))).toBe(true);
    } finally {
      await geno.close();
    }
  });

  it('PLINK-style covariates: a constant column is dropped with a note, collinear ones are refused', async () => {
    const geno = await BedFile.open(bfilePath('maize_mdp', 'maize_mdp'));
    try {
      const dir = tempDir('covar');
      const fam = geno.fam;
      const constant = join(dir, 'c.txt');
      writeFileSync(constant, 'FID IID q batch\n' + fam.map((f, i) => `${f.fid} ${f.iid} ${(i % 7) / 7} 3`).join('\n') + '\n');
      const s = await alignSamples(genotypeSamples(geno), { covarFile: constant });
      expect(s.c).toBe(2);
      expect(s.covNames).toEqual(['intercept', 'q']);
      expect(s.summary).toContain('covariate batch is constant over the analysed samples: dropped (the intercept already models it)');
      const collinear = join(dir, 'd.txt');
      writeFileSync(collinear, 'FID IID a b c\n' + fam.map((f, i) => `${f.fid} ${f.iid} ${i % 5} ${i % 3} ${(i % 5) - 2 * (i % 3)}`).join('\n') + '\n');
      await expect(alignSamples(genotypeSamples(geno), { covarFile: collinear })).rejects.toThrow(/covariate c is a linear combination of intercept, a, b/);
    } finally {
      await geno.close();
    }
  });
});
