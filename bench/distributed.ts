/**
 * `npm run bench:distributed`: the distributed run with 1 and 2 worker processes (one scanning thread
 * each) against one coordinator on loopback, on sim_large (default; `--mouse` for mouse_hs1940), printing from
 * the coordinator's log the kinship phase (seconds, partial sums received in MB/s; sim_large computes its
 * kinship, mouse uses GEMMA's), the scan-stage seconds, the speed-ups, and the null-model broadcast
 * throughput. The two outputs must be byte-identical; the run fails otherwise. `--remote` starts the workers
 * with --genotypes-from-coordinator; `--shard-size N` is passed to the coordinator; `--repeat R` alternates the
 * 1- and 2-worker runs R times and keeps each one's best times (robust to other load on a shared machine).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const data = resolve(process.env.GWASGRID_DATA ?? join(repo, '../shared/data'));
const mouse = args.includes('--mouse');
const remote = args.includes('--remote');
const shardArg = args.indexOf('--shard-size');
const shardSize = shardArg >= 0 ? ['--shard-size', args[shardArg + 1]] : [];
const repeatArg = args.indexOf('--repeat');
const repeat = repeatArg >= 0 ? Math.max(1, Number(args[repeatArg + 1]) || 1) : 1;
const P = mouse ? join(data, 'mouse_hs1940', 'mouse_hs1940') : join(data, 'sim_large', 'sim_n2000_m50000');
const extra = mouse ? ['--kinship', join(data, 'mouse_hs1940', 'reference', 'mouse_hs1940.cXX.txt.gz')] : [];
const cli = join(repo, 'dist', 'bin', 'gwasgrid.js');
const out = join(repo, '.bench-out');
mkdirSync(out, { recursive: true });

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  return new Promise((res) => {
    const p = spawn('node', [cli, ...argv], { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, ...env } });
    p.on('exit', (code) => res(code ?? -1));
  });
}

interface Run {
  scan: number;
  mbps: number;
  kinship: number;
  kinshipMbps: number;
  transferMbps: number;
  path: string;
}

async function distributed(workers: number): Promise<Run> {
  const port = await freePort();
  const prefix = join(out, `dist-${workers}w`);
  const coord = run(['coordinator', '--bfile', P, ...extra, '--listen', `127.0.0.1:${port}`, '--token', 'bench', '--out', prefix, '--no-keep-shards', ...shardSize]);
  const ws = Array.from({ length: workers }, (_, i) =>
    run(['worker', '--coordinator', `127.0.0.1:${port}`, '--token', 'bench', '--threads', '1', '--name', `w${i}`, ...(remote ? ['--genotypes-from-coordinator'] : [])], {
      GWASGRID_THREADS: '1',
    }),
  );
  const [c, ...w] = await Promise.all([coord, ...ws]);
  if (c !== 0 || w.some((x) => x !== 0)) throw new Error(`coordinator exit ${c}, workers ${w.join(',')}`);
  const log = readFileSync(`${prefix}.log.txt`, 'utf8');
  const scan = Number(/##\s+scan = ([\d.]+)/.exec(log)?.[1]);
  const mbps = Number(/## Null model = .* at ([\d.]+) MB\/s/.exec(log)?.[1]);
  const k = /## Kinship = .* in a phase of ([\d.]+) s \(([\d.]+) MB\/s over the phase, ([\d.]+) MB\/s per transfer\)/.exec(log);
  return { scan, mbps, kinship: Number(k?.[1]), kinshipMbps: Number(k?.[2]), transferMbps: Number(k?.[3]), path: `${prefix}.assoc.txt` };
}

console.log(
  `distributed run on ${mouse ? 'mouse_hs1940' : 'sim_large'}: coordinator + workers (1 scanning thread each) on loopback` +
    (remote ? ', genotypes from the coordinator' : ''),
);
const best = (a: Run | null, b: Run): Run =>
  a === null
    ? b
    : {
        ...a,
        scan: Math.min(a.scan, b.scan),
        kinship: Math.min(a.kinship, b.kinship),
        kinshipMbps: Math.max(a.kinshipMbps, b.kinshipMbps),
        transferMbps: Math.max(a.transferMbps, b.transferMbps),
        mbps: Math.max(a.mbps, b.mbps),
      };
let one: Run | null = null;
let two: Run | null = null;
for (let r = 0; r < repeat; r++) {
  const a = await distributed(1);
  const b = await distributed(2);
  if (!readFileSync(a.path).equals(readFileSync(b.path))) throw new Error('1-worker and 2-worker outputs differ');
  if (repeat > 1) console.log(`round ${r + 1}: 1 worker kinship ${a.kinship.toFixed(2)} s, scan ${a.scan.toFixed(2)} s; 2 workers kinship ${b.kinship.toFixed(2)} s, scan ${b.scan.toFixed(2)} s`);
  one = best(one, a);
  two = best(two, b);
}
if (!one || !two) throw new Error('no run');
const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
console.log('| workers | kinship phase s | partial sums MB/s (phase / per transfer) | scan stage s | null-model broadcast MB/s |');
console.log('|---|---|---|---|---|');
for (const [w, r] of [
  [1, one],
  [2, two],
] as const) {
  console.log(`| ${w} | ${f(r.kinship)} | ${f(r.kinshipMbps, 1)} / ${f(r.transferMbps, 1)} | ${f(r.scan)} | ${f(r.mbps, 1)} |`);
}
if (Number.isFinite(one.kinship)) console.log(`kinship phase speed-up 2 vs 1 workers: ${(one.kinship / two.kinship).toFixed(2)}×`);
console.log(`scan speed-up 2 vs 1 workers: ${(one.scan / two.scan).toFixed(2)}× (outputs byte-identical)`);
