/**
 * Distributed FarmCPU and GLM with real parts: a real nats-server started here on a free loopback port, the
 * built CLI as coordinator (`gwasgrid coordinator --method farmcpu|glm … --nats URL`) and two separate
 * `gwasgrid worker` processes that learn the NATS URL and credentials from the coordinator over gRPC.
 * The outputs must equal the single-process run byte for byte — also when a worker is SIGKILLed in the middle
 * of the rounds and when the NATS server is restarted while they run.
 * Data: mouse_hs1940 CD8 with the BIMBAM dosages restricted to rMVP's SNP list (as the FarmCPU golden test).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { dataPath, tempDir } from '../helpers/data.js';
import { CLI, Proc, killAll, resultContent } from '../helpers/proc.js';
import { startNatsServer, type NatsServer } from '../helpers/nats.js';

const D = (f: string) => dataPath('mouse_hs1940', f);
const INPUT = () => [
  '--geno',
  D('mouse_hs1940.geno.txt.gz'),
  '--anno',
  D('mouse_hs1940.anno.txt'),
  '--pheno',
  D('mouse_hs1940.pheno.txt'),
  '--pheno-col',
  '1',
  '--snps',
  D('reference/farmcpu_snps_used_CD8.txt'),
];
const JOIN_TOKEN = 'farm-join-token';
const NATS_TOKEN = 'farm-nats-token';

/** The built CLI with one test thread per process (2-core machine). */
const cli = (args: string[]) => new Proc('node', [CLI, ...args], { env: { GWASGRID_THREADS: '1' } });

function embedded(method: 'farmcpu' | 'glm', out: string): void {
  execFileSync('node', [CLI, method, ...INPUT(), '--out', out, '--log-format', 'json'], {
    env: { ...process.env, GWASGRID_THREADS: '1' },
    stdio: 'ignore',
  });
}

async function distributed(
  method: 'farmcpu' | 'glm',
  nats: NatsServer,
  out: string,
  fault?: (coord: Proc, workers: Proc[]) => Promise<void>,
): Promise<Proc> {
  const coord = cli([
    'coordinator',
    '--method',
    method,
    ...INPUT(),
    '--nats',
    nats.url,
    '--nats-token',
    NATS_TOKEN,
    '--listen',
    '127.0.0.1:0',
    '--token',
    JOIN_TOKEN,
    '--partitions',
    '6',
    '--lease-timeout',
    '2',
    '--out',
    out,
    '--log-format',
    'json',
  ]);
  const { port } = await coord.waitFor((r) => r.event === 'listening', 'coordinator listening');
  const workers = [1, 2].map((k) =>
    cli([
      'worker',
      '--coordinator',
      `127.0.0.1:${port}`,
      '--token',
      JOIN_TOKEN,
      '--name',
      `w${k}`,
      '--log-format',
      'json',
    ]),
  );
  if (fault) await fault(coord, workers);
  const e = await coord.exit;
  expect(e.code, coord.stderr).toBe(0);
  for (const w of workers) await w.exit;
  return coord;
}

describe('FarmCPU and GLM over a real nats-server with worker processes', () => {
  let nats: NatsServer;
  const dir = tempDir('farm-nats');
  let farmRef: Buffer;
  beforeAll(async () => {
    nats = await startNatsServer({ token: NATS_TOKEN });
    embedded('farmcpu', join(dir, 'embedded'));
    farmRef = readFileSync(join(dir, 'embedded.assoc.txt'));
  }, 120_000);
  afterAll(async () => {
    killAll();
    await nats?.stop();
  });

  it('coordinator + 2 workers give the single-process bytes (assoc and iterations)', async () => {
    const coord = await distributed('farmcpu', nats, join(dir, 'dist'));
    expect(readFileSync(join(dir, 'dist.assoc.txt')).equals(farmRef)).toBe(true);
    expect(
      resultContent(join(dir, 'dist.farmcpu.iterations.tsv')).equals(
        resultContent(join(dir, 'embedded.farmcpu.iterations.tsv')),
      ),
    ).toBe(true);
    expect(coord.events('round').length).toBeGreaterThanOrEqual(6);
  }, 120_000);

  it('a worker SIGKILLed during the rounds: its partitions go to the other, same bytes', async () => {
    const coord = await distributed('farmcpu', nats, join(dir, 'kill'), async (c, workers) => {
      await c.waitFor((r) => r.event === 'round', 'first round');
      workers[0].kill('SIGKILL');
    });
    expect(readFileSync(join(dir, 'kill.assoc.txt')).equals(farmRef)).toBe(true);
    expect(coord.stderr).toMatch(/"event":"round"/);
  }, 120_000);

  it('the NATS server restarted during the rounds: everyone reconnects, same bytes', async () => {
    const coord = await distributed('farmcpu', nats, join(dir, 'restart'), async (c) => {
      await c.waitFor((r) => r.event === 'round', 'first round');
      await nats.restart(500);
    });
    expect(readFileSync(join(dir, 'restart.assoc.txt')).equals(farmRef)).toBe(true);
    expect(coord.stderr).toMatch(/NATS (connection lost|reconnected)/);
  }, 120_000);

  it('GLM distributed equals GLM in one process (assoc and glm.linear)', async () => {
    embedded('glm', join(dir, 'glm-embedded'));
    await distributed('glm', nats, join(dir, 'glm-dist'));
    for (const ext of ['assoc.txt', 'glm.linear']) {
      expect(
        readFileSync(join(dir, `glm-dist.${ext}`)).equals(readFileSync(join(dir, `glm-embedded.${ext}`))),
      ).toBe(true);
    }
  }, 120_000);
});
