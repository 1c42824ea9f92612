/**
 * `gwasgrid convert` as a user runs it (built CLI, separate process): HapMap → the maize_mdp.bed/.bim bytes,
 * GAPIT numeric matrix → a bed holding exactly the matrix's dosages, and usage errors (two genotype sources,
 * format flags without their format) exit 2 without writing anything.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, dataPath, tempDir } from '../helpers/data.js';
import { BedFile } from '../../shared/genotype/plink.js';
import { NumericFile } from '../../shared/genotype/numeric.js';
import type { GenotypeSource } from '../../shared/genotype/types.js';

const CLI = join(REPO, 'dist', 'bin', 'gwasgrid.js');
const run = (args: string[]) =>
  spawnSync('node', [CLI, 'convert', ...args, '--log-format', 'text'], { encoding: 'utf8' });
const O = (f: string) => dataPath('maize_mdp', 'original', f);

async function rows(g: GenotypeSource): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  for await (const b of g.blocks({ blockSize: 500 }))
    for (let r = 0; r < b.count; r++) out.push(b.data.slice(r * b.n, (r + 1) * b.n));
  return out;
}

describe('gwasgrid convert (CLI)', () => {
  it('--hapmap: writes the maize_mdp.bed and .bim bytes, logs what it did', () => {
    const out = join(tempDir('convert-cli'), 'sub', 'maize');
    const r = run(['--hapmap', O('mdp_genotype_test.hmp.txt'), '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/27 calls with a third allele set to missing/);
    expect(r.stderr).toMatch(
      /wrote .*maize\.bed\/\.bim\/\.fam: 281 samples × 3093 SNPs, 31438 missing calls/,
    );
    expect(readFileSync(`${out}.bed`).equals(readFileSync(dataPath('maize_mdp', 'maize_mdp.bed')))).toBe(
      true,
    );
    expect(readFileSync(`${out}.bim`, 'utf8')).toBe(
      readFileSync(dataPath('maize_mdp', 'maize_mdp.bim'), 'utf8'),
    );
  });

  it('--numeric --map (GAPIT layout): the bed holds exactly the matrix dosages', async () => {
    const out = join(tempDir('convert-cli'), 'num');
    const r = run(['--numeric', O('mdp_numeric.txt'), '--map', O('mdp_SNP_information.txt'), '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const num = await NumericFile.open(O('mdp_numeric.txt'), O('mdp_SNP_information.txt'));
    const bed = await BedFile.open(out);
    expect(bed.fam.map((f) => f.iid)).toEqual(num.sampleIds!.map((s) => s.iid));
    expect(bed.snps.map((s) => [s.chr, s.rs, s.pos])).toEqual(num.snps.map((s) => [s.chr, s.rs, s.pos]));
    const a = await rows(num);
    const b = await rows(bed);
    expect(b.length).toBe(3093);
    let bad = 0;
    a.forEach((row, s) => row.forEach((v, i) => (bad += Object.is(v, b[s][i]) ? 0 : 1)));
    expect(bad).toBe(0);
    await bed.close();
  });

  it('usage errors exit 2 and write nothing', () => {
    const dir = tempDir('convert-cli');
    const hmp = O('mdp_genotype_test.hmp.txt');
    for (const [args, msg] of [
      [['--hapmap', hmp, '--bfile', 'x'], /give one genotype source, not --bfile and --hapmap/],
      [['--hapmap', hmp, '--vcf-field', 'DS'], /--vcf-field and --vcf-multiallelic need --vcf/],
      [['--vcf', 'x.vcf', '--vcf-field', 'AD'], /vcf-field/],
      [[], /no genotypes: give --bfile PREFIX/],
      [['--hapmap', hmp, '--hard-call-threshold', '0.7'], /--hard-call-threshold must be in \[0, 0\.5\]/],
      [['--hapmap', hmp, '--sample-ids', hmp], /--sample-ids is only for --geno/],
    ] as const) {
      const r = run([...args, '--out', join(dir, 'o')]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});
