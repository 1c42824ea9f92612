/**
 * `npm run bench:distributed`: the distributed scan with 1 and with 2 worker processes (one scanning thread
 * each) against one coordinator on loopback, on sim_large (default; `--mouse` for mouse_hs1940), printing the
 * scan-stage seconds from the coordinator's log, the speed-up, and the null-model broadcast throughput. The
 * two outputs must be byte-identical; the run fails otherwise.
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

async function distributed(workers: number): Promise<{ scan: number; mbps: number; path: string }> {
  const port = await freePort();
  const prefix = join(out, `dist-${workers}w`);
  const coord = run(['coordinator', '--bfile', P, ...extra, '--listen', `127.0.0.1:${port}`, '--token', 'bench', '--out', prefix, '--no-keep-shards']);
  const ws = Array.from({ length: workers }, (_, i) =>
    run(['worker', '--coordinator', `127.0.0.1:${port}`, '--token', 'bench', '--threads', '1', '--name', `w${i}`], { GWASGRID_THREADS: '1' }),
  );
  const [c, ...w] = await Promise.all([coord, ...ws]);
  if (c !== 0 || w.some((x) => x !== 0)) throw new Error(`coordinator exit ${c}, workers ${w.join(',')}`);
  const log = readFileSync(`${prefix}.log.txt`, 'utf8');
  const scan = Number(/##\s+scan = ([\d.]+)/.exec(log)?.[1]);
  const mbps = Number(/ at ([\d.]+) MB\/s/.exec(log)?.[1]);
  return { scan, mbps, path: `${prefix}.assoc.txt` };
}

console.log(`distributed scan on ${mouse ? 'mouse_hs1940' : 'sim_large'}: coordinator + workers (1 scanning thread each) on loopback`);
const one = await distributed(1);
const two = await distributed(2);
if (!readFileSync(one.path).equals(readFileSync(two.path))) throw new Error('1-worker and 2-worker outputs differ');
console.log('| workers | scan stage s | null-model broadcast MB/s |');
console.log('|---|---|---|');
console.log(`| 1 | ${one.scan.toFixed(2)} | ${one.mbps.toFixed(1)} |`);
console.log(`| 2 | ${two.scan.toFixed(2)} | ${two.mbps.toFixed(1)} |`);
console.log(`speed-up 2 vs 1 workers: ${(one.scan / two.scan).toFixed(2)}× (outputs byte-identical)`);
