/**
 * `npm run bench:cmlm`: CMLM on mouse_hs1940 CD8 (BIMBAM dosages, GAPIT's SNP set farmcpu_snps_used_CD8.txt,
 * n = 1410 of 1940 genotyped), against GAPIT 4.1's recorded run (cmlm_gapit_summary.tsv: 39 levels in 1825 s)
 * and our own full MLM on the same data:
 *   1. gwasgrid cmlm, GAPIT defaults (levels 1940, 1890, …, 40; GAPIT chose 1940 = no compression), with a parity
 *      check of every level (groups with phenotypes, −2LL, VA, VE) and every p-value against GAPIT;
 *   2. gwasgrid cmlm at one compressed level (--group-from G --group-to G, default G = 440): the low-rank scan;
 *   3. gwasgrid mlm (GEMMA -lmm 1 semantics, centred kinship), the uncompressed reference point.
 * Wall seconds and max RSS from /usr/bin/time -v; stage times from our logs. Options: --g G, --group-by B,
 * --backend auto|native|wasm|ts, --data DIR.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const data = resolve(opt('data', process.env.GWASGRID_DATA ?? join(repo, '../shared/data')));
const backend = opt('backend', 'auto');
const fixedG = opt('g', '440');
const groupBy = opt('group-by', '50');
const out = join(repo, '.bench-out');
mkdirSync(out, { recursive: true });
const M = (f: string) => join(data, 'mouse_hs1940', f);
const REF = (f: string) => join(data, 'mouse_hs1940', 'reference', f);

function timed(argv: string[]): { wall: number; rssMb: number } {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, join(repo, 'dist/bin/gwasgrid.js'), ...argv], {
    cwd: repo,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env },
  });
  if (r.status !== 0) throw new Error(`gwasgrid ${argv.join(' ')} failed (exit ${r.status}):\n${r.stderr?.slice(-3000)}`);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return {
    wall: wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN,
    rssMb: rss ? Number(rss[1]) / 1024 : NaN,
  };
}

function stages(log: string): string {
  const text = readFileSync(log, 'utf8');
  const section = text.slice(text.indexOf('Computation Time'));
  return [...section.matchAll(/##\s+(\w+) = ([\d.]+)/g)].map((m) => `${m[1]} ${Number(m[2]).toFixed(1)}`).join(', ');
}

function tsv(path: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  return { header: lines[0].split('\t'), rows: lines.slice(1).map((l) => l.split('\t')) };
}

const input = ['--geno', M('mouse_hs1940.geno.txt.gz'), '--anno', M('mouse_hs1940.anno.txt'), '--pheno', M('mouse_hs1940.pheno.txt'), '--pheno-col', '1'];
const extract = ['--extract', REF('farmcpu_snps_used_CD8.txt')];
const common = ['--backend', backend, '--log-format', 'json'];

console.log(`CMLM benchmark, mouse_hs1940 CD8 (${data})`);
const full = timed(['cmlm', ...input, ...extract, '--group-by', groupBy, '--out', join(out, 'cmlm_cd8'), ...common]);
const fixed = timed(['cmlm', ...input, ...extract, '--group-from', fixedG, '--group-to', fixedG, '--out', join(out, `cmlm_cd8_g${fixedG}`), ...common]);
const mlm = timed(['mlm', ...input, '--lmm', '1', '--out', join(out, 'mlm_cd8'), ...common]);

// Parity with GAPIT's recorded levels and p-values.
const calls = tsv(REF('cmlm_gapit_cmlm_p3dcalls_CD8.tsv'));
const ci = (n: string) => calls.header.indexOf(n);
const searched = calls.rows.filter((r) => r[ci('optOnly')] === '1');
const ours = tsv(join(out, 'cmlm_cd8.cmlm.compression.tsv'));
let worstLL = 0;
let worstV = 0;
let groupsAgree = 0;
ours.rows.forEach((row, i) => {
  const ref = searched[i];
  if (!ref) return;
  const ngrp = ref[ci('ngrp')] === 'NA' ? '1410' : ref[ci('ngrp')];
  if (row[1] === ngrp) groupsAgree++;
  worstLL = Math.max(worstLL, Math.abs(Number(row[4]) - Number(ref[ci('REMLs')])));
  worstV = Math.max(worstV, Math.abs(Number(row[5]) / Number(ref[ci('vg')]) - 1), Math.abs(Number(row[6]) / Number(ref[ci('ve')]) - 1));
});
const chosen = ours.rows.find((r) => r[7] === '1')?.[0];
const gapitP = new Map(tsv(REF('cmlm_gapit_cmlm_CD8.tsv')).rows.map((r) => [r[0], Number(r[3])]));
let worstP = 0;
let nP = 0;
for (const row of tsv(join(out, 'cmlm_cd8.assoc.txt')).rows) {
  const ref = gapitP.get(row[1]);
  if (ref === undefined) continue;
  nP++;
  worstP = Math.max(worstP, Math.abs(Math.log10(Number(row[9])) - Math.log10(ref)));
}
const summary = tsv(REF('cmlm_gapit_summary.tsv'));
const gapitSeconds = Number(summary.rows[0][summary.header.indexOf('seconds')]);

console.log('');
console.log('| run | wall s | max RSS MB | stages (s) |');
console.log('|---|---|---|---|');
console.log(`| gwasgrid cmlm, GAPIT defaults (${ours.rows.length} levels, chose g = ${chosen}) | ${full.wall.toFixed(1)} | ${full.rssMb.toFixed(0)} | ${stages(join(out, 'cmlm_cd8.log.txt'))} |`);
console.log(`| gwasgrid cmlm, one level g = ${fixedG} (low-rank scan) | ${fixed.wall.toFixed(1)} | ${fixed.rssMb.toFixed(0)} | ${stages(join(out, `cmlm_cd8_g${fixedG}.log.txt`))} |`);
console.log(`| gwasgrid mlm -lmm 1 (full n × n, 10,768 SNPs) | ${mlm.wall.toFixed(1)} | ${mlm.rssMb.toFixed(0)} | ${stages(join(out, 'mlm_cd8.log.txt'))} |`);
console.log(`| GAPIT 4.1 CMLM (recorded, 39 levels) | ${gapitSeconds.toFixed(0)} | | |`);
console.log('');
console.log(
  `parity with GAPIT: groups with phenotypes equal at ${groupsAgree}/${searched.length} levels, worst |Δ −2LL| ${worstLL.toExponential(2)}, ` +
    `worst VA/VE relative ${worstV.toExponential(2)}, ${nP} p-values with worst |Δ log10 p| ${worstP.toExponential(2)} (file precision 2.2e-7)`,
);
console.log(`speed-up over GAPIT (default search): ${(gapitSeconds / full.wall).toFixed(0)}×`);
