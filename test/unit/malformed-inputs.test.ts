/**
 * The malformed-input corpus (test/fixtures/malformed/, made by make.mjs there): every case runs the built CLI
 * (dist/bin/gwasgrid.js) as a user would and must exit non-zero with the documented code, name the file (and
 * the line where there is one) on stderr, give a fix, and leave no result file behind. A control run on the
 * valid base set proves the failures come from the malformations.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, tempDir } from '../helpers/data.js';

const CLI = join(REPO, 'dist', 'bin', 'gwasgrid.js');
const FX = join(REPO, 'test', 'fixtures', 'malformed');
const B = (f: string) => join(FX, 'base', f);
const C = (name: string, f: string) => join(FX, 'cases', name, f);
const BASE_BED = ['--bfile', B('b')];
const BIMBAM = (geno = B('b.geno.txt'), anno = B('b.anno.txt')) => ['--geno', geno, '--anno', anno, '--pheno', B('pheno.gemma.txt')];

interface Case {
  name: string;
  args: string[];
  /** Expected exit code. */
  code: number;
  /** Must appear on stderr: the file (and line), and what is wrong. */
  stderr: RegExp[];
}

const cases: Case[] = [
  { name: 'truncated-bed', args: ['--bfile', C('truncated-bed', 'b')], code: 3, stderr: [/truncated-bed\/b\.bed: size is 19 bytes but 8 SNPs .* need 27 \(truncated\?\)/] },
  { name: 'wrong-bed-magic', args: ['--bfile', C('wrong-bed-magic', 'b')], code: 3, stderr: [/wrong-bed-magic\/b\.bed: not a PLINK 1 \.bed file \(magic bytes 23 21/] },
  { name: 'sample-major-bed', args: ['--bfile', C('sample-major-bed', 'b')], code: 3, stderr: [/sample-major-bed\/b\.bed: sample-major \.bed/] },
  { name: 'bim-fam-count-mismatch', args: ['--bfile', C('bim-fam-count-mismatch', 'b')], code: 3, stderr: [/bim-fam-count-mismatch\/b\.bed: size is 27 bytes but 9 SNPs \(\.bim\) × 12 samples \(\.fam\) need 30/] },
  { name: 'bim-5-columns', args: ['--bfile', C('bim-5-columns', 'b')], code: 3, stderr: [/bim-5-columns\/b\.bim:4: expected 6 columns/] },
  { name: 'bim-bad-position', args: ['--bfile', C('bim-bad-position', 'b')], code: 3, stderr: [/bim-bad-position\/b\.bim:6: base-pair position "six"/] },
  { name: 'fam-duplicate-ids', args: ['--bfile', C('fam-duplicate-ids', 'b')], code: 3, stderr: [/fam-duplicate-ids\/b\.fam:8, sample I3: duplicate sample ID "F3 I3" \(first on line 3\)/] },
  { name: 'fam-5-columns', args: ['--bfile', C('fam-5-columns', 'b')], code: 3, stderr: [/fam-5-columns\/b\.fam:5: expected at least 6 columns/] },
  { name: 'fam-non-numeric-phenotype', args: ['--bfile', C('fam-non-numeric-phenotype', 'b')], code: 3, stderr: [/fam-non-numeric-phenotype\/b\.fam:10, sample I10: phenotype "tall" is not a number/] },
  { name: 'pheno-non-numeric', args: [...BASE_BED, '--pheno', C('pheno-non-numeric', 'p.txt')], code: 3, stderr: [/pheno-non-numeric\/p\.txt:7, sample I6: phenotype "trait1" has non-numeric value "1,5"/] },
  { name: 'pheno-gemma-non-numeric', args: [...BASE_BED, '--pheno', C('pheno-gemma-non-numeric', 'p.txt')], code: 3, stderr: [/pheno-gemma-non-numeric\/p\.txt:5: column 1 has non-numeric value "abc"/] },
  { name: 'pheno-all-missing', args: [...BASE_BED, '--pheno', C('pheno-all-missing', 'p.txt'), '--pheno-name', 'trait1'], code: 3, stderr: [/pheno-all-missing\/p\.txt: phenotype trait1 is missing for every genotyped sample/] },
  { name: 'pheno-unknown-ids', args: [...BASE_BED, '--pheno', C('pheno-unknown-ids', 'p.txt')], code: 3, stderr: [/pheno-unknown-ids\/p\.txt: none of its 12 sample IDs are in the genotype data \(first: X1 Y1 \(line 2\)\)/] },
  { name: 'pheno-empty', args: [...BASE_BED, '--pheno', C('pheno-empty', 'p.txt')], code: 3, stderr: [/pheno-empty\/p\.txt: phenotype file is empty/] },
  { name: 'pheno-wrong-row-count', args: [...BASE_BED, '--pheno', C('pheno-wrong-row-count', 'p.txt')], code: 3, stderr: [/pheno-wrong-row-count\/p\.txt: has 9 rows but the genotype data have 12 samples/] },
  { name: 'pheno-duplicate-ids', args: [...BASE_BED, '--pheno', C('pheno-duplicate-ids', 'p.txt')], code: 3, stderr: [/pheno-duplicate-ids\/p\.txt:6, sample I2: duplicate sample "F2 I2" \(first on line 3\)/] },
  { name: 'pheno-short-row', args: [...BASE_BED, '--pheno', C('pheno-short-row', 'p.txt')], code: 3, stderr: [/pheno-short-row\/p\.txt:9: has 3 columns but the header has 4/] },
  { name: 'pheno-col-out-of-range', args: [...BASE_BED, '--pheno', B('pheno.plink.txt'), '--pheno-col', '3'], code: 2, stderr: [/--pheno-col 3 is out of range: .*base\/pheno\.plink\.txt has 2 phenotype column\(s\)/] },
  { name: 'pheno-col-out-of-range-fam', args: [...BASE_BED, '--pheno-col', '2'], code: 2, stderr: [/--pheno-col 2 is out of range: .*base\/b\.fam has 1 phenotype column\(s\)/] },
  { name: 'pheno-name-unknown', args: [...BASE_BED, '--pheno', B('pheno.plink.txt'), '--pheno-name', 'height'], code: 3, stderr: [/base\/pheno\.plink\.txt: has no phenotype named "height"/] },
  { name: 'covar-constant', args: [...BASE_BED, '--covar', C('covar-constant', 'c.txt')], code: 3, stderr: [/covar-constant\/c\.txt: covariate covariate 2 is constant over the analysed samples, like the intercept covariate 1/] },
  { name: 'covar-collinear', args: [...BASE_BED, '--covar', C('covar-collinear', 'c.txt')], code: 3, stderr: [/covar-collinear\/c\.txt: covariate agesex is a linear combination of intercept, age, sex over the analysed samples/] },
  { name: 'covar-missing-column', args: [...BASE_BED, '--covar', C('covar-missing-column', 'c.txt')], code: 3, stderr: [/covar-missing-column\/c\.txt:11: has 3 columns but the header has 4/] },
  { name: 'covar-non-numeric', args: [...BASE_BED, '--covar', C('covar-non-numeric', 'c.txt')], code: 3, stderr: [/covar-non-numeric\/c\.txt:4, sample I3: covariate "age" has non-numeric value "thirty"/] },
  { name: 'covar-empty', args: [...BASE_BED, '--covar', C('covar-empty', 'c.txt')], code: 3, stderr: [/covar-empty\/c\.txt: covariate file is empty/] },
  { name: 'bimbam-wrong-count', args: BIMBAM(C('bimbam-wrong-count', 'g.txt')), code: 3, stderr: [/bimbam-wrong-count\/g\.txt:5, SNP rs5: has 11 dosages but the first line has 12/] },
  { name: 'bimbam-non-numeric', args: BIMBAM(C('bimbam-non-numeric', 'g.txt')), code: 3, stderr: [/bimbam-non-numeric\/g\.txt:3, SNP rs3: dosage "two" is not a number or NA/] },
  { name: 'bimbam-empty', args: BIMBAM(C('bimbam-empty', 'g.txt')), code: 3, stderr: [/bimbam-empty\/g\.txt: BIMBAM file has no SNPs/] },
  { name: 'anno-missing-snps', args: BIMBAM(B('b.geno.txt'), C('anno-missing-snps', 'a.txt')), code: 3, stderr: [/anno-missing-snps\/a\.txt: none of the 8 SNPs of .*b\.geno\.txt is in the annotation/] },
  { name: 'anno-bad-position', args: BIMBAM(B('b.geno.txt'), C('anno-bad-position', 'a.txt')), code: 3, stderr: [/anno-bad-position\/a\.txt:3: position "3k" is not a number or NA/] },
  { name: 'kinship-wrong-size', args: [...BASE_BED, '--kinship', C('kinship-wrong-size', 'k.txt')], code: 3, stderr: [/kinship-wrong-size\/k\.txt:1: row has 11 values but the genotype data have 12 samples/] },
  { name: 'kinship-non-numeric', args: [...BASE_BED, '--kinship', C('kinship-non-numeric', 'k.txt')], code: 3, stderr: [/kinship-non-numeric\/k\.txt:3: value "x0\.1" is not a number/] },
  { name: 'kinship-too-many-rows', args: [...BASE_BED, '--kinship', C('kinship-too-many-rows', 'k.txt')], code: 3, stderr: [/kinship-too-many-rows\/k\.txt:13: has more than 12 rows/] },
  { name: 'maf-removes-everything', args: [...BASE_BED, '--maf', '0.4'], code: 3, stderr: [/base\/b: no SNP passed QC \(see the counts above\)/, /removed 0 for missingness > 0\.05, 8 for MAF < 0\.4/] },
  { name: 'mac-removes-everything', args: [...BASE_BED, '--mac', '100'], code: 3, stderr: [/base\/b: no SNP passed QC/, /8 for MAC < 100/] },
];

/** Runs the CLI asynchronously (cases run a few at a time). */
function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('node', [CLI, 'mlm', ...args], { env: { ...process.env, GWASGRID_THREADS: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stderr }));
  });
}

async function pool<T, R>(items: T[], width: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]);
      }
    }),
  );
  return out;
}

describe('malformed inputs (CLI)', () => {
  it('the valid base set runs (control), PLINK and BIMBAM', async () => {
    const dir = tempDir('malformed-ok');
    const [bed, bimbam] = await Promise.all([
      runCli([...BASE_BED, '--covar', B('covar.plink.txt'), '--out', join(dir, 'bed')]),
      runCli([...BIMBAM(), '--kinship', B('b.cXX.txt'), '--out', join(dir, 'bimbam')]),
    ]);
    expect(bed.code, bed.stderr).toBe(0);
    expect(bimbam.code, bimbam.stderr).toBe(0);
    expect(existsSync(join(dir, 'bed.assoc.txt'))).toBe(true);
    expect(existsSync(join(dir, 'bimbam.assoc.txt'))).toBe(true);
  });

  const failing = cases.filter((c) => c.code !== 0);
  it(`${failing.length} malformed cases: exit code, file (and line) and fix on stderr, no result file`, async () => {
    expect(failing.length).toBeGreaterThanOrEqual(30);
    const results = await pool(failing, 4, async (c) => {
      const dir = tempDir(`malformed-${c.name}`);
      const r = await runCli([...c.args, '--out', join(dir, 'out'), '--format', 'gemma,plink2']);
      return { c, r, left: readdirSync(dir) };
    });
    const problems: string[] = [];
    for (const { c, r, left } of results) {
      const why: string[] = [];
      if (r.code !== c.code) why.push(`exit ${r.code}, expected ${c.code}`);
      for (const re of c.stderr) if (!re.test(r.stderr)) why.push(`stderr lacks ${re}`);
      if (!/\n {2}fix: \S/.test(r.stderr)) why.push('no "fix:" line');
      if (/internal error|at .*\.js:\d+/.test(r.stderr)) why.push('stack trace / internal error');
      if (left.length > 0) why.push(`left files: ${left.join(', ')}`);
      if (why.length) problems.push(`${c.name}: ${why.join('; ')}\n    stderr: ${r.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n    ')}`);
    }
    expect(problems).toEqual([]);
  }, 240_000);
});
