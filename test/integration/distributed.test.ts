/**
 * Distributed MLM with real processes and real gRPC on loopback (the built CLI, `dist/bin/gwasgrid.js`):
 * coordinator + workers give the bytes of single-process `gwasgrid mlm` — with the kinship computed by the
 * workers (map-reduce kinship phase), also with workers that have no input files (--genotypes-from-coordinator,
 * started in another folder after the coordinator's input files were deleted), when a worker is SIGKILLed in
 * the middle of a shard, when the coordinator is SIGKILLed and restarted with the same --out, and when it is
 * stopped with SIGTERM mid-scan (exit 143, workers exit 0, shards kept) and restarted; a wrong token and an
 * unreachable coordinator make the worker exit non-zero with the reason. Ports are chosen at run time (the
 * coordinator listens on port 0 and logs the port). Workers run with GWASGRID_THREADS=1 (2-core machine).
 */
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bfilePath, dataPath, tempDir } from '../helpers/data.js';
import { freePort, killAll } from '../helpers/proc.js';
import { cli, coordinator, expectEachShardOnce, listening, worker, TOKEN } from '../helpers/distributed.js';

const MOUSE = ['--bfile', bfilePath('mouse_hs1940', 'mouse_hs1940'), '--kinship', dataPath('mouse_hs1940', 'reference', 'mouse_hs1940.cXX.txt.gz'), '--pheno-col', '1'];
/** Kinship computed (by the workers, in a distributed run). */
const MOUSE_K = ['--bfile', bfilePath('mouse_hs1940', 'mouse_hs1940'), '--pheno-col', '1'];
const MAIZE = ['--bfile', bfilePath('maize_mdp', 'maize_mdp'), '--kinship', dataPath('maize_mdp', 'reference', 'maize_mdp.cXX.txt'), '--lmm', '1'];
const MAIZE_K = ['--bfile', bfilePath('maize_mdp', 'maize_mdp'), '--lmm', '1'];

afterEach(() => killAll());

describe('distributed MLM over gRPC (real processes)', () => {
  let mouseRef: Buffer;
  /** Single-process gwasgrid mlm with the kinship computed (qcPass). */
  let mouseKinRef: Buffer;

  beforeAll(async () => {
    const dir = tempDir('dist-ref');
    const p = cli(['mlm', ...MOUSE, '--out', join(dir, 'cd8')], { GWASGRID_THREADS: '2' });
    const q = cli(['mlm', ...MOUSE_K, '--out', join(dir, 'cd8k')], { GWASGRID_THREADS: '2' });
    expect((await p.exit).code, p.stderr).toBe(0);
    expect((await q.exit).code, q.stderr).toBe(0);
    mouseRef = readFileSync(join(dir, 'cd8.assoc.txt'));
    mouseKinRef = readFileSync(join(dir, 'cd8k.assoc.txt'));
  });

  it('coordinator + 2 workers on mouse_hs1940 CD8, kinship computed by the workers: the bytes of single-process gwasgrid mlm', async () => {
    const out = join(tempDir('dist'), 'cd8');
    const c = coordinator(MOUSE_K, out);
    const port = await listening(c);
    const ws = [worker(port), worker(port)];
    expect((await c.exit).code, c.stderr).toBe(0);
    for (const w of ws) expect((await w.exit).code, w.stderr).toBe(0);
    expect(readFileSync(`${out}.assoc.txt`).equals(mouseKinRef)).toBe(true);
    // Each worker joins the kinship phase, then (told "join again") the scan: 4 joins.
    expect(c.events('joined')).toHaveLength(4);
    for (const w of ws) expect(w.events('session').map((r) => r.phase)).toEqual(['kinship', 'scan']);
    // The coordinator listens before it prepares the job: workers started with it are asked to wait.
    expect(ws.some((w) => w.events('waiting').length > 0)).toBe(true);
    expectEachShardOnce(c, 2, 'kinship');
    expectEachShardOnce(c, 16);
    expect(c.events('broadcast')).toHaveLength(2);
    expect(c.events('kinship-done')).toHaveLength(1);
    expect(c.records.some((r) => r.level === 'progress' && /kinship phase \(chunks\)/.test(JSON.stringify(r)) && /mbReceived/.test(JSON.stringify(r)))).toBe(true);
    expect(c.records.some((r) => r.level === 'progress' && /distributed scan/.test(JSON.stringify(r)))).toBe(true);
    const log = readFileSync(`${out}.log.txt`, 'utf8');
    expect(log).toMatch(/## pve estimate in the null model = 0\.609672/);
    expect(log).toMatch(/## Kinship = map-reduce over 2 chunks of 8192 SNP indices \(0 resumed\), 10768 SNPs; 30\.1 MB of partial sums/);
    expect(log).toMatch(/## Distributed = 16 shards/);
    // Shards, kinship partials and checksums stay beside the output (--keep-shards is the default).
    expect(readdirSync(`${out}.shards`).filter((f) => f.endsWith('.tsv.sha256'))).toHaveLength(16);
    expect(readdirSync(`${out}.shards`).filter((f) => f.endsWith('.f64.sha256'))).toHaveLength(2);
  });

  it('workers with --genotypes-from-coordinator, in another folder, after the input files are gone: same bytes', async () => {
    // The coordinator reads a copy of the inputs; once it serves the kinship phase, the copy is deleted, so the
    // workers (started afterwards, elsewhere) cannot read any input file: everything comes over gRPC.
    const inputs = tempDir('dist-remote-in');
    for (const ext of ['bed', 'bim', 'fam']) copyFileSync(`${bfilePath('mouse_hs1940', 'mouse_hs1940')}.${ext}`, join(inputs, `mouse.${ext}`));
    const out = join(tempDir('dist-remote'), 'cd8');
    const c = coordinator(['--bfile', join(inputs, 'mouse'), '--pheno-col', '1'], out);
    const port = await listening(c);
    await c.waitFor((r) => r.event === 'kinship-ready', 'the kinship phase');
    rmSync(inputs, { recursive: true });
    const elsewhere = tempDir('dist-remote-cwd');
    const ws = [worker(port, ['--genotypes-from-coordinator'], TOKEN, elsewhere), worker(port, ['--genotypes-from-coordinator'], TOKEN, elsewhere)];
    expect((await c.exit).code, c.stderr).toBe(0);
    for (const w of ws) expect((await w.exit).code, w.stderr).toBe(0);
    expect(readFileSync(`${out}.assoc.txt`).equals(mouseKinRef)).toBe(true);
    for (const w of ws) {
      expect(w.events('job-open').map((r) => r.remote)).toEqual([true, true]);
      expect(w.events('genotypes').length).toBeGreaterThan(0);
    }
    // Every lease's range was served once to its holder: 2 kinship chunks + 16 shards (no lease expired here).
    expect(c.events('expired')).toHaveLength(0);
    expect(c.events('genotypes')).toHaveLength(18);
    expect(readFileSync(`${out}.log.txt`, 'utf8')).toMatch(/## Genotypes served = 18 ranges/);
  });

  it('SIGTERM on the coordinator mid-scan: exit 143, workers exit 0, shards kept, no output; the restart resumes, same bytes', async () => {
    const out = join(tempDir('dist-term'), 'cd8');
    // A short lease timeout: heartbeats every 2 s, so the workers hear of the stop quickly.
    const c1 = coordinator(MOUSE_K, out, ['--shard-size', '500', '--lease-timeout', '6']);
    const port = await listening(c1);
    const ws = [worker(port), worker(port)];
    await c1.waitFor(() => c1.events('finished').filter((r) => r.shard!.startsWith('shard-')).length >= 4, '4 finished shards');
    c1.kill('SIGTERM');
    expect((await c1.exit).code).toBe(143);
    const stopped = c1.events('stopped')[0];
    expect(stopped.exitCode).toBe(143);
    expect(stopped.msg).toMatch(/stopped by SIGTERM before the job was done \(\d+ of 25 shards done\)/);
    expect(stopped.msg).toMatch(/To resume, run the same command again with the same --out/);
    // Workers were told and exit 0 without waiting for the coordinator.
    for (const w of ws) {
      expect((await w.exit).code, w.stderr).toBe(0);
      expect(w.events('coordinator-stopped')).toHaveLength(1);
    }
    expect(existsSync(`${out}.assoc.txt`)).toBe(false);
    const done = readdirSync(`${out}.shards`).filter((f) => /^shard-.*\.sha256$/.test(f)).length;
    expect(done).toBeGreaterThanOrEqual(4);
    expect(done).toBeLessThan(25);

    const c2 = coordinator(MOUSE_K, out, ['--shard-size', '500']);
    const port2 = await listening(c2);
    // The kinship phase resumes from its partials on disk (nothing left to compute), then the scan.
    expect((await c2.waitFor((r) => r.event === 'kinship-resume', 'the kinship resume line')).skipped).toBe(2);
    const ws2 = [worker(port2), worker(port2)];
    expect((await c2.waitFor((r) => r.event === 'resume', 'the resume line')).skipped).toBe(done);
    expect((await c2.exit).code, c2.stderr).toBe(0);
    for (const w of ws2) expect((await w.exit).code, w.stderr).toBe(0);
    expect(c2.events('finished').filter((r) => r.shard!.startsWith('kinship-'))).toHaveLength(0);
    expect(c2.events('finished').length + done).toBe(25);
    expect(readFileSync(`${out}.assoc.txt`).equals(mouseKinRef)).toBe(true);
  });

  it('a worker SIGKILLed mid-shard: its lease expires, another worker takes the shard, same bytes', async () => {
    const out = join(tempDir('dist-kill-w'), 'cd8');
    const c = coordinator(MOUSE, out, ['--shard-size', '500', '--lease-timeout', '3']);
    const port = await listening(c);
    const a = worker(port, ['--name', 'victim']);
    const b = worker(port, ['--name', 'survivor']);
    // Kill the victim right after it starts its second shard (a shard takes about half a second here).
    const scans = () => a.records.filter((r) => r.event === 'scan');
    await a.waitFor((r) => r.event === 'scan' && scans().length >= 2, 'the victim to start its second shard');
    a.kill('SIGKILL');
    const victimShard = scans()[1].shard!;
    const victimId = a.records.find((r) => r.event === 'session')!.worker!;
    expect((await a.exit).signal).toBe('SIGKILL');
    // A worker may join at any time.
    const late = worker(port, ['--name', 'late']);
    expect((await c.exit).code, c.stderr).toBe(0);
    for (const w of [b, late]) expect((await w.exit).code, w.stderr).toBe(0);

    const expired = c.events('expired').filter((r) => r.shard === victimShard);
    expect(expired.map((r) => r.worker)).toEqual([victimId]);
    expect(c.events('lost').map((r) => r.worker)).toContain(victimId);
    const finished = c.events('finished').find((r) => r.shard === victimShard)!;
    expect(finished.worker).not.toBe(victimId);
    expectEachShardOnce(c, 25);
    expect(readFileSync(`${out}.assoc.txt`).equals(mouseRef)).toBe(true);
  });

  it('the coordinator SIGKILLed and restarted with the same --out resumes, skips done shards, same bytes', async () => {
    const out = join(tempDir('dist-kill-c'), 'cd8');
    const c1 = coordinator(MOUSE, out, ['--shard-size', '500']);
    const port = await listening(c1);
    const ws = [worker(port, ['--timeout', '60']), worker(port, ['--timeout', '60'])];
    await c1.waitFor(() => c1.events('finished').length >= 4, '4 finished shards');
    c1.kill('SIGKILL');
    await c1.exit;
    const before = readdirSync(`${out}.shards`).filter((f) => f.endsWith('.sha256')).length;
    expect(before).toBeGreaterThanOrEqual(4);
    expect(existsSync(`${out}.assoc.txt`)).toBe(false);

    const c2 = cli([
      'coordinator',
      ...MOUSE,
      '--listen',
      `127.0.0.1:${port}`,
      '--token',
      TOKEN,
      '--out',
      out,
      '--shard-size',
      '500',
    ]);
    const resume = await c2.waitFor((r) => r.event === 'resume', 'the resume line');
    expect(resume.skipped).toBe(before);
    expect(resume.msg).toMatch(
      new RegExp(`${before} of 25 shards already done \\(checksums verified\\), skipped`),
    );
    expect((await c2.exit).code, c2.stderr).toBe(0);
    for (const w of ws) expect((await w.exit).code, w.stderr).toBe(0);
    // Workers noticed the restart and joined the new coordinator.
    expect(c2.events('joined')).toHaveLength(2);
    expect(c2.events('finished').length + before).toBe(25);
    expect(new Set([...c2.events('finished').map((r) => r.shard)]).size).toBe(25 - before);
    expect(readFileSync(`${out}.assoc.txt`).equals(mouseRef)).toBe(true);
  });

  it('a wrong token is refused: the worker exits non-zero naming the token; the right one finishes the job', async () => {
    const out = join(tempDir('dist-token'), 'earht');
    const c = coordinator(MAIZE, out);
    const port = await listening(c);
    const bad = worker(port, [], 'not-the-token');
    const r = await bad.exit;
    expect(r.code).toBe(6);
    expect(bad.stderr).toMatch(/refused the join token/);
    expect(bad.stderr).toMatch(/--token or GWASGRID_TOKEN/);
    expect(c.events('refused').length).toBeGreaterThanOrEqual(1);
    expect(c.events('joined')).toHaveLength(0);
    const good = worker(port);
    expect((await good.exit).code, good.stderr).toBe(0);
    expect((await c.exit).code, c.stderr).toBe(0);
  });

  it('an unreachable coordinator: the worker gives up after --timeout with the reason', async () => {
    const port = await freePort();
    const w = worker(port, ['--timeout', '1']);
    const r = await w.exit;
    expect(r.code).toBe(6);
    expect(w.stderr).toMatch(
      new RegExp(`coordinator 127\\.0\\.0\\.1:${port} unreachable for \\d+ s \\(--timeout 1 s\\)`),
    );
  });

  it('gwasgrid mlm --workers 2 (embedded, kinship phase included) writes the bytes of plain gwasgrid mlm and removes its shards', async () => {
    const dir = tempDir('dist-embedded');
    const single = cli(['mlm', ...MAIZE_K, '--out', join(dir, 'single')]);
    expect((await single.exit).code, single.stderr).toBe(0);
    const emb = cli(['mlm', ...MAIZE_K, '--workers', '2', '--out', join(dir, 'embedded')]);
    expect((await emb.exit).code, emb.stderr).toBe(0);
    expect(readFileSync(join(dir, 'embedded.assoc.txt')).equals(readFileSync(join(dir, 'single.assoc.txt')))).toBe(true);
    // Both local workers are started; on a fast machine the first can do maize's one kinship chunk and all its
    // shards before the second has joined (it is then told the job is done), so 2 to 4 joins (2 phases) are logged.
    const joined = emb.events('joined').length;
    expect(joined).toBeGreaterThanOrEqual(2);
    expect(joined).toBeLessThanOrEqual(4);
    expect(existsSync(join(dir, 'embedded.shards'))).toBe(false);
    const log = readFileSync(join(dir, 'embedded.log.txt'), 'utf8');
    expect(log).toMatch(/## Workers = 2 local worker processes/);
    expect(log).toMatch(/## Kinship = map-reduce over 1 chunks of 8192 SNP indices/);
  });

  it('QC flags travel to the workers (--hwe/--mac remove SNPs): same bytes as plain mlm', async () => {
    const dir = tempDir('dist-qc');
    const qc = ['--hwe', '1e-20', '--mac', '30'];
    const single = cli(['mlm', ...MAIZE, ...qc, '--out', join(dir, 'single')]);
    expect((await single.exit).code, single.stderr).toBe(0);
    const emb = cli(['mlm', ...MAIZE, ...qc, '--workers', '2', '--out', join(dir, 'embedded')]);
    expect((await emb.exit).code, emb.stderr).toBe(0);
    expect(
      readFileSync(join(dir, 'embedded.assoc.txt')).equals(readFileSync(join(dir, 'single.assoc.txt'))),
    ).toBe(true);
  });
});
