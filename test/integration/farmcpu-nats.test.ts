/**
 * Distributed FarmCPU and GLM with real parts: a real nats-server started here on a free loopback port, the
 * built CLI as coordinator (`gwasgrid coordinator --method farmcpu|glm … --nats URL`) and two separate
 * `gwasgrid worker` processes that learn the NATS URL and credentials from the coordinator over gRPC.
 * The outputs must equal the single-process run byte for byte — also when a worker is SIGKILLed in the middle
 * of the final round and when the NATS server is restarted while they run. The final per-SNP rows must arrive
 * by gRPC SubmitShard (one kept result per partition, in PREFIX.shards/ with its sha256), not in the NATS replies.
 * A coordinator SIGKILLed mid-run and started again with the same --out resumes from its round checkpoint.
 * Data: mouse_hs1940 CD8 with the BIMBAM dosages restricted to rMVP's SNP list (as the FarmCPU golden test).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { dataPath, tempDir } from '../helpers/data.js';
import { CLI, Proc, killAll, resultContent, type Rec } from '../helpers/proc.js';
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
const PARTITIONS = 6;
const NATS_TOKEN = 'farm-nats-token';

/** The built CLI with one test thread per process (2-core machine). */
const cli = (args: string[]) => new Proc('node', [CLI, ...args], { env: { GWASGRID_THREADS: '1' } });

function embedded(method: 'farmcpu' | 'glm', out: string): void {
  execFileSync('node', [CLI, method, ...INPUT(), '--out', out, '--log-format', 'json'], {
    env: { ...process.env, GWASGRID_THREADS: '1' },
    stdio: 'ignore',
  });
}

function coordinator(method: 'farmcpu' | 'glm', nats: NatsServer, out: string, extra: string[] = []): Proc {
  return cli([
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
    String(PARTITIONS),
    '--lease-timeout',
    '2',
    '--out',
    out,
    '--log-format',
    'json',
    ...extra,
  ]);
}

async function withWorkers(coord: Proc): Promise<Proc[]> {
  const { port } = await coord.waitFor((r) => r.event === 'listening', 'coordinator listening');
  return [1, 2].map((k) =>
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
}

async function distributed(
  method: 'farmcpu' | 'glm',
  nats: NatsServer,
  out: string,
  fault?: (coord: Proc, workers: Proc[]) => Promise<void>,
  extra: string[] = [],
): Promise<Proc> {
  const coord = coordinator(method, nats, out, extra);
  const workers = await withWorkers(coord);
  if (fault) await fault(coord, workers);
  const e = await coord.exit;
  expect(e.code, coord.stderr).toBe(0);
  for (const w of workers) await w.exit;
  return coord;
}

/**
 * The final rows came by gRPC: one accepted SubmitShard result per partition (duplicates ignored), the final
 * round's NATS replies too small to hold them, and (kept) each `final-NNNNN.rows` matching its sha256.
 */
function finalRowsByGrpc(coord: Proc, out: string, kept = true): Rec {
  const [summary] = coord.events('final-rows-summary');
  expect(summary, coord.stderr).toBeDefined();
  expect(summary.received).toBe(PARTITIONS);
  expect(summary.refused).toBe(0);
  const accepted = coord.events('final-rows');
  expect(accepted.map((r) => r.partition).sort()).toEqual([...Array(PARTITIONS).keys()]);
  const kept_ = summary.kept as Array<{ name: string; sha256: string }>;
  expect(kept_.map((k) => k.name)).toEqual([...Array(PARTITIONS).keys()].map((k) => `final-0000${k}`));
  const final = coord.events('round').filter((r) => r.final);
  expect(final).toHaveLength(1);
  expect(final[0].rowsByGrpc).toBe(PARTITIONS);
  // 9,100 SNPs × 60 bytes of rows went by gRPC; the NATS replies of the final round carry a few kB.
  expect(summary.bytes as number).toBeGreaterThan(9100 * 60);
  expect(final[0].natsBytes as number).toBeLessThan(20_000);
  for (const k of kept_) {
    const file = join(`${out}.shards`, `${k.name}.rows`);
    expect(existsSync(file)).toBe(kept);
    if (!kept) continue;
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(k.sha256);
    expect(readFileSync(`${file}.sha256`, 'utf8')).toBe(`${k.sha256}  ${k.name}.rows\n`);
  }
  if (!kept) expect(existsSync(`${out}.shards`)).toBe(false);
  return summary;
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
    const summary = finalRowsByGrpc(coord, join(dir, 'dist'));
    expect(summary.duplicates).toBe(0);
  }, 120_000);

  it('a worker SIGKILLed in the final round: its partitions go to the other, one result kept each, same bytes', async () => {
    const coord = await distributed('farmcpu', nats, join(dir, 'kill'), async (c, workers) => {
      // The first final rows have arrived by gRPC: the final round is running.
      await c.waitFor((r) => r.event === 'final-rows', 'first final rows');
      workers[0].kill('SIGKILL');
    });
    expect(readFileSync(join(dir, 'kill.assoc.txt')).equals(farmRef)).toBe(true);
    finalRowsByGrpc(coord, join(dir, 'kill'));
  }, 120_000);

  it('the NATS server restarted during the rounds: everyone reconnects, same bytes', async () => {
    const coord = await distributed('farmcpu', nats, join(dir, 'restart'), async (c) => {
      await c.waitFor((r) => r.event === 'round', 'first round');
      await nats.restart(500);
    });
    expect(readFileSync(join(dir, 'restart.assoc.txt')).equals(farmRef)).toBe(true);
    expect(coord.stderr).toMatch(/NATS (connection lost|reconnected)/);
    finalRowsByGrpc(coord, join(dir, 'restart'));
  }, 120_000);

  it('resume: a coordinator SIGKILLed mid-run and restarted with the same --out reuses the finished rounds; run again, it needs no workers', async () => {
    const out = join(dir, 'resume');
    const first = coordinator('farmcpu', nats, out);
    const workers = await withWorkers(first);
    await first.waitFor((r) => r.event === 'round' && r.round === 3, 'third round');
    for (const p of [first, ...workers]) p.kill('SIGKILL');
    await Promise.all([first, ...workers].map((p) => p.exit));

    const second = await distributed('farmcpu', nats, out);
    expect(readFileSync(`${out}.assoc.txt`).equals(farmRef)).toBe(true);
    expect(second.events('resuming')).toHaveLength(1);
    const resumed = second.events('round-resumed').length;
    expect(resumed).toBeGreaterThanOrEqual(3);
    expect(second.events('round').length).toBeGreaterThan(0);
    finalRowsByGrpc(second, out); // the final round ran live: its rows came by gRPC
    const rounds = resumed + second.events('round').length;

    // The same command once more, no workers: every round and the final rows come from PREFIX.shards/.
    const third = coordinator('farmcpu', nats, out);
    expect((await third.exit).code, third.stderr).toBe(0);
    expect(readFileSync(`${out}.assoc.txt`).equals(farmRef)).toBe(true);
    expect(third.events('round')).toHaveLength(0);
    expect(third.events('round-resumed')).toHaveLength(rounds);
    const [summary] = third.events('final-rows-summary');
    expect(summary).toMatchObject({ received: 0, resumed: PARTITIONS, roundsResumed: rounds });
  }, 120_000);

  it('GLM distributed equals GLM in one process (assoc and glm.linear)', async () => {
    embedded('glm', join(dir, 'glm-embedded'));
    const coord = await distributed('glm', nats, join(dir, 'glm-dist'), undefined, ['--no-keep-shards']);
    finalRowsByGrpc(coord, join(dir, 'glm-dist'), false);
    for (const ext of ['assoc.txt', 'glm.linear']) {
      expect(
        readFileSync(join(dir, `glm-dist.${ext}`)).equals(readFileSync(join(dir, `glm-embedded.${ext}`))),
      ).toBe(true);
    }
  }, 120_000);
});
