/**
 * `npm run bench`: gwasgrid side by side with GEMMA 0.98.5 (Debian `gemma`) on mouse_hs1940, in one run:
 *   1. kinship:   gemma -bfile P -gk 1            vs  gwasgrid kinship --bfile P --gk 1
 *   2. -lmm 4 CD8: gemma -bfile P -k K -lmm 4 -n 1 vs  gwasgrid mlm --bfile P --kinship K --lmm 4 --pheno-col 1
 * Each command runs under /usr/bin/time -v (wall seconds, max RSS); the minimum of `--reps` repetitions is
 * reported, with per-stage times from both tools' logs and the ratio gwasgrid/GEMMA. Options:
 *   3. one command: GEMMA's two commands vs  gwasgrid mlm --bfile P --lmm 4 --pheno-col 1 (kinship computed in
 *      memory, nothing written in between) — how a gwasgrid user runs it; once per backend of `--one-backends`;
 *      the largest |Δ log10 p| against GEMMA's -lmm 4 output (p_wald, p_lrt, p_score) is printed beside it.
 *   --reps N (default 1), --backend auto|native|wasm|ts, --data DIR (default ../shared/data),
 *   --one-backends LIST (default "<--backend>,wasm"; "none" skips step 3),
 *   --sim (also sim_large 2000 × 50,000: GEMMA needs about 4 minutes there)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const reps = Number(opt('reps', '1'));
const backend = opt('backend', 'auto');
const oneBackends = opt('one-backends', backend === 'wasm' ? 'wasm' : `${backend},wasm`)
  .split(',')
  .filter((b) => b && b !== 'none');
const data = resolve(opt('data', process.env.GWASGRID_DATA ?? join(repo, '../shared/data')));
const out = join(repo, '.bench-out');
mkdirSync(out, { recursive: true });

interface Timed {
  wall: number;
  rssMb: number;
  stderr: string;
}

function timed(cmd: string, argv: string[], cwd = repo): Timed {
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...argv], { cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${argv.join(' ')} failed (exit ${r.status}):\n${r.stderr?.slice(-2000)}`);
  }
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const seconds = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN;
  return { wall: seconds, rssMb: rss ? Number(rss[1]) / 1024 : NaN, stderr: r.stderr };
}

function best(cmd: string, argv: string[]): Timed {
  let b: Timed | null = null;
  for (let i = 0; i < reps; i++) {
    const t = timed(cmd, argv);
    if (!b || t.wall < b.wall) b = t;
  }
  return b!;
}

function gemmaStages(log: string): Record<string, number> {
  const text = readFileSync(log, 'utf8');
  const m = (re: RegExp) => {
    const x = re.exec(text);
    return x ? Number(x[1]) * 60 : NaN;
  };
  return {
    total: m(/total computation time = ([\d.e-]+) min/),
    kinship: m(/time on calculating relatedness matrix = ([\d.e-]+) min/),
    eigen: m(/time on eigen-decomposition = ([\d.e-]+) min/),
    UtX: m(/time on calculating UtX = ([\d.e-]+) min/),
    optimisation: m(/time on optimization = ([\d.e-]+) min/),
  };
}

function ourStages(log: string): Record<string, number> {
  const text = readFileSync(log, 'utf8');
  const section = text.slice(text.indexOf('Computation Time'));
  const out: Record<string, number> = {};
  for (const m of section.matchAll(/##\s+(\w+) = ([\d.]+)/g)) out[m[1]] = Number(m[2]);
  return out;
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

if (!which('gemma') || !existsSync('/usr/bin/time')) {
  console.error('bench needs GEMMA and GNU time: apt-get install -y gemma time');
  process.exit(1);
}
const cli = join(repo, 'dist', 'bin', 'gwasgrid.js');
const gem = join(out, 'gemma');
mkdirSync(gem, { recursive: true });

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; reps ${reps}`);
const rows: Array<{ stage: string; set: string; step: boolean; maxDlog10p?: number; gemma: Timed; ours: Timed; gemmaStages: Record<string, number>; ourStages: Record<string, number> }> = [];

/** `-gk 1` then `-lmm 4` for both tools; both -lmm runs read the kinship GEMMA just wrote. */
function dataset(label: string, P: string) {
  const g = best('gemma', ['-bfile', P, '-gk', '1', '-outdir', gem, '-o', label]);
  const o = best('node', [cli, 'kinship', '--bfile', P, '--gk', '1', '--backend', backend, '--out', join(out, label), '--log-format', 'json']);
  const ourKin = /"kinship from \d+ SNPs in ([\d.]+) s"/.exec(o.stderr);
  rows.push({
    stage: `${label} kinship -gk 1`,
    set: label,
    step: true,
    gemma: g,
    ours: o,
    gemmaStages: gemmaStages(join(gem, `${label}.log.txt`)),
    ourStages: { kinship: ourKin ? Number(ourKin[1]) : NaN },
  });
  const K = join(gem, `${label}.cXX.txt`);
  const g2 = best('gemma', ['-bfile', P, '-k', K, '-lmm', '4', '-n', '1', '-outdir', gem, '-o', `${label}.lmm4`]);
  const o2 = best('node', [cli, 'mlm', '--bfile', P, '--kinship', K, '--lmm', '4', '--pheno-col', '1', '--backend', backend, '--out', join(out, `${label}.lmm4`), '--log-format', 'json']);
  rows.push({
    stage: `${label} -lmm 4`,
    set: label,
    step: true,
    gemma: g2,
    ours: o2,
    gemmaStages: gemmaStages(join(gem, `${label}.lmm4.log.txt`)),
    ourStages: ourStages(join(out, `${label}.lmm4.log.txt`)),
  });
  const gemmaBoth: Timed = { wall: g.wall + g2.wall, rssMb: Math.max(g.rssMb, g2.rssMb), stderr: '' };
  for (const b of oneBackends) {
    const prefix = join(out, `${label}.one.${b}`);
    const o3 = best('node', [cli, 'mlm', '--bfile', P, '--lmm', '4', '--pheno-col', '1', '--backend', b, '--out', prefix, '--log-format', 'json']);
    rows.push({
      stage: `${label} one command, ${b} (vs GEMMA's two)`,
      set: label,
      step: false,
      maxDlog10p: maxDlog10p(join(gem, `${label}.lmm4.assoc.txt`), `${prefix}.assoc.txt`),
      gemma: gemmaBoth,
      ours: o3,
      gemmaStages: {},
      ourStages: ourStages(`${prefix}.log.txt`),
    });
  }
}

/** The largest |log10 p − log10 p_GEMMA| over p_wald, p_lrt and p_score, matching rows by rs. */
function maxDlog10p(gemmaAssoc: string, ourAssoc: string): number {
  const table = (f: string) => {
    const [head, ...lines] = readFileSync(f, 'utf8').trimEnd().split('\n');
    const cols = head.split('\t');
    const rs = cols.indexOf('rs');
    const ps = ['p_wald', 'p_lrt', 'p_score'].map((c) => cols.indexOf(c));
    return new Map(lines.map((l) => {
      const t = l.split('\t');
      return [t[rs], ps.map((i) => Number(t[i]))] as const;
    }));
  };
  const ref = table(gemmaAssoc);
  const ours = table(ourAssoc);
  if (ref.size !== ours.size) throw new Error(`${ourAssoc}: ${ours.size} SNPs, GEMMA ${ref.size}`);
  let worst = 0;
  for (const [rs, p] of ref) {
    const q = ours.get(rs);
    if (!q) throw new Error(`${ourAssoc}: SNP ${rs} missing`);
    for (let i = 0; i < 3; i++) worst = Math.max(worst, Math.abs(Math.log10(q[i]) - Math.log10(p[i])));
  }
  return worst;
}

dataset('mouse', join(data, 'mouse_hs1940', 'mouse_hs1940'));
if (args.includes('--sim')) dataset('sim_large', join(data, 'sim_large', 'sim_n2000_m50000'));

const backendLine = /"backend: ([^"]+)"/.exec(rows[1].ours.stderr)?.[1] ?? backend;
const totals = (set: string) => rows.filter((r) => r.set === set && r.step);
console.log(`gwasgrid backend: ${backendLine}\n`);
console.log('| stage | GEMMA wall s | gwasgrid wall s | ratio (gwasgrid/GEMMA) | GEMMA max RSS MB | gwasgrid max RSS MB | max abs Δlog10 p vs GEMMA |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows.filter((x) => x.step)) {
  console.log(
    `| ${r.stage} | ${r.gemma.wall.toFixed(2)} | ${r.ours.wall.toFixed(2)} | ${(r.ours.wall / r.gemma.wall).toFixed(2)} | ${r.gemma.rssMb.toFixed(0)} | ${r.ours.rssMb.toFixed(0)} | |`,
  );
}
for (const set of ['mouse', 'sim_large']) {
  const rs = totals(set);
  if (rs.length < 2) continue;
  const g = rs.reduce((a, r) => a + r.gemma.wall, 0);
  const o = rs.reduce((a, r) => a + r.ours.wall, 0);
  console.log(`| ${set} total (-gk 1 then -lmm 4) | ${g.toFixed(2)} | ${o.toFixed(2)} | ${(o / g).toFixed(2)} | | | |`);
}
for (const r of rows.filter((x) => !x.step)) {
  console.log(
    `| ${r.stage} | ${r.gemma.wall.toFixed(2)} | ${r.ours.wall.toFixed(2)} | ${(r.ours.wall / r.gemma.wall).toFixed(2)} | ${r.gemma.rssMb.toFixed(0)} | ${r.ours.rssMb.toFixed(0)} | ${r.maxDlog10p?.toExponential(1)} |`,
  );
}
console.log('\nper-stage seconds:');
for (const r of rows) {
  const fmt = (o: Record<string, number>) =>
    Object.entries(o)
      .filter(([, v]) => Number.isFinite(v))
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ');
  console.log(`  ${r.stage}: GEMMA { ${fmt(r.gemmaStages)} }\n  ${' '.repeat(r.stage.length)}  gwasgrid { ${fmt(r.ourStages)} }`);
}
writeFileSync(
  join(out, 'bench.json'),
  JSON.stringify({ date: new Date().toISOString(), backend: backendLine, reps, rows: rows.map((r) => ({ ...r, gemma: { ...r.gemma, stderr: undefined }, ours: { ...r.ours, stderr: undefined } })) }, null, 2),
);
