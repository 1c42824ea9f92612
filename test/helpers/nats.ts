/**
 * A real `nats-server` (Debian package `nats-server`) for integration tests: started on a free loopback port,
 * restartable on the same port (to test reconnection), always stopped. No mocks.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect as tcpConnect } from 'node:net';

export function natsServerBinary(): string {
  for (const p of ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (spawnSync(p, ['--version']).status === 0) return p;
  }
  throw new Error('nats-server is not installed: apt-get install -y nats-server (CI installs it in .ci/run)');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = tcpConnect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nats-server did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface NatsServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Stops and starts it again on the same port. */
  restart(downMs?: number): Promise<void>;
}

export async function startNatsServer(opts: { token?: string } = {}): Promise<NatsServer> {
  const bin = natsServerBinary();
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    const args = ['-a', '127.0.0.1', '-p', String(port)];
    if (opts.token) args.push('--auth', opts.token);
    child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    await waitForPort(port, 5000).catch((e: Error) => {
      throw new Error(`${e.message}\n${err}`);
    });
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((r) => {
      const k = setTimeout(() => c.kill('SIGKILL'), 3000);
      c.once('exit', () => (clearTimeout(k), r()));
      c.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop,
    async restart(downMs = 300) {
      await stop();
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
  };
}
