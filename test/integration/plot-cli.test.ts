/**
 * `gwasgrid plot` and `gwasgrid mlm --plot` as a user runs them (built CLI, separate process): files written,
 * documented exit codes for bad input and bad flags, no output left behind on failure.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, bfilePath, dataPath, tempDir } from '../helpers/data.js';

const CLI = join(REPO, 'dist', 'bin', 'gwasgrid.js');
const run = (args: string[]) =>
  spawnSync('node', [CLI, ...args], { encoding: 'utf8', env: { ...process.env, GWASGRID_THREADS: '1' } });
const TINY = join(REPO, 'test', 'fixtures', 'plot', 'tiny.assoc.txt');

describe('gwasgrid plot', () => {
  it('writes PREFIX.manhattan/qq .svg/.png and logs λGC', () => {
    const dir = tempDir('plot-cli');
    const r = run([
      'plot',
      '--in',
      TINY,
      '--out',
      join(dir, 'fig', 'tiny'),
      '--title',
      'Tiny',
      '--log-format',
      'text',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(dir, 'fig')).sort()).toEqual([
      'tiny.manhattan.png',
      'tiny.manhattan.svg',
      'tiny.qq.png',
      'tiny.qq.svg',
    ]);
    expect(r.stderr).toMatch(/11 SNPs with a p-value, 1 NA skipped, 1 without a position/);
    expect(r.stderr).toMatch(/2 peaks labelled \(rs2, rs10\); QQ λGC = \d\.\d{3}/);
    expect(readFileSync(join(dir, 'fig', 'tiny.manhattan.svg'), 'utf8')).toContain('<title>Tiny</title>');
  });

  it('--help teaches with examples; bad flags exit 2; a missing file exits 3; nothing written', () => {
    const h = run(['plot', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/--p-col/);
    expect(h.stdout).toMatch(/Examples:/);
    const dir = tempDir('plot-cli');
    const col = run(['plot', '--in', TINY, '--p-col', 'P', '--out', join(dir, 'a')]);
    expect(col.status).toBe(2);
    expect(col.stderr).toMatch(/--p-col P: .* has no such column/);
    const fmt = run(['plot', '--in', TINY, '--format', 'pdf', '--out', join(dir, 'b')]);
    expect(fmt.status).toBe(2);
    const missing = run(['plot', '--in', join(dir, 'nope.assoc.txt'), '--out', join(dir, 'c')]);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/nope\.assoc\.txt: file not found/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('mlm --plot writes the plots beside the .assoc.txt', () => {
    const out = join(tempDir('plot-cli'), 'earht');
    const r = run([
      'mlm',
      '--bfile',
      bfilePath('maize_mdp', 'maize_mdp'),
      '--kinship',
      dataPath('maize_mdp', 'reference', 'maize_mdp.cXX.txt'),
      '--lmm',
      '1',
      '--plot',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['assoc.txt', 'manhattan.svg', 'manhattan.png', 'qq.svg', 'qq.png'])
      expect(existsSync(`${out}.${f}`), f).toBe(true);
  });

  it('glm, farmcpu and cmlm --plot write the plots beside their .assoc.txt (p_wald), one point per tested SNP', () => {
    const orig = (f: string) => dataPath('maize_mdp', 'original', f);
    const input = [
      '--numeric',
      orig('mdp_numeric.txt'),
      '--map',
      orig('mdp_SNP_information.txt'),
      '--pheno',
      orig('mdp_traits.txt'),
      '--pheno-name',
      'EarHT',
    ];
    const dir = tempDir('plot-methods');
    for (const [method, extra] of [
      ['glm', []],
      ['farmcpu', []],
      ['cmlm', ['--group-from', '281', '--group-to', '281']],
    ] as const) {
      const out = join(dir, method);
      const r = run([method, ...input, ...extra, '--plot', '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      for (const f of ['manhattan.svg', 'manhattan.png', 'qq.svg', 'qq.png'])
        expect(existsSync(`${out}.${f}`), `${method} ${f}`).toBe(true);
      // Every SNP with a p-value is a QQ point (monomorphic SNPs are NA in glm/farmcpu, p = 1 in GAPIT's cmlm).
      const tested = readFileSync(`${out}.assoc.txt`, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .filter((l) => !/\tNA$/.test(l)).length;
      expect(readFileSync(`${out}.qq.svg`, 'utf8')).toContain(`${tested.toLocaleString('en-US')} SNPs`);
    }
  });
});
