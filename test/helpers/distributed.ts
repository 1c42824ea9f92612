/**
 * Helpers of the distributed-MLM integration tests (real processes of the built CLI, loopback gRPC): the CLI as a
 * child process with one scanning thread, a coordinator on a free port, workers, and the checks that a
 * distributed run wrote what single-process `gwasgrid mlm` writes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, Proc } from './proc.js';

export const TOKEN = 'integration-test-token';

/** The built CLI as a child process (one test thread each: 2-core machine); records are its JSON log lines. */
export function cli(args: string[], env: Record<string, string> = {}, cwd?: string): Proc {
  return new Proc('node', [CLI, ...args], { env: { GWASGRID_THREADS: '1', ...env }, cwd });
}

/** `gwasgrid coordinator DATA… --listen 127.0.0.1:0 --token T --out OUT EXTRA…`. */
export const coordinator = (data: string[], out: string, extra: string[] = []) =>
  cli(['coordinator', ...data, '--listen', '127.0.0.1:0', '--token', TOKEN, '--out', out, ...extra]);

/** `gwasgrid worker --coordinator 127.0.0.1:PORT EXTRA…` with the token in the environment. */
export const worker = (port: number, extra: string[] = [], token = TOKEN, cwd?: string) =>
  cli(['worker', '--coordinator', `127.0.0.1:${port}`, ...extra], { GWASGRID_TOKEN: token }, cwd);

/** The port a coordinator started with `--listen …:0` logged. */
export const listening = async (c: Proc) => (await c.waitFor((r) => r.event === 'listening', 'the coordinator to listen')).port!;

/** Every shard (or kinship chunk, `prefix` kinship) finished exactly once (no duplicates, none lost). */
export function expectEachShardOnce(c: Proc, shards: number, prefix = 'shard'): void {
  const done = c
    .events('finished')
    .map((r) => r.shard!)
    .filter((s) => s.startsWith(`${prefix}-`));
  expect(new Set(done).size).toBe(done.length);
  expect(done.length).toBe(shards);
}

/** Lines of a distributed run's `.log.txt` that a single-process run does not write (how the work was spread). */
const DISTRIBUTED_ONLY = /^## (Kinship|Distributed|Null model|Workers|Genotypes served) = /;

/**
 * A `.log.txt` without what legitimately differs between two runs of the same analysis: the command line, the
 * date, the computation times and the distributed-only lines. What remains (sample and SNP counts, null model,
 * λGC) must be equal.
 */
export function logContent(path: string): string {
  const lines = readFileSync(path, 'utf8').split('\n');
  const t = lines.indexOf('## Computation Time (seconds):');
  return lines
    .slice(0, t < 0 ? lines.length : t)
    .filter((l) => !/^## (Command Line Input|Date) = /.test(l) && !DISTRIBUTED_ONLY.test(l))
    .join('\n');
}

/**
 * The files of `name`-prefixed outputs in `dir`, sorted (result files, logs, plots; shard folders would show up
 * as names too).
 */
export function outputsOf(dir: string, name: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(`${name}.`))
    .sort();
}

/**
 * Every output of `ref` (files `refName.*` in `refDir`) exists as `name.*` in `dir` with the same bytes (logs: the
 * same {@link logContent}), and there is no other. Returns the compared suffixes.
 */
export function expectSameOutputs(refDir: string, refName: string, dir: string, name: string, only?: (suffix: string) => boolean): string[] {
  const keep = only ?? (() => true);
  const suffixes = outputsOf(refDir, refName)
    .map((f) => f.slice(refName.length))
    .filter(keep);
  expect(
    outputsOf(dir, name)
      .map((f) => f.slice(name.length))
      .filter(keep),
  ).toEqual(suffixes);
  for (const s of suffixes) {
    const a = join(refDir, refName + s);
    const b = join(dir, name + s);
    if (s.endsWith('.log.txt')) expect(logContent(b), s).toBe(logContent(a));
    else expect(readFileSync(b).equals(readFileSync(a)), `${name}${s} differs from ${refName}${s}`).toBe(true);
  }
  return suffixes;
}
