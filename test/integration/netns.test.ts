/**
 * Distributed runs across real network boundaries on one machine: a hub namespace with a bridge and one network
 * namespace per host (coordinator, NATS, two workers), each with only its own address (test/helpers/netns.ts,
 * ../shared/docs/INFRA.md B5). The processes are the built CLI and Debian's nats-server, started inside their
 * namespaces with the commands of the coordinator/worker contract (nats-server with the arguments of the Kubernetes
 * NATS container, whose readiness probe URL must answer from a worker host); the MLM result must have the bytes of
 * single-process `gwasgrid mlm` on mouse_hs1940 (bundled bed, CD8 from ../shared/data). A second run cuts one
 * worker's link in the middle of a shard (`ip link set eth0 down`): its lease expires, the other worker takes
 * the shard, same bytes. The peak memory of each process stays below deploy/sizing.mjs's estimate. FarmCPU over NATS runs the same way once `gwasgrid farmcpu` exists (skipped with the
 * reason until then).
 *
 * Where namespaces cannot be made (not root, no CAP_NET_ADMIN, a sandbox), the test says exactly why and runs
 * the same over loopback (the link-cut case needs namespaces and is skipped there). Namespaces are always deleted.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { REPO, dataPath, tempDir } from '../helpers/data.js';
import { HostNet } from '../helpers/netns.js';
import { parseYamlFile } from '../deploy/kustomize.js';
import { coordinatorBytes, workerBytes } from '../../deploy/sizing.mjs';
import { Proc, cliCommands, freePort, killAll, resultContent, skipBecause } from '../helpers/proc.js';

const INPUT = [
  '--bfile',
  join(REPO, 'test', 'data', 'mouse_hs1940', 'mouse_hs1940'),
  '--pheno',
  dataPath('mouse_hs1940', 'mouse_hs1940.pheno.txt'),
  '--pheno-col',
  '1',
];
const TOKEN = 'netns-test-token';
const HOSTS = ['coordinator', 'nats', 'worker1', 'worker2'] as const;
type HostName = (typeof HOSTS)[number];

interface Place {
  address: string;
  exec: string[];
}

let net: HostNet | null = null;
let loopbackReason = '';
let place: Record<HostName, Place>;
let reference: Buffer;
const natsServer = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));

beforeAll(async () => {
  const out = join(tempDir('netns-ref'), 'cd8');
  const single = Proc.gwasgrid(['mlm', ...INPUT, '--out', out]);
  const made = HostNet.create([...HOSTS]);
  if (typeof made === 'string') {
    loopbackReason = made;
    console.warn(
      `network namespaces unavailable: ${made}. Running the same processes over loopback (127.0.0.1) instead.`,
    );
    place = Object.fromEntries(
      HOSTS.map((h) => [h, { address: '127.0.0.1', exec: [] }]),
    ) as unknown as Record<HostName, Place>;
  } else {
    net = made;
    place = Object.fromEntries(
      HOSTS.map((h) => [h, { address: made.host(h).address, exec: made.host(h).exec }]),
    ) as unknown as Record<HostName, Place>;
  }
  const r = await single.exit;
  expect(r.code, single.stderr).toBe(0);
  reference = readFileSync(`${out}.assoc.txt`);
});

afterAll(() => {
  killAll();
  net?.destroy();
});

afterEach(() => killAll());

/** The NATS container of deploy/k8s (components/farmcpu): its args and the path of its readiness probe. */
function natsManifest(): { args: string[]; store: string; probe: { path: string; port: string } } {
  const [sts] = parseYamlFile(
    join(REPO, 'deploy', 'k8s', 'components', 'farmcpu', 'nats-statefulset.yaml'),
  ) as Array<{
    spec: {
      template: {
        spec: {
          containers: Array<{
            args: string[];
            readinessProbe: { httpGet: { path: string; port: string } };
            ports: Array<{ name: string; containerPort: number }>;
          }>;
        };
      };
    };
  }>;
  const c = sts.spec.template.spec.containers[0];
  const port = c.ports.find((p) => p.name === c.readinessProbe.httpGet.port)!.containerPort;
  return {
    args: c.args,
    store: c.args[c.args.indexOf('--store_dir') + 1],
    probe: { path: c.readinessProbe.httpGet.path, port: String(port) },
  };
}

/**
 * nats-server on the NATS host with the arguments of the Kubernetes NATS container (store directory and, over
 * loopback, ports replaced); resolves with its client URL and its monitoring URL (the readiness probe's path).
 */
async function startNats(): Promise<{ url: string; health: string }> {
  if (!natsServer) throw new Error('nats-server is not installed (apt-get install -y nats-server)');
  const m = natsManifest();
  const { address, exec } = place.nats;
  const args = m.args.map((a) => (a === m.store ? tempDir('netns-nats') : a));
  if (!net) {
    args[args.indexOf('--port') + 1] = String(await freePort());
    args[args.indexOf('--http_port') + 1] = String(await freePort());
  }
  const p = new Proc(natsServer, ['-a', address, ...args], { prefix: exec });
  await p.waitFor((r) => /Server is ready/.test(r.msg ?? ''), 'nats-server to be ready', 15_000);
  const port = args[args.indexOf('--port') + 1];
  const http = args[args.indexOf('--http_port') + 1];
  return { url: `nats://${address}:${port}`, health: `http://${address}:${http}${m.probe.path}` };
}

/** The first line a TCP server sends to a client on `host` (NATS: its INFO line). */
function greeting(from: HostName, url: string): string {
  const { hostname, port } = new URL(url);
  const script =
    "const s=require('net').connect(+process.argv[2],process.argv[1]);" +
    "s.once('data',d=>{process.stdout.write(String(d).split('\\r\\n')[0]);s.destroy()});" +
    "s.on('error',e=>{console.error(e.message);process.exit(1)});setTimeout(()=>process.exit(2),5000).unref()";
  const argv = [...place[from].exec, process.execPath, '-e', script, hostname, port];
  return execFileSync(argv[0], argv.slice(1), { timeout: 10_000 }).toString();
}

/** Peak resident memory (VmHWM, bytes) of a running process, polled until it exits. */
async function peakRss(p: Proc): Promise<number> {
  let peak = 0;
  while (p.child.exitCode === null && p.child.signalCode === null) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      break; // gone
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return peak;
}

/** The body of an HTTP GET made from a host. */
function httpGet(from: HostName, url: string): string {
  const script =
    "require('http').get(process.argv[1],r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>process.stdout.write(b))})" +
    ".on('error',e=>{console.error(e.message);process.exit(1)})";
  const argv = [...place[from].exec, process.execPath, '-e', script, url];
  return execFileSync(argv[0], argv.slice(1), { timeout: 10_000 }).toString();
}

const coordinatorProc = async (args: string[], out: string) => {
  const port = net ? 50051 : await freePort();
  const c = Proc.gwasgrid(
    [
      'coordinator',
      ...args,
      '--listen',
      `${place.coordinator.address}:${port}`,
      '--token',
      TOKEN,
      '--out',
      out,
    ],
    {
      prefix: place.coordinator.exec,
    },
  );
  await c.waitFor((r) => r.event === 'listening', 'the coordinator to listen');
  return { c, address: `${place.coordinator.address}:${port}` };
};
const workerProc = (host: HostName, coordinator: string, extra: string[] = []) =>
  Proc.gwasgrid(['worker', '--coordinator', coordinator, ...extra], {
    env: { GWASGRID_TOKEN: TOKEN, GWASGRID_THREADS: '1' },
    prefix: place[host].exec,
  });

describe(`multi-host runs (${process.getuid?.() === 0 ? 'network namespaces' : 'loopback'} where possible)`, () => {
  it('each host has only its own address; the hosts reach each other across the bridge', (ctx) => {
    if (!net) return skipBecause(ctx, `no namespaces: ${loopbackReason}`);
    for (const h of HOSTS) {
      const addrs = [...net.ip(h, '-4', '-o', 'addr', 'show').matchAll(/inet (\S+)\//g)]
        .map((m) => m[1])
        .sort();
      expect(addrs).toEqual(['127.0.0.1', place[h].address].sort());
    }
    // The root namespace has none of the hosts' addresses.
    const root = execFileSync('ip', ['-4', '-o', 'addr', 'show']).toString();
    for (const h of HOSTS) expect(root).not.toContain(`inet ${place[h].address}/`);
  });

  it('MLM: coordinator, NATS and 2 workers on 4 hosts write the bytes of gwasgrid mlm', async () => {
    const out = join(tempDir('netns-mlm'), 'cd8');
    const nats = natsServer ? await startNats() : null;
    const { c, address } = await coordinatorProc(INPUT, out);
    const ws = [workerProc('worker1', address), workerProc('worker2', address)];
    const peaks = [c, ...ws].map(peakRss);
    // NATS is reachable from the worker hosts (FarmCPU's path; MLM itself does not use it).
    if (nats) {
      expect(greeting('worker1', nats.url)).toMatch(/^INFO \{.*"server_id"/);
      // The Kubernetes readiness probe's URL answers (nats-server's /healthz on the monitoring port).
      expect(httpGet('worker2', nats.health)).toMatch(/"status":\s*"ok"/);
    } else
      console.warn(
        'nats-server not installed: NATS reachability not checked (apt-get install -y nats-server)',
      );
    expect((await c.exit).code, c.stderr).toBe(0);
    for (const w of ws) expect((await w.exit).code, w.stderr).toBe(0);
    expect(readFileSync(`${out}.assoc.txt`).equals(reference)).toBe(true);
    // The workers joined from their own hosts' addresses.
    // Each worker joins once per phase (kinship phase, then scan), so 2 to 4 joins.
    const joined = c.events('joined').map((r) => String(r.msg));
    expect(joined.length).toBeGreaterThanOrEqual(2);
    expect(joined.length).toBeLessThanOrEqual(4);
    if (net) {
      expect(joined.some((m) => m.includes(`from ${place.worker1.address}:`))).toBe(true);
      expect(joined.some((m) => m.includes(`from ${place.worker2.address}:`))).toBe(true);
    }
    expect(c.events('finished').filter((r) => String(r.shard).startsWith('shard-'))).toHaveLength(16); // + the kinship chunks
    // deploy/sizing.mjs (the Kubernetes requests, the runbooks' tables) is an upper bound of the measured peaks.
    const [cPeak, ...wPeaks] = await Promise.all(peaks);
    const n = 1410;
    const genotyped = 1940;
    expect(cPeak, `coordinator peak RSS ${(cPeak / 1e6).toFixed(0)} MB`).toBeLessThan(
      coordinatorBytes({ n, genotyped }),
    );
    for (const w of wPeaks)
      expect(w, `worker peak RSS ${(w / 1e6).toFixed(0)} MB`).toBeLessThan(workerBytes({ n, threads: 1 }));
    console.log(
      `peak RSS: coordinator ${(cPeak / 1e6).toFixed(0)} MB (estimate ${(coordinatorBytes({ n, genotyped }) / 1e6).toFixed(0)} MB), ` +
        `workers ${wPeaks.map((w) => (w / 1e6).toFixed(0)).join(', ')} MB (estimate ${(workerBytes({ n, threads: 1 }) / 1e6).toFixed(0)} MB)`,
    );
  });

  it("a worker's link cut mid-shard: its lease expires, the other worker takes the shard, same bytes", async (ctx) => {
    if (!net) return skipBecause(ctx, `cutting a link needs namespaces: ${loopbackReason}`);
    const out = join(tempDir('netns-cut'), 'cd8');
    const { c, address } = await coordinatorProc(
      [...INPUT, '--shard-size', '500', '--lease-timeout', '3'],
      out,
    );
    const survivor = workerProc('worker1', address);
    const victim = workerProc('worker2', address, ['--name', 'victim']);
    const scans = () => victim.events('scan');
    await victim.waitFor(() => scans().length >= 2, 'the victim to start its second shard');
    net.ip('worker2', 'link', 'set', 'eth0', 'down');
    // The coordinator must still exit when done, although the victim's connection stays half-open (no FIN/RST).
    const cutShard = scans()[scans().length - 1].shard!;
    // The victim's id in the scan phase (it joined again after the kinship phase, with a new id).
    const victimId = victim.records
      .filter((r) => r.event === 'session' && r.phase === 'scan')
      .at(-1)!.worker!;
    try {
      expect((await c.exit).code, c.stderr).toBe(0);
      expect((await survivor.exit).code, survivor.stderr).toBe(0);
    } finally {
      net.ip('worker2', 'link', 'set', 'eth0', 'up');
    }
    expect(c.events('expired').some((r) => r.shard === cutShard && r.worker === victimId)).toBe(true);
    const finished = c.events('finished').filter((r) => String(r.shard).startsWith('shard-'));
    expect(finished.find((r) => r.shard === cutShard)!.worker).not.toBe(victimId);
    expect(new Set(finished.map((r) => r.shard)).size).toBe(finished.length);
    expect(finished).toHaveLength(25);
    expect(readFileSync(`${out}.assoc.txt`).equals(reference)).toBe(true);
  });

  it('FarmCPU over NATS: coordinator, NATS and 2 workers on 4 hosts equal single-process gwasgrid farmcpu', async (ctx) => {
    if (!cliCommands().includes('farmcpu'))
      return skipBecause(ctx, '`gwasgrid --help` lists no farmcpu command: FarmCPU is not in this build yet');
    if (!natsServer) throw new Error('nats-server is not installed (apt-get install -y nats-server)');
    const dir = tempDir('netns-farmcpu');
    const single = Proc.gwasgrid(['farmcpu', ...INPUT, '--out', join(dir, 'single', 'cd8')]);
    expect((await single.exit).code, single.stderr).toBe(0);
    const nats = await startNats();
    const { c, address } = await coordinatorProc(
      ['--method', 'farmcpu', ...INPUT, '--nats', nats.url],
      join(dir, 'dist', 'cd8'),
    );
    const ws = [workerProc('worker1', address), workerProc('worker2', address)];
    expect((await c.exit).code, c.stderr).toBe(0);
    for (const w of ws) expect((await w.exit).code, w.stderr).toBe(0);
    // Every result file of the single-process run (the log has timings) has the same bytes in the distributed run.
    const results = readdirSync(join(dir, 'single')).filter(
      (f) => f.startsWith('cd8.') && !f.endsWith('.log.txt'),
    );
    expect(results.length).toBeGreaterThan(0);
    for (const f of results)
      expect(
        resultContent(join(dir, 'dist', f)).equals(resultContent(join(dir, 'single', f))),
        basename(f),
      ).toBe(true);
  });
});
