/**
 * Distributed CMLM with real processes and real gRPC on loopback (the built CLI): `gwasgrid coordinator --method
 * cmlm` + `gwasgrid worker` processes, and `gwasgrid cmlm --workers 2`, write the bytes of single-process
 * `gwasgrid cmlm` (PREFIX.assoc.txt, PREFIX.cmlm.compression.tsv, PREFIX.gapit.csv), also with a worker that reads
 * no input file (--genotypes-from-coordinator), when a worker is SIGKILLed holding a lease, and when the coordinator
 * is SIGKILLed and restarted with the same --out (resume).
 *
 * Data: maize_mdp in GAPIT's own numeric format. Sim50 is the trait where GAPIT 4.1's default compression search
 * chooses a compressed level (g = 131 of 281; EarHT, dpoll and EarDia choose g = 281, no compression), so the
 * broadcast is the n × 131 basis and the p-values can still be checked against GAPIT's
 * (maize_mdp/reference/cmlm_gapit_cmlm_Sim50.tsv, `GAPIT(Y, GD, GM, model = "CMLM")`). EarHT (g = 281) runs in the
 * embedded test. Workers run with GWASGRID_THREADS=1 (2-core machine).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { dataPath, tempDir } from '../helpers/data.js';
import { readTsv } from '../helpers/assoc.js';
import { CLI, Proc, freePort, killAll, type Rec } from '../helpers/proc.js';
import { cmlmEncodedSize } from '../../shared/protocol/cmlm-model-codec.js';

const O = (f: string) => dataPath('maize_mdp', 'original', f);
const GENO = ['--numeric', O('mdp_numeric.txt'), '--map', O('mdp_SNP_information.txt')];
const SIM50 = [...GENO, '--pheno', O('mdp_traits_validation.txt'), '--pheno-name', 'Sim50'];
/** Sim50 with GAPIT's chosen level only: the same model as the full search, faster to prepare (fault tests). */
const SIM50_G131 = [...SIM50, '--group-from', '131', '--group-to', '131'];
const EARHT = [...GENO, '--pheno', O('mdp_traits.txt'), '--pheno-name', 'EarHT'];
const OUTPUTS = ['assoc.txt', 'cmlm.compression.tsv', 'gapit.csv'];
const TOKEN = 'cmlm-integration-token';
const N = 281;
const SNPS = 3093;

/** Tolerances of the CMLM golden test (test/golden/cmlm-maize.test.ts): GAPIT's 15-digit values vs ours. */
const TOL_LOG10P = 1e-8;
const TOL_EFFECT_REL = 1e-8;
/** The `.assoc.txt` p holds 7 significant digits: ≤ 2.2e-7 in log10. */
const TOL_ASSOC_LOG10P = 1e-6;

function cli(args: string[], env: Record<string, string> = {}, cwd?: string): Proc {
  return new Proc('node', [CLI, ...args], { env: { GWASGRID_THREADS: '1', ...env }, cwd });
}
const coordinator = (data: string[], out: string, extra: string[] = [], listen = '127.0.0.1:0') =>
  cli(['coordinator', '--method', 'cmlm', ...data, '--listen', listen, '--token', TOKEN, '--out', out, ...extra]);
const worker = (port: number, extra: string[] = [], cwd?: string) =>
  cli(['worker', '--coordinator', `127.0.0.1:${port}`, ...extra], { GWASGRID_TOKEN: TOKEN }, cwd);
const listening = async (c: Proc) => (await c.waitFor((r) => r.event === 'listening', 'the coordinator to listen')).port!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Single-process `gwasgrid cmlm` into DIR/NAME.*. */
async function single(args: string[], dir: string, name: string): Promise<string> {
  const p = cli(['cmlm', ...args, '--out', join(dir, name)], { GWASGRID_THREADS: '2' });
  expect((await p.exit).code, p.stderr).toBe(0);
  return join(dir, name);
}

function expectSameOutputs(prefix: string, ref: string): void {
  for (const f of OUTPUTS) expect(readFileSync(`${prefix}.${f}`).equals(readFileSync(`${ref}.${f}`)), `${prefix}.${f}`).toBe(true);
}

/** Every shard finished exactly once. */
function expectEachShardOnce(c: Proc, shards: number): void {
  const done = c.events('finished').map((r) => r.shard!);
  expect(new Set(done).size).toBe(done.length);
  expect(done.length).toBe(shards);
}

/**
 * Freezes `w` (SIGSTOP) while it holds the lease of a shard it has not submitted: at its next 'scan' line, then a
 * moment to see whether the coordinator still finished that shard from it (the shard was quicker than the
 * signal); if so, lets it go on (SIGCONT) and tries its next lease. Returns the held shard's name.
 */
async function freezeHoldingLease(w: Proc, c: Proc): Promise<string> {
  for (let k = 1; ; k++) {
    const scans = () => w.records.filter((r: Rec) => r.event === 'scan');
    await w.waitFor(() => scans().length >= k, `the worker's lease number ${k}`, 30_000);
    w.kill('SIGSTOP');
    const shard = scans()[k - 1].shard!;
    await sleep(400);
    if (!c.events('finished').some((r) => r.shard === shard)) return shard;
    w.kill('SIGCONT');
  }
}

afterEach(() => killAll());

describe('distributed CMLM over gRPC (real processes)', () => {
  let refDir: string;
  let sim50Ref: string;
  let g131Ref: string;

  beforeAll(async () => {
    refDir = tempDir('cmlm-dist-ref');
    [sim50Ref, g131Ref] = await Promise.all([single(SIM50, refDir, 'sim50'), single(SIM50_G131, refDir, 'g131')]);
  });

  it('coordinator --method cmlm + 2 workers (one with --genotypes-from-coordinator) on maize Sim50: the n × 131 basis is broadcast; the bytes of gwasgrid cmlm; GAPIT p-values', async () => {
    const out = join(tempDir('cmlm-dist'), 'sim50');
    const c = coordinator(SIM50, out);
    const port = await listening(c);
    // The worker without files first; frozen on its first range until the other has submitted a shard, so that
    // both paths scan (and neither joins after the job is done).
    const remote = worker(port, ['--genotypes-from-coordinator'], tempDir('cmlm-dist-cwd'));
    await remote.waitFor((r) => r.event === 'genotypes', 'the first genotype range');
    remote.kill('SIGSTOP');
    const local = worker(port);
    await local.waitFor((r) => r.event === 'submitted', 'a shard from the worker with files');
    remote.kill('SIGCONT');
    const ws = [local, remote];
    expect((await c.exit).code, c.stderr).toBe(0);
    for (const w of ws) expect((await w.exit).code, w.stderr).toBe(0);
    expectSameOutputs(out, sim50Ref);
    expectEachShardOnce(c, 16);

    // The compressed model: g = 131 of n = 281, and what goes over the wire is the n × 131 basis (+ design, y, μ).
    const model = c.events('cmlm-model');
    expect(model).toHaveLength(1);
    expect([model[0].n, model[0].rank, model[0].g]).toEqual([N, 131, 131]);
    const size = cmlmEncodedSize(N, 1, 131);
    expect(model[0].bytes).toBe(size);
    expect(size).toBeLessThan(8 * N * N * 0.5);
    const sent = c.events('broadcast');
    expect(sent).toHaveLength(2);
    for (const b of sent) expect(b.bytes).toBe(size);
    for (const w of ws) expect(w.events('model').map((r) => r.bytes)).toEqual([size]);
    // Both worker paths ran: files on the shared filesystem, and genotypes (with the CMLM filter) from the coordinator.
    expect(ws.map((w) => w.events('job-open').map((r) => r.remote))).toEqual([[false], [true]]);
    for (const w of ws) expect(w.events('submitted').length).toBeGreaterThan(0);
    expect(c.events('genotypes')).toHaveLength(remote.events('submitted').length);
    const log = readFileSync(`${out}.log.txt`, 'utf8');
    expect(log).toMatch(/## chosen group count = 131/);
    expect(log).toMatch(/## Scan model = basis 281 x 131 \(g = 131\)/);
    expect(log).toMatch(/## Distributed = 16 shards of 194 SNP indices \(0 resumed/);

    // Still GAPIT's numbers: every marker's p and effect (GAPIT CSV, 15 digits) and the .assoc.txt p (7 digits).
    const gapit = new Map(readTsv(dataPath('maize_mdp', 'reference', 'cmlm_gapit_cmlm_Sim50.tsv')).rows.map((r) => [r[0], r]));
    const csv = readFileSync(`${out}.gapit.csv`, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    expect(csv.length).toBe(SNPS);
    let worstP = 0;
    let worstEffect = 0;
    for (const row of csv) {
      const ref = gapit.get(row[0])!;
      worstP = Math.max(worstP, Math.abs(Math.log10(Number(row[3])) - Math.log10(Number(ref[3]))));
      if (ref[5] === 'NA') expect(row[6]).toBe('NA');
      else worstEffect = Math.max(worstEffect, Math.abs(Number(row[6]) / Number(ref[5]) - 1));
    }
    let worstAssoc = 0;
    for (const row of readTsv(`${out}.assoc.txt`).rows) worstAssoc = Math.max(worstAssoc, Math.abs(Math.log10(Number(row[9])) - Math.log10(Number(gapit.get(row[1])![3]))));
    console.log(`distributed CMLM Sim50 vs GAPIT: worst |Δ log10 p| ${worstP.toExponential(2)} (csv), ${worstAssoc.toExponential(2)} (assoc); worst effect relative ${worstEffect.toExponential(2)}`);
    expect(worstP).toBeLessThan(TOL_LOG10P);
    expect(worstEffect).toBeLessThan(TOL_EFFECT_REL);
    expect(worstAssoc).toBeLessThan(TOL_ASSOC_LOG10P);
  });

  it('gwasgrid cmlm --workers 2 (EarHT, g = 281: no compression) writes the bytes of plain gwasgrid cmlm and removes its shards', async () => {
    const dir = tempDir('cmlm-embedded');
    // Side by side: the embedded run spends most of its time waiting for its workers to start.
    const emb = cli(['cmlm', ...EARHT, '--workers', '2', '--out', join(dir, 'embedded')]);
    const two = cli(['cmlm', ...GENO, '--pheno', O('mdp_traits.txt'), '--pheno-name', 'EarHT,dpoll', '--workers', '2', '--out', join(dir, 'x')]);
    const ref = await single(EARHT, dir, 'single');
    expect((await emb.exit).code, emb.stderr).toBe(0);
    expectSameOutputs(join(dir, 'embedded'), ref);
    expect(emb.events('cmlm-model').map((r) => r.g)).toEqual([N]);
    expect(existsSync(join(dir, 'embedded.shards'))).toBe(false);
    const log = readFileSync(join(dir, 'embedded.log.txt'), 'utf8');
    expect(log).toMatch(/## Workers = 2 local worker processes \(gwasgrid cmlm --workers 2\)/);
    expect(log).toMatch(/## chosen group count = 281/);
    // Refused at the command line (exit 2): several traits in one CMLM run.
    expect((await two.exit).code).toBe(2);
    expect(two.stderr).toMatch(/a CMLM run analyses one trait/);
  });

  it('a worker SIGKILLed while it holds a lease: the lease expires, another worker takes the shard, same bytes', async () => {
    const out = join(tempDir('cmlm-kill-w'), 'sim50');
    const c = coordinator(SIM50_G131, out, ['--shard-size', '200', '--lease-timeout', '2']);
    const port = await listening(c);
    const victim = worker(port, ['--name', 'victim']);
    const held = await freezeHoldingLease(victim, c);
    const victimId = victim.records.find((r) => r.event === 'session')!.worker!;
    victim.kill('SIGKILL');
    expect((await victim.exit).signal).toBe('SIGKILL');
    const survivor = worker(port, ['--name', 'survivor']);
    expect((await c.exit).code, c.stderr).toBe(0);
    expect((await survivor.exit).code, survivor.stderr).toBe(0);

    expect(c.events('expired').filter((r) => r.shard === held).map((r) => r.worker)).toEqual([victimId]);
    const finished = c.events('finished').find((r) => r.shard === held)!;
    expect(finished.worker).not.toBe(victimId);
    expectEachShardOnce(c, 16);
    expectSameOutputs(out, g131Ref);
  });

  it('the coordinator SIGKILLed and restarted with the same --out: same job id, done shards skipped, the worker re-joins, same bytes', async () => {
    const out = join(tempDir('cmlm-kill-c'), 'sim50');
    const port = await freePort();
    const args = ['--shard-size', '200'];
    const c1 = coordinator(SIM50_G131, out, args, `127.0.0.1:${port}`);
    await listening(c1);
    const w = worker(port, ['--timeout', '60']);
    // Freeze the worker at its 5th lease, so that the coordinator dies mid-scan with at least 4 shards on disk.
    await w.waitFor(() => w.events('scan').length >= 5, 'the 5th lease');
    w.kill('SIGSTOP');
    c1.kill('SIGKILL');
    await c1.exit;
    const jobId = c1.events('job')[0].jobId;
    const before = readdirSync(`${out}.shards`).filter((f) => f.endsWith('.sha256')).length;
    expect(before).toBeGreaterThanOrEqual(4);
    expect(before).toBeLessThan(16);
    expect(existsSync(`${out}.assoc.txt`)).toBe(false);

    const c2 = coordinator(SIM50_G131, out, args, `127.0.0.1:${port}`);
    const resume = await c2.waitFor((r) => r.event === 'resume', 'the resume line');
    expect(resume.skipped).toBe(before);
    expect((await c2.waitFor((r) => r.event === 'job', 'the job line')).jobId).toBe(jobId);
    w.kill('SIGCONT');
    expect((await c2.exit).code, c2.stderr).toBe(0);
    expect((await w.exit).code, w.stderr).toBe(0);
    expect(c2.events('joined')).toHaveLength(1);
    expect(c2.events('finished').length + before).toBe(16);
    expectSameOutputs(out, g131Ref);
  });

  it('gwasgrid coordinator --method cmlm --help lists the CMLM flags and an example', () => {
    const help = spawnSync(process.execPath, [CLI, 'coordinator', '--method', 'cmlm', '--help'], { encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    for (const flag of ['--group-from', '--group-to', '--group-by', '--kinship-method', '--extract', '--listen', '--shard-size']) expect(help.stdout).toContain(flag);
    expect(help.stdout).toMatch(/coordinator --method cmlm --numeric/);
  });
});
