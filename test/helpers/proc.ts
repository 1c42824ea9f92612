/**
 * A child process of the built CLI (`dist/bin/gwasgrid.js`) whose stderr JSON log lines are collected, with
 * waits on log records — the integration tests' way to drive real coordinators and workers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './data.js';

export const CLI = join(REPO, 'dist', 'bin', 'gwasgrid.js');

/** One log record of a child (JSON lines on a pipe; a non-JSON line becomes { msg }). */
export type Rec = {
  msg?: string;
  event?: string;
  worker?: string;
  shard?: string;
  port?: number;
  skipped?: number;
  level?: string;
};

/** Children still running (tests kill them in afterAll). */
export const running = new Set<ChildProcess>();

export class Proc {
  readonly child: ChildProcess;
  readonly records: Rec[] = [];
  stderr = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: Array<() => void> = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn('node', [CLI, ...args], {
      env: { ...process.env, GWASGRID_THREADS: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    running.add(this.child);
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

  /** The first record (from `from` on) matching `pred`. */
  async waitFor(pred: (r: Rec) => boolean, what: string, timeoutMs = 60_000, from = 0): Promise<Rec> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.records.slice(from).find(pred);
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

/** Kills every child still running (for afterAll). */
export function killAll(): void {
  for (const c of running) c.kill('SIGKILL');
}
