/**
 * Malformed VCF and HapMap inputs (test/fixtures/malformed/vcf-*, hmp-*, empty.*): each is refused with an
 * InputError naming the file and the line (and the sample or SNP where one is at fault) plus a fix; the built
 * CLI exits 3 with that message and leaves no output file behind.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VcfFile, type VcfOptions } from '../../shared/genotype/vcf.js';
import { HapmapFile } from '../../shared/genotype/hapmap.js';
import { InputError } from '../../shared/errors.js';
import { REPO, tempDir } from '../helpers/data.js';

const FIX = join(REPO, 'test', 'fixtures', 'malformed');
const CLI = join(REPO, 'dist', 'bin', 'gwasgrid.js');

interface Case {
  file: string;
  line: number;
  message: RegExp;
  sample?: string;
  vcf?: VcfOptions;
}

const VCF_CASES: Case[] = [
  { file: 'vcf-no-chrom-header.vcf', line: 3, message: /data line comes before the "#CHROM/ },
  { file: 'vcf-wrong-sample-count.vcf', line: 5, message: /has 2 sample columns, expected 3/ },
  { file: 'vcf-mixed-ploidy.vcf', line: 5, message: /mixed ploidy: sample S1 has a diploid call but this sample a haploid one/, sample: 'S2' },
  { file: 'vcf-bad-gt.vcf', line: 5, message: /bad genotype "0\/x" \(GT\)/, sample: 'S2' },
  { file: 'vcf-ds-missing.vcf', line: 5, message: /FORMAT "GT" has no DS field/, vcf: { field: 'DS' } },
  { file: 'vcf-bad-pos.vcf', line: 5, message: /POS "12a" is not a whole number/ },
  { file: 'vcf-truncated.vcf.gz', line: 20, message: /read failed after line 19: unexpected end of file \(truncated or corrupt gzip\?\)/ },
  { file: 'vcf-duplicate-samples.vcf', line: 3, message: /duplicate sample name "S1" \(columns 10 and 12\)/, sample: 'S1' },
  { file: 'empty.vcf', line: 1, message: /file is empty/ },
];

const HMP_CASES: Case[] = [
  { file: 'hmp-wrong-columns.hmp.txt', line: 3, message: /has 15 columns, expected 14 \(11 leading columns and 3 taxa/ },
  { file: 'hmp-unknown-call.hmp.txt', line: 3, message: /unknown genotype call "XY"/, sample: 'T2' },
  { file: 'hmp-duplicate-taxa.hmp.txt', line: 1, message: /duplicate taxon name "T1" \(columns 12 and 14\)/, sample: 'T1' },
  { file: 'hmp-bad-pos.hmp.txt', line: 3, message: /position "NA" \(column 4\) is not a whole number/ },
  { file: 'empty.hmp.txt', line: 1, message: /file is empty/ },
];

async function refusal(p: Promise<unknown>): Promise<InputError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

function check(e: InputError, c: Case, path: string): void {
  expect(e.location.file).toBe(path);
  expect(e.location.line).toBe(c.line);
  expect(e.message).toMatch(c.message);
  if (c.sample) expect(e.location.sample).toBe(c.sample);
  expect(e.hint ?? '').not.toBe('');
}

describe('malformed VCF', () => {
  for (const c of VCF_CASES) {
    it(`${c.file}: line ${c.line}, ${c.message.source.slice(0, 40)}`, async () => {
      const path = join(FIX, c.file);
      check(await refusal(VcfFile.open(path, c.vcf)), c, path);
    });
  }
});

describe('malformed HapMap', () => {
  for (const c of HMP_CASES) {
    it(`${c.file}: line ${c.line}, ${c.message.source.slice(0, 40)}`, async () => {
      const path = join(FIX, c.file);
      check(await refusal(HapmapFile.open(path)), c, path);
    });
  }
});

describe('malformed inputs through the CLI: exit 3, file:line in the message, no output', () => {
  const cases = [...VCF_CASES.map((c) => ['--vcf', c] as const), ...HMP_CASES.map((c) => ['--hapmap', c] as const)];
  it.each(cases.map(([flag, c]) => [c.file, flag, c] as const))('%s', (_name, flag, c) => {
    const dir = tempDir('malformed');
    const path = join(FIX, c.file);
    const extra = c.vcf?.field ? ['--vcf-field', c.vcf.field] : [];
    const r = spawnSync('node', [CLI, 'convert', flag, path, ...extra, '--out', join(dir, 'o'), '--log-format', 'text'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain(`gwasgrid: error: ${path}:${c.line}`);
    expect(r.stderr).toMatch(c.message);
    expect(r.stderr).toMatch(/\n {2}fix: /);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('mlm on a malformed VCF: exit 3 and no .assoc.txt/.log.txt', () => {
    const dir = tempDir('malformed');
    const c = VCF_CASES[3];
    const r = spawnSync('node', [CLI, 'mlm', '--vcf', join(FIX, c.file), '--pheno', join(FIX, c.file), '--out', join(dir, 'o'), '--log-format', 'text'], {
      encoding: 'utf8',
      env: { ...process.env, GWASGRID_THREADS: '1' },
    });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/bad genotype "0\/x"/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
