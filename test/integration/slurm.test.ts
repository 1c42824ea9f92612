/**
 * The SLURM batch scripts end to end on a real (single-node) SLURM: munged + slurmctld + slurmd started by the
 * harness in a temporary directory (test/helpers/slurm.ts, as ../shared/docs/INFRA.md B3), then the commands of
 * docs/runbook-slurm.md, read from the runbook and run unchanged with its variables set to this machine
 * (NODES=1, WORKERS_PER_NODE=2, CPUS=1): deploy/slurm/gwasgrid-allocation.sbatch (coordinator + 2 workers via
 * srun), the same with a requeue in the middle (what preemption does: the restarted script resumes from the
 * finished shards), and deploy/slurm/gwasgrid-workers-array.sbatch joining a coordinator started outside SLURM.
 * Each result must have the bytes of single-process `gwasgrid mlm` on mouse_hs1940 (bundled bed, CD8 from
 * ../shared/data). FarmCPU (`--method farmcpu`, nats-server on the first node) runs once `gwasgrid farmcpu` exists.
 * Skips, printing why, only where SLURM cannot run (not root, slurm-wlm/munge missing, a daemon
 * does not start). Daemons are always stopped.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, dataPath, tempDir } from '../helpers/data.js';
import {
  CLI,
  Proc,
  cliCommands,
  freePort,
  killAll,
  processAlive as alive,
  resultContent,
  skipBecause,
} from '../helpers/proc.js';
import { runbookBlock } from '../helpers/runbook.js';
import { SlurmCluster } from '../helpers/slurm.js';

const GENO = join(REPO, 'test', 'data', 'mouse_hs1940', 'mouse_hs1940');
const PHENO = dataPath('mouse_hs1940', 'mouse_hs1940.pheno.txt');
const RUNBOOK = 'runbook-slurm.md';
const JOB_TIMEOUT = 150_000;

let cluster: SlurmCluster | null = null;
let skipReason = '';
let reference: Buffer;
let binDir: string;
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  // `gwasgrid` on PATH, as after `npm link` (the runbook's commands call it by name).
  binDir = tempDir('slurm-bin');
  writeFileSync(join(binDir, 'gwasgrid'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(binDir, 'gwasgrid'), 0o755);
  const ref = join(tempDir('slurm-ref'), 'cd8');
  const single = Proc.gwasgrid(['mlm', '--bfile', GENO, '--pheno', PHENO, '--pheno-col', '1', '--out', ref]);
  const [started, done] = await Promise.all([SlurmCluster.start(), single.exit]);
  expect(done.code, single.stderr).toBe(0);
  reference = readFileSync(`${ref}.assoc.txt`);
  if (typeof started === 'string') {
    skipReason = started;
    console.warn(`SLURM tests skipped: ${started}`);
  } else {
    cluster = started;
  }
});

afterAll(async () => {
  for (const c of cleanups) c();
  killAll();
  await cluster?.stop();
});

/** The runbook's variables, set to this machine; `GWASGRID_PORT` for the allocation script. */
async function vars(run: string): Promise<Record<string, string>> {
  const port = String(await freePort());
  return {
    ...cluster!.env,
    PATH: `${binDir}:${process.env.PATH}`,
    GENO,
    PHENO,
    RUN: run,
    NODES: '1',
    WORKERS_PER_NODE: '2',
    CPUS: '1',
    PORT: port,
    GWASGRID_PORT: port,
    GWASGRID_NATS_PORT: String(await freePort()),
    TOKEN_FILE: join(run, 'token'),
    GWASGRID_WORKER_TIMEOUT: '60',
  };
}

/** Runs a tagged runbook block with bash (cwd: the repository); resolves with its stdout. */
function runBlock(name: string, env: Record<string, string>, detached = false): Promise<string> {
  const script = runbookBlock(RUNBOOK, name);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached,
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`runbook block ${name} exited ${code}:\n${out}\n${err}`)),
    );
  });
}

const jobIdOf = (stdout: string) => {
  const m = /submitted job (\d+)/.exec(stdout);
  if (!m) throw new Error(`no job id in:\n${stdout}`);
  return m[1];
};

/** JSON log records in a file (other lines ignored). */
function records(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('SLURM (single node, real daemons)', () => {
  it('gwasgrid-allocation.sbatch: coordinator + 2 srun workers write the bytes of gwasgrid mlm', async (ctx) => {
    if (!cluster) return skipBecause(ctx, skipReason);
    const run = tempDir('slurm-alloc');
    const env = await vars(run);
    const jobid = jobIdOf(await runBlock('slurm-allocation', env));
    const [info] = await cluster.waitDone(jobid, JOB_TIMEOUT);
    const out = join(run, `gwasgrid-${jobid}.out`);
    const text = existsSync(out) ? readFileSync(out, 'utf8') : '(no output file)';
    expect(info.state, text).toBe('COMPLETED');
    expect(info.exitCode).toBe('0:0');
    expect(readFileSync(join(run, 'cd8.assoc.txt')).equals(reference)).toBe(true);

    expect(text).toMatch(new RegExp(`coordinator on \\S+:${env.GWASGRID_PORT}, 1 node\\(s\\)`));
    const recs = records(out);
    // Each worker joins once per phase (kinship phase, then scan).
    const joins = recs.filter((r) => r.event === 'joined').length;
    expect(joins).toBeGreaterThanOrEqual(2);
    expect(joins).toBeLessThanOrEqual(4);
    expect(recs.filter((r) => r.event === 'finished' && String(r.shard).startsWith('shard-'))).toHaveLength(
      16,
    ); // + the kinship chunks
    // Each srun task logged to its own file and received the null model.
    for (const t of [0, 1])
      expect(records(join(run, `cd8.worker-${t}.log`)).some((r) => r.event === 'model')).toBe(true);
    // The contact file for extra workers is removed after success.
    expect(existsSync(join(run, 'cd8.coordinator'))).toBe(false);
    // The runbook's progress command shows the last progress line.
    const progress = await runBlock('slurm-progress', { ...env, jobid });
    expect(progress).toMatch(/"stage":"distributed scan \(shards\)","done":16,"total":16/);
  }, 300_000);

  it('requeued mid-run (as on preemption): the restarted script resumes from the finished shards, same bytes', async (ctx) => {
    if (!cluster) return skipBecause(ctx, skipReason);
    const run = tempDir('slurm-requeue');
    const env = await vars(run);
    const jobid = jobIdOf(await runBlock('slurm-allocation', env));
    const shards = join(run, 'cd8.shards');
    const doneShards = () =>
      existsSync(shards)
        ? readdirSync(shards).filter((f) => f.startsWith('shard-') && f.endsWith('.sha256')).length
        : 0;
    const until = Date.now() + JOB_TIMEOUT;
    while (doneShards() < 4) {
      if (Date.now() > until)
        throw new Error(`no 4 finished shards in time:\n${(await cluster.job(jobid))[0]?.raw}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await runBlock('slurm-requeue', { ...env, jobid });
    const [info] = await cluster.waitDone(jobid, JOB_TIMEOUT);
    const text = readFileSync(join(run, `gwasgrid-${jobid}.out`), 'utf8');
    expect(info.state, text).toBe('COMPLETED');
    expect(info.exitCode).toBe('0:0');
    expect(info.restarts).toBe(1);
    expect(text).toMatch(/attempt 1:/);
    expect(text).toMatch(/SIGTERM: stopping/);
    expect(text).toMatch(/attempt 2:/);
    const resume = records(join(run, `gwasgrid-${jobid}.out`)).find((r) => r.event === 'resume');
    expect(resume, text).toBeDefined();
    expect(resume!.skipped as number).toBeGreaterThanOrEqual(4);
    expect(readFileSync(join(run, 'cd8.assoc.txt')).equals(reference)).toBe(true);
  }, 300_000);

  it('gwasgrid-allocation.sbatch --method farmcpu: nats-server on the first node, same results as gwasgrid farmcpu', async (ctx) => {
    if (!cluster) return skipBecause(ctx, skipReason);
    if (!cliCommands().includes('farmcpu'))
      return skipBecause(ctx, '`gwasgrid --help` lists no farmcpu command: FarmCPU is not in this build yet');
    const run = tempDir('slurm-farmcpu');
    const single = Proc.gwasgrid([
      'farmcpu',
      '--bfile',
      GENO,
      '--pheno',
      PHENO,
      '--pheno-col',
      '1',
      '--out',
      join(run, 'single', 'cd8-farmcpu'),
    ]);
    const env = await vars(run);
    const jobid = jobIdOf(await runBlock('slurm-allocation-farmcpu', env));
    const [info] = await cluster.waitDone(jobid, JOB_TIMEOUT);
    const text = readFileSync(join(run, `gwasgrid-${jobid}.out`), 'utf8');
    expect(info.state, text).toBe('COMPLETED');
    expect(info.exitCode).toBe('0:0');
    expect(text).toMatch(new RegExp(`nats-server on \\S+:${env.GWASGRID_NATS_PORT}`));
    expect((await single.exit).code, single.stderr).toBe(0);
    const results = readdirSync(join(run, 'single')).filter(
      (f) => f.startsWith('cd8-farmcpu.') && !f.endsWith('.log.txt'),
    );
    expect(results.length).toBeGreaterThan(0);
    for (const f of results)
      expect(resultContent(join(run, f)).equals(resultContent(join(run, 'single', f))), f).toBe(true);
  }, 300_000);

  it('--method farmcpu plumbing: the script starts nats-server on the first node, passes --nats, stops it at the end', async (ctx) => {
    // The real FarmCPU run is the test above; this one checks the script's NATS handling with a stand-in for
    // gwasgrid (GWASGRID, as documented) that records its arguments and reads NATS's INFO line from the URL it got.
    if (!cluster) return skipBecause(ctx, skipReason);
    if (!['/usr/sbin/nats-server', '/usr/bin/nats-server'].some(existsSync))
      throw new Error('nats-server is not installed (apt-get install -y nats-server)');
    const run = tempDir('slurm-nats');
    const fake = join(run, 'fake-gwasgrid');
    writeFileSync(
      fake,
      [
        '#!/bin/bash',
        'echo "$*" >> "$RUN/fake.args"',
        'if [[ $1 == coordinator ]]; then',
        '  url=$(sed -n "s/.*--nats nats:\\/\\/\\([^ ]*\\).*/\\1/p" <<<"$*")',
        '  exec 3<>"/dev/tcp/${url%:*}/${url#*:}" && head -c 5 <&3 >> "$RUN/fake.nats" && exec 3<&-',
        '  sleep 1',
        'fi',
        'exit 0',
        '',
      ].join('\n'),
    );
    chmodSync(fake, 0o755);
    const env: Record<string, string> = { ...(await vars(run)), GWASGRID: fake };
    const jobid = jobIdOf(await runBlock('slurm-allocation-farmcpu', env));
    const [info] = await cluster.waitDone(jobid, JOB_TIMEOUT);
    const text = readFileSync(join(run, `gwasgrid-${jobid}.out`), 'utf8');
    expect(info.state, text).toBe('COMPLETED');
    const args = readFileSync(join(run, 'fake.args'), 'utf8');
    expect(args).toMatch(
      new RegExp(
        `^coordinator --method farmcpu --bfile \\S+ --pheno \\S+ --pheno-col 1 --out \\S+cd8-farmcpu --nats nats://\\S+:${env.GWASGRID_NATS_PORT} --listen 0\\.0\\.0\\.0:${env.GWASGRID_PORT}$`,
        'm',
      ),
    );
    expect(args.match(/^worker --coordinator \S+ --timeout 60 --threads 1$/gm)).toHaveLength(2);
    expect(readFileSync(join(run, 'fake.nats'), 'utf8')).toBe('INFO ');
    // nats-server was stopped and its store removed.
    expect(processesWithArg(`-p ${env.GWASGRID_NATS_PORT}`)).toEqual([]);
    expect(readFileSync(join(run, 'cd8-farmcpu.nats.log'), 'utf8')).toMatch(/Server is ready/);
  }, 300_000);

  it('gwasgrid-workers-array.sbatch: a 2-task array joins a coordinator running outside SLURM, same bytes', async (ctx) => {
    if (!cluster) return skipBecause(ctx, skipReason);
    const run = tempDir('slurm-array');
    mkdirSync(run, { recursive: true });
    const env = await vars(run);
    const jobid = jobIdOf(await runBlock('slurm-array', env, true));
    const pid = Number(readFileSync(join(run, 'cd8-array.coordinator.pid'), 'utf8'));
    cleanups.push(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    const tasks = await cluster.waitDone(jobid, JOB_TIMEOUT);
    const log = join(run, 'cd8-array.coordinator.log');
    expect(tasks).toHaveLength(2);
    for (const t of tasks) {
      expect(t.state, readFileSync(log, 'utf8')).toBe('COMPLETED');
      expect(t.exitCode).toBe('0:0');
    }
    // The coordinator (not a child of this test) exits once the job is merged.
    const until = Date.now() + 30_000;
    while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
    expect(readFileSync(join(run, 'cd8-array.assoc.txt')).equals(reference)).toBe(true);
    const joined = records(log).filter((r) => r.event === 'joined');
    expect(joined.length).toBeGreaterThanOrEqual(2); // once per phase and worker: 2 to 4
    expect(joined.length).toBeLessThanOrEqual(4);
    expect(joined.map((r) => String(r.msg)).join('\n')).toMatch(new RegExp(`slurm-${jobid}_0`));
  }, 300_000);
});

/** Pids of processes whose command line contains `arg`. */
function processesWithArg(arg: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return (
          readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').includes(arg) && alive(Number(d))
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}
