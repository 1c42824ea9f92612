/**
 * Issue #6 "must show", mouse_hs1940: the same genotypes as VCF (GT, GT gzipped, DS), written here from
 * mouse_hs1940.bed by test/helpers/vcf-writer.ts, give exactly the bed's dosages and byte-identical MLM output
 * (CD8, `-lmm 4`, GEMMA's kinship), which also matches GEMMA 0.98.5's reference
 * (`gemma -bfile mouse_hs1940 -k $K -lmm 4 -n 1`, mouse README) with the golden tolerances. `convert`
 * turns the VCF back into the original .bed bytes, and the BIMBAM file (rounded half up, as the README says the
 * bed was made) into the .bed and .bim bytes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bfilePath, dataPath, runGoldenMlm, tempDir } from '../helpers/data.js';
import { writeTestVcf } from '../helpers/vcf-writer.js';
import { compareWithGemma } from './golden-mlm.js';
import { BedFile } from '../../shared/genotype/plink.js';
import { BimbamFile } from '../../shared/genotype/bimbam.js';
import { VcfFile } from '../../shared/genotype/vcf.js';
import { writePlink, readSampleIdList } from '../../shared/genotype/plink-write.js';
import type { GenotypeSource } from '../../shared/genotype/types.js';
import type { MlmResult } from '../../shared/methods/mlm.js';

const M = (f: string) => dataPath('mouse_hs1940', f);
const R = (f: string) => dataPath('mouse_hs1940', 'reference', f);
const BFILE = () => bfilePath('mouse_hs1940', 'mouse_hs1940');

const dir = tempDir('vcf-mouse');
const GT = join(dir, 'mouse.gt.vcf');
const GTGZ = join(dir, 'mouse.gt.vcf.gz');
const DS = join(dir, 'mouse.ds.vcf');
const common = () => ({ pheno: M('mouse_hs1940.pheno.txt'), phenoCol: 1, kinship: R('mouse_hs1940.cXX.txt.gz') });
let bedRun: MlmResult;

/** Number of dosages that differ (Object.is, so NaN = NaN) between two sources, over every SNP and sample. */
async function dosageMismatches(a: GenotypeSource, b: GenotypeSource): Promise<number> {
  expect(a.nSamples).toBe(b.nSamples);
  expect(a.snps.length).toBe(b.snps.length);
  const rowsB: Float64Array[] = [];
  for await (const blk of b.blocks({ blockSize: 1000 })) for (let r = 0; r < blk.count; r++) rowsB.push(blk.data.slice(r * blk.n, (r + 1) * blk.n));
  let bad = 0;
  let s = 0;
  for await (const blk of a.blocks({ blockSize: 777 })) {
    for (let r = 0; r < blk.count; r++, s++) for (let i = 0; i < blk.n; i++) if (!Object.is(blk.data[r * blk.n + i], rowsB[s][i])) bad++;
  }
  return bad;
}

beforeAll(async () => {
  const bed = await BedFile.open(BFILE());
  await writeTestVcf(bed, GT, { field: 'GT' });
  await writeTestVcf(bed, GTGZ, { field: 'GT', gzip: true });
  await writeTestVcf(bed, DS, { field: 'DS' });
  await bed.close();
  bedRun = await runGoldenMlm('mouse-bed-ref', { bfile: BFILE(), ...common() });
});

describe('VCF = bed: mouse_hs1940', () => {
  it('GT, GT.gz and DS give exactly the bed dosages, alleles (ALT = A1) and positions; read throughput', async () => {
    const bed = await BedFile.open(BFILE());
    for (const [path, field] of [
      [GT, 'GT'],
      [GTGZ, 'GT'],
      [DS, 'DS'],
    ] as const) {
      const t = performance.now();
      const v = await VcfFile.open(path, { field });
      const s = (performance.now() - t) / 1000;
      console.log(`[vcf read] ${path.split('/').pop()}: ${v.snps.length} SNPs × ${v.nSamples} samples in ${s.toFixed(2)} s = ${Math.round(v.snps.length / s)} SNPs/s`);
      expect(v.sampleIds.map((x) => x.iid)).toEqual(bed.fam.map((f) => f.iid));
      expect(v.snps.map((x) => [x.chr, x.rs, x.pos, x.a1, x.a0])).toEqual(bed.snps.map((x) => [x.chr, x.rs, x.pos, x.a1, x.a0]));
      expect(await dosageMismatches(v, bed)).toBe(0);
    }
    await bed.close();
  });

  it('CD8 -lmm 4 from VCF GT (.vcf.gz): byte-identical to the bed run and matches GEMMA', async () => {
    const r = await runGoldenMlm('mouse-vcf-gt', { vcf: GTGZ, ...common() });
    expect(readFileSync(r.assocPath).equals(readFileSync(bedRun.assocPath))).toBe(true);
    compareWithGemma(r, R('mouse_hs1940.CD8.lmm4.assoc.txt'), R('mouse_hs1940.CD8.lmm4.log.txt'), 'mouse VCF GT CD8');
  });

  it('CD8 -lmm 4 from VCF DS: byte-identical to the bed run', async () => {
    const r = await runGoldenMlm('mouse-vcf-ds', { vcf: DS, vcfField: 'DS', ...common() });
    expect(readFileSync(r.assocPath).equals(readFileSync(bedRun.assocPath))).toBe(true);
  });

  it('the bed run itself matches GEMMA (the reference the VCF runs are held to)', () => {
    compareWithGemma(bedRun, R('mouse_hs1940.CD8.lmm4.assoc.txt'), R('mouse_hs1940.CD8.lmm4.log.txt'), 'mouse bed CD8');
  });
});

describe('convert round trips: mouse_hs1940', () => {
  it('bed → VCF (test writer) → convert → the original .bed bytes; .bim equal but for cM (VCF has none)', async () => {
    const out = join(tempDir('convert-vcf'), 'back');
    const v = await VcfFile.open(GT);
    const r = await writePlink(out, v);
    expect(r).toMatchObject({ samples: 1940, snps: 12226, missing: 0, hardCalled: 0 });
    expect(readFileSync(`${out}.bed`).equals(readFileSync(`${BFILE()}.bed`))).toBe(true);
    const noCm = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => l.split('\t').filter((_, i) => i !== 2).join('\t'));
    expect(noCm(`${out}.bim`)).toEqual(noCm(`${BFILE()}.bim`));
  });

  it('BIMBAM → convert --hard-call-threshold 0.5 → the .bed and .bim bytes (the bed is floor(d + 0.5), README)', async () => {
    const out = join(tempDir('convert-bimbam'), 'back');
    const g = await BimbamFile.open(M('mouse_hs1940.geno.txt.gz'), M('mouse_hs1940.anno.txt'));
    const r = await writePlink(out, g, { hardCallThreshold: 0.5, sampleIds: await readSampleIdList(M('mouse_hs1940.fam'), 1940) });
    expect(r).toMatchObject({ samples: 1940, snps: 12226, missing: 0, hardCalled: 19196, setMissing: 0 });
    expect(readFileSync(`${out}.bed`).equals(readFileSync(`${BFILE()}.bed`))).toBe(true);
    expect(readFileSync(`${out}.bim`, 'utf8')).toBe(readFileSync(`${BFILE()}.bim`, 'utf8'));
    // The default threshold 0.1 (plink2's) sets the far-from-integer dosages missing instead.
    const out2 = join(tempDir('convert-bimbam'), 'strict');
    const r2 = await writePlink(out2, g);
    expect(r2.hardCalled + r2.setMissing).toBe(19196);
    expect(r2.setMissing).toBeGreaterThan(0);
  });
});
