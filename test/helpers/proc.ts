/**
 * Child processes for integration tests: the built CLI (`dist/bin/gwasgrid.js`) or any command, optionally
 * behind a prefix such as `ip netns exec NS`. stderr is parsed as JSON log lines (a non-JSON line becomes
 * { msg }); {@link Proc.waitFor} waits for a record. Every process started here is SIGKILLed by
 * {@link killAll} (call it in afterEach/afterAll).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO } from './data.js';

export const CLI = join(REPO, 'dist', 'bin', 'gwasgrid.js');

/** One log record of a child. */
export type Rec = {
  msg?: string;
  event?: string;
  worker?: string;
  shard?: string;
  port?: number;
  skipped?: number;
  level?: string;
  [k: string]: unknown;
};

const running = new Set<ChildProcess>();

export class Proc {
  readonly child: ChildProcess;
  readonly records: Rec[] = [];
  stderr = '';
  stdout = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: Array<() => void> = [];

  /** `command args…` with `env` added to this process's environment; `prefix` is prepended (e.g. ip netns exec). */
  constructor(
    command: string,
    args: string[],
    opts: { env?: Record<string, string>; prefix?: string[]; cwd?: string } = {},
  ) {
    const argv = [...(opts.prefix ?? []), command, ...args];
    this.child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this.child);
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    let partial = '';
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      const lines = (partial + s).split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        try {
          this.records.push(JSON.parse(l) as Rec);
        } catch {
          this.records.push({ msg: l });
        }
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.exit = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        running.delete(this.child);
        resolve({ code, signal });
        for (const w of this.waiters.splice(0)) w();
      }),
    );
  }

  /** `gwasgrid ARGS` (the built CLI). */
  static gwasgrid(args: string[], opts: { env?: Record<string, string>; prefix?: string[] } = {}): Proc {
    return new Proc('node', [CLI, ...args], opts);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first record matching `pred`. */
  async waitFor(pred: (r: Rec) => boolean, what: string, timeoutMs = 60_000): Promise<Rec> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.records.find(pred);
      if (hit) return hit;
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`exited before ${what}:\n${this.stderr}`);
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}:\n${this.stderr}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  events(event: string): Rec[] {
    return this.records.filter((r) => r.event === event);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }
}

/** SIGKILLs every process started by {@link Proc} that is still running. */
export function killAll(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}

/** A TCP port that was free a moment ago on `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, host, r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const helps = new Map<string, string>();

/** `gwasgrid [SUB] --help` of the built CLI (cached). */
export function cliHelp(sub = ''): string {
  let text = helps.get(sub);
  if (text === undefined) {
    const help = spawnSync(process.execPath, [CLI, ...(sub ? [sub] : []), '--help'], { encoding: 'utf8' });
    if (help.status !== 0) throw new Error(`gwasgrid ${sub} --help failed: ${help.stderr}`);
    text = help.stdout;
    helps.set(sub, text);
  }
  return text;
}

/** The subcommands the built CLI lists in `gwasgrid --help`. */
export function cliCommands(): string[] {
  return [...cliHelp().matchAll(/^ {2}gwasgrid ([a-z][\w-]*)/gm)].map((m) => m[1]);
}

/** Skips the running test and prints why (vitest's own note is not shown by every reporter). */
export function skipBecause(
  ctx: { skip: (note?: string) => never; task: { name: string } },
  reason: string,
): never {
  console.warn(`skipped "${ctx.task.name}": ${reason}`);
  return ctx.skip(reason);
}

/** Whether `pid` runs (a zombie waiting for its parent does not). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * A result file's content for "same output" checks: its bytes, except that FarmCPU's iterations table loses its
 * last column (wall seconds of each iteration, the one thing that differs between two identical runs).
 */
export function resultContent(path: string): Buffer {
  const bytes = readFileSync(path);
  if (!path.endsWith('.farmcpu.iterations.tsv')) return bytes;
  return Buffer.from(bytes.toString('utf8').replace(/\t[^\t\n]*\n/g, '\n'));
}
