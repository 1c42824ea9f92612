/**
 * The built CLI as a user runs it (separate process): a full `mlm` run on maize, `--help`/`--version`, and
 * bad input: clear message naming the file, documented exit code, and no output file left behind.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, bfilePath, dataPath, tempDir } from '../helpers/data.js';

const CLI = join(REPO, 'dist', 'bin', 'gwasgrid.js');
const run = (args: string[]) =>
  spawnSync('node', [CLI, ...args], { encoding: 'utf8', env: { ...process.env, GWASGRID_THREADS: '1' } });

describe('gwasgrid CLI', () => {
  it('runs mlm end to end and writes .assoc.txt and .log.txt', () => {
    const out = join(tempDir('cli'), 'earht');
    const r = run([
      'mlm',
      '--bfile',
      bfilePath('maize_mdp', 'maize_mdp'),
      '--kinship',
      dataPath('maize_mdp', 'reference', 'maize_mdp.cXX.txt'),
      '--lmm',
      '1',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const assoc = readFileSync(`${out}.assoc.txt`, 'utf8').trim().split('\n');
    expect(assoc[0]).toBe('chr\trs\tps\tn_miss\tallele1\tallele0\taf\tbeta\tse\tlogl_H1\tl_remle\tp_wald');
    expect(assoc.length).toBe(2041);
    expect(readFileSync(`${out}.log.txt`, 'utf8')).toMatch(/pve estimate in the null model = 0\.636413/);
    expect(r.stderr).toMatch(/SNP QC on 279 analysed samples/);
  });

  it('prints help with examples and the version', () => {
    const h = run(['mlm', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/--pheno-col/);
    expect(h.stdout).toMatch(/Examples:/);
    for (const cmd of ['kinship', 'coordinator', 'worker']) {
      const c = run([cmd, '--help']);
      expect(c.status, cmd).toBe(0);
      expect(c.stdout, cmd).toMatch(/Examples:\n(.*\n){2,}/);
      expect(c.stdout, cmd).toMatch(/Exit codes|exit codes|\.cXX\.txt/);
    }
    for (const flag of ['--mac', '--hwe', '--mind', '--max-memory', '--format', 'PREFIX.<trait>.assoc.txt'])
      expect(h.stdout).toContain(flag);
    const v = run(['--version']);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('a missing fileset: exit 3, names the file, no output', () => {
    const dir = tempDir('cli');
    const r = run(['mlm', '--bfile', join(dir, 'nope'), '--out', join(dir, 'o')]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/nope\.fam: file not found/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a phenotype file with the wrong row count: exit 3 with the fix, no .assoc.txt', () => {
    const dir = tempDir('cli');
    writeFileSync(join(dir, 'p.txt'), '1\n2\n3\n');
    const r = run([
      'mlm',
      '--bfile',
      bfilePath('maize_mdp', 'maize_mdp'),
      '--pheno',
      join(dir, 'p.txt'),
      '--out',
      join(dir, 'o'),
    ]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/p\.txt: has 3 rows but the genotype data have 281 samples\n {2}fix: /);
    expect(existsSync(join(dir, 'o.assoc.txt'))).toBe(false);
  });

  it('bad flags: exit 2', () => {
    const r = run(['mlm', '--bfile', 'x', '--lmm', '7', '--out', 'y']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/lmm/);
  });
});
