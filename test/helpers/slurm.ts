/**
 * A throw-away single-node SLURM cluster for integration tests, configured as ../shared/docs/INFRA.md (B3)
 * describes: munged with its own key and socket, slurmctld and slurmd as root, every file under one temporary
 * directory, free (non-default) ports, NodeName = `hostname -s`, no cgroups (proctrack/linuxproc, task/none).
 * It cannot clash with a site SLURM: every command gets SLURM_CONF pointing at our slurm.conf.
 *
 * {@link startSlurm} returns a reason instead of a cluster when it cannot run here (not Linux, not root,
 * slurm-wlm/munge missing, a daemon does not start); the caller prints it and skips.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './data.js';
import { freePort, processAlive as alive } from './proc.js';

const run = promisify(execFile);

const FINAL = /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)$/;
const BINARIES = ['/usr/sbin/munged', '/usr/sbin/mungekey', '/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/bin/sbatch', '/usr/bin/srun', '/usr/bin/scontrol', '/usr/bin/sinfo'];

export interface JobInfo {
  state: string;
  exitCode: string;
  restarts: number;
  raw: string;
}

export class SlurmCluster {
  /** Daemon pids, read once they are up (pid files are removed on shutdown). */
  private pids: { slurmctld: number; slurmd: number; munged: number } = { slurmctld: 0, slurmd: 0, munged: 0 };

  private constructor(
    readonly dir: string,
    readonly env: Record<string, string>,
  ) {}

  private readPids(): void {
    const read = (f: string) => (existsSync(join(this.dir, f)) ? Number(readFileSync(join(this.dir, f), 'utf8').trim()) || 0 : 0);
    this.pids = { slurmctld: read('slurmctld.pid'), slurmd: read('slurmd.pid'), munged: read('munge/munged.pid') };
  }

  /** Runs a SLURM client command against this cluster. */
  async cmd(command: string, args: string[], extraEnv: Record<string, string> = {}, cwd?: string): Promise<string> {
    const { stdout } = await run(command, args, { env: { ...process.env, ...this.env, ...extraEnv }, cwd });
    return stdout;
  }

  /** The job's records (one per task for an array job). */
  async job(id: string): Promise<JobInfo[]> {
    const out = await this.cmd('scontrol', ['show', 'job', '-o', id]);
    return out
      .split('\n')
      .filter((l) => l.trim())
      .map((raw) => {
        const field = (k: string) => new RegExp(`\\b${k}=(\\S+)`).exec(raw)?.[1] ?? '';
        return { state: field('JobState'), exitCode: field('ExitCode'), restarts: Number(field('Restarts') || 0), raw };
      });
  }

  /** Waits until the job (every task of an array) has ended; returns the final records. */
  async waitDone(id: string, timeoutMs: number): Promise<JobInfo[]> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const infos = await this.job(id);
      if (infos.length && infos.every((j) => FINAL.test(j.state))) return infos;
      if (Date.now() > until) throw new Error(`SLURM job ${id} not done after ${timeoutMs / 1000} s:\n${infos.map((j) => j.raw).join('\n')}\n${this.logs()}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Tails of the daemon logs (for failure messages). */
  logs(): string {
    const tail = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-15).join('\n') : '(none)');
    return `--- slurmctld.log\n${tail(join(this.dir, 'log', 'slurmctld.log'))}\n--- slurmd.log\n${tail(join(this.dir, 'log', 'slurmd.log'))}`;
  }

  /**
   * Cancels every job and waits for it to end, shuts the daemons down, then SIGKILLs what is left of this
   * cluster: its daemons (pids read at start; slurmd removes its pid file but lingers while a step cannot report)
   * and any process whose environment names this cluster's slurm.conf (slurmstepd, job processes).
   */
  async stop(): Promise<void> {
    await this.cmd('scancel', ['--full', '--user', 'root']).catch(() => undefined);
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      const q = await this.cmd('squeue', ['-h', '-o', '%i']).catch(() => '');
      if (!q.trim()) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await this.cmd('scontrol', ['shutdown']).catch(() => undefined);
    if (this.pids.munged) signal(this.pids.munged, 'SIGTERM');
    const daemons = Object.values(this.pids).filter((p) => p > 0);
    const stopBy = Date.now() + 5000;
    while (daemons.some(alive) && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 100));
    for (const pid of [...daemons, ...processesOf(this.env.SLURM_CONF)]) if (alive(pid)) signal(pid, 'SIGKILL');
  }

  /**
   * Starts munged, slurmctld and slurmd; resolves when the node is idle. Returns a string (the reason) when
   * SLURM cannot run here.
   */
  static async start(): Promise<SlurmCluster | string> {
    if (process.platform !== 'linux') return `not Linux (${process.platform})`;
    if (process.getuid?.() !== 0) return 'not root: the test harness runs munged, slurmctld and slurmd as root (INFRA.md B3)';
    const missing = BINARIES.filter((b) => !existsSync(b));
    if (missing.length) return `slurm-wlm/munge not installed (missing ${missing.join(', ')}); apt-get install -y slurm-wlm munge`;

    const dir = tempDir('slurm');
    chmodSync(dir, 0o755); // munged (user munge) must reach its socket directory
    for (const d of ['munge', 'state', 'spool', 'log', 'out']) mkdirSync(join(dir, d));
    const munge = join(dir, 'munge');
    let uid: number, gid: number;
    try {
      uid = Number(execFileSync('id', ['-u', 'munge']).toString());
      gid = Number(execFileSync('id', ['-g', 'munge']).toString());
    } catch {
      return 'no "munge" user (the munge package creates it)';
    }
    chownSync(munge, uid, gid);
    const key = join(munge, 'munge.key');
    try {
      execFileSync('/usr/sbin/mungekey', ['-c', '-k', key], { stdio: 'pipe' });
      chownSync(key, uid, gid);
      chmodSync(key, 0o600);
      execFileSync(
        'runuser',
        ['-u', 'munge', '--', '/usr/sbin/munged', `--socket=${munge}/munge.sock`, `--pid-file=${munge}/munged.pid`, `--log-file=${munge}/munged.log`, `--seed-file=${munge}/munged.seed`, `--key-file=${key}`],
        { stdio: 'pipe' },
      );
    } catch (e) {
      const log = existsSync(`${munge}/munged.log`) ? readFileSync(`${munge}/munged.log`, 'utf8') : '';
      return `munged cannot start: ${(e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message}${log}`;
    }

    const node = hostname().split('.')[0];
    const [ctldPort, dPort] = [await freePort(), await freePort()];
    const conf = join(dir, 'slurm.conf');
    writeFileSync(
      conf,
      [
        `ClusterName=gwgtest${process.pid}`,
        `SlurmctldHost=${node}(127.0.0.1)`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${dPort}`,
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        `AuthInfo=socket=${munge}/munge.sock`,
        'CredType=cred/munge',
        `StateSaveLocation=${dir}/state`,
        `SlurmdSpoolDir=${dir}/spool`,
        `SlurmctldPidFile=${dir}/slurmctld.pid`,
        `SlurmdPidFile=${dir}/slurmd.pid`,
        `SlurmctldLogFile=${dir}/log/slurmctld.log`,
        `SlurmdLogFile=${dir}/log/slurmd.log`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'SchedulerType=sched/backfill',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_Core',
        'ReturnToService=2',
        'MpiDefault=none',
        'KillWait=5',
        `NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus().length} State=UNKNOWN`,
        'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
        '',
      ].join('\n'),
    );
    const cluster = new SlurmCluster(dir, { SLURM_CONF: conf });
    cluster.readPids(); // munged
    try {
      await cluster.cmd('/usr/sbin/slurmctld', []);
      await cluster.cmd('/usr/sbin/slurmd', []);
    } catch (e) {
      cluster.readPids();
      await cluster.stop();
      return `slurmctld/slurmd cannot start: ${(e as { stderr?: string }).stderr ?? (e as Error).message}\n${cluster.logs()}`;
    }
    const until = Date.now() + 15_000;
    for (;;) {
      const state = await cluster.cmd('sinfo', ['-h', '-o', '%T']).catch(() => '');
      if (/^idle/m.test(state)) {
        cluster.readPids();
        return cluster;
      }
      if (Date.now() > until) {
        cluster.readPids();
        await cluster.stop();
        return `slurmd did not come up (sinfo: "${state.trim()}")\n${cluster.logs()}`;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Pids of processes (not this one) whose environment has SLURM_CONF=`conf`. */
function processesOf(conf: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!pid || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`SLURM_CONF=${conf}`)) out.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
