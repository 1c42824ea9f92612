/**
 * Shard results on disk, beside the output: `PREFIX.shards/`.
 *
 * - `job.json` names the job (its id: see shared/protocol/job.ts). A coordinator refuses a folder of another job.
 * - `shard-00012.tsv` holds the shard's output lines (no header), `shard-00012.tsv.sha256` its checksum in
 *   `sha256sum` format. Both are written to a temporary name and renamed; the checksum file last, so it exists
 *   only beside a complete shard file.
 * - The kinship phase keeps its own store in the same folder: `kinship.json` (the kinship job's id) and
 *   `kinship-00003.f64` (+ `.sha256`), the packed upper triangle of chunk 3's partial sum (float64 LE), so that
 *   a restarted coordinator resumes the kinship phase too (and rebuilds the same kinship for a resumed scan).
 * - A distributed FarmCPU/GLM run keeps the final round's rows here: `farm.json` and `final-00003.rows`
 *   (+ `.sha256`), partition 3's FinalRows as received by SubmitShard (shared/protocol/final-rows-codec.ts).
 *
 * Resume rule: a shard is done when both files exist and the shard file's sha256 equals the checksum file;
 * anything else (a missing checksum, a mismatch, temporary files) is deleted and the shard is computed again.
 * The merge writes `PREFIX.assoc.txt` (atomically) from the header and every shard in index order, checking
 * each checksum again, and refuses to finish when a shard is missing or damaged.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { AtomicWriter, writeFileAtomic } from '../shared/io/atomic.js';
import { InputError, UsageError } from '../shared/errors.js';
import type { Scheduler, ShardSpec } from './scheduler.js';
import type { Logger } from '../shared/log.js';

export const SHARD_STORE_FORMAT = 1;

export interface StoreManifest {
  jobId: string;
  method: string;
  totalSnps: number;
  shardSize: number;
  shards: number;
  /** Scan phase. */
  nullModelSha256?: string;
  /** Kinship phase: genotype samples (a partial has n(n+1)/2 entries). */
  samples?: number;
}

export interface StoreLayout {
  /** Manifest file name: `job.json` (scan shards) or `kinship.json`. */
  manifest: string;
  /** Extension of a shard file: `.tsv` or `.f64`. */
  ext: string;
}

export const SCAN_LAYOUT: StoreLayout = { manifest: 'job.json', ext: '.tsv' };
export const KINSHIP_LAYOUT: StoreLayout = { manifest: 'kinship.json', ext: '.f64' };
/** FarmCPU/GLM final rows by partition (`final-00003.rows`, coordinator/farm-results.ts). */
export const FINAL_ROWS_LAYOUT: StoreLayout = { manifest: 'farm.json', ext: '.rows' };

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export class ShardStore {
  readonly dir: string;

  constructor(
    readonly prefix: string,
    readonly layout: StoreLayout = SCAN_LAYOUT,
  ) {
    this.dir = `${prefix}.shards`;
  }

  /** The shard's data file (`shard-00012.tsv`, `kinship-00003.f64`). */
  tsvPath(s: ShardSpec): string {
    return join(this.dir, `${s.name}${this.layout.ext}`);
  }
  sumPath(s: ShardSpec): string {
    return `${this.tsvPath(s)}.sha256`;
  }

  /** Creates the folder or checks that it belongs to this job; removes temporary files of a killed process. */
  async open(m: StoreManifest): Promise<{ existed: boolean }> {
    await fsp.mkdir(this.dir, { recursive: true });
    const path = join(this.dir, this.layout.manifest);
    let existed = false;
    try {
      const old = JSON.parse(await fsp.readFile(path, 'utf8')) as Partial<StoreManifest> & {
        format?: number;
      };
      existed = true;
      if (old.format !== SHARD_STORE_FORMAT || old.jobId !== m.jobId) {
        throw new UsageError(
          `${this.dir} holds ${this.layout.ext === '.f64' ? 'kinship partials' : 'shards'} of another job (job ${String(old.jobId).slice(0, 12)}…, ` +
            `this one is ${m.jobId.slice(0, 12)}…: different inputs, flags, shard size or null model)`,
          `use another --out, or delete ${this.dir} to start this job afresh`,
        );
      }
    } catch (e) {
      if (e instanceof UsageError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new InputError(
          'INPUT_FORMAT',
          `cannot read the shard manifest: ${(e as Error).message}`,
          { file: path },
          `delete ${this.dir}`,
        );
      }
    }
    for (const f of await fsp.readdir(this.dir))
      if (/^\..*\.tmp-\d+$/.test(f)) await fsp.rm(join(this.dir, f), { force: true });
    if (!existed)
      await writeFileAtomic(
        path,
        JSON.stringify({ format: SHARD_STORE_FORMAT, ...m, created: new Date().toISOString() }, null, 1) +
          '\n',
      );
    return { existed };
  }

  /** The shard's bytes, verified against its checksum (null when missing or damaged). */
  async read(s: ShardSpec): Promise<Buffer | null> {
    try {
      const [data, sum] = await Promise.all([
        fsp.readFile(this.tsvPath(s)),
        fsp.readFile(this.sumPath(s), 'utf8'),
      ]);
      return sum.split(/\s+/)[0] === sha256(data) ? data : null;
    } catch {
      return null;
    }
  }

  /** Whether the shard's file and checksum exist and agree. */
  async verify(s: ShardSpec): Promise<boolean> {
    try {
      const [data, sum] = await Promise.all([
        fsp.readFile(this.tsvPath(s)),
        fsp.readFile(this.sumPath(s), 'utf8'),
      ]);
      return sum.split(/\s+/)[0] === sha256(data);
    } catch {
      return false;
    }
  }

  /** The shards already done (verified); leftovers of unfinished or damaged shards are deleted. */
  async resume(shards: ShardSpec[]): Promise<{ done: ShardSpec[]; discarded: string[] }> {
    const done: ShardSpec[] = [];
    const discarded: string[] = [];
    for (const s of shards) {
      if (await this.verify(s)) done.push(s);
      else if ((await exists(this.tsvPath(s))) || (await exists(this.sumPath(s)))) {
        discarded.push(s.name);
        await this.discard(s);
      }
    }
    return { done, discarded };
  }

  async discard(s: ShardSpec): Promise<void> {
    await fsp.rm(this.sumPath(s), { force: true });
    await fsp.rm(this.tsvPath(s), { force: true });
  }

  /** Writes a shard's lines and then its checksum, each atomically. */
  async write(s: ShardSpec, data: Uint8Array, hex: string): Promise<void> {
    await writeFileAtomic(this.tsvPath(s), data);
    await writeFileAtomic(this.sumPath(s), `${hex}  ${basename(this.tsvPath(s))}\n`);
  }

  /** `header` then every shard in index order into `path`; refuses (and leaves no file) if a shard is missing. */
  async merge(header: string, shards: ShardSpec[], path: string): Promise<number> {
    const writer = new AtomicWriter(path);
    let bytes = 0;
    try {
      await writer.write(header);
      for (const s of shards) {
        let data: Buffer;
        let sum: string;
        try {
          [data, sum] = await Promise.all([
            fsp.readFile(this.tsvPath(s)),
            fsp.readFile(this.sumPath(s), 'utf8'),
          ]);
        } catch {
          throw new InputError(
            'NO_DATA',
            `merge refused: ${s.name} is missing`,
            { file: this.tsvPath(s) },
            'run the coordinator again with the same --out to compute it',
          );
        }
        if (sum.split(/\s+/)[0] !== sha256(data)) {
          throw new InputError(
            'INPUT_FORMAT',
            `merge refused: ${s.name} does not match its checksum`,
            { file: this.tsvPath(s) },
            'run the coordinator again with the same --out to recompute it',
          );
        }
        await writer.write(data.toString('utf8'));
        bytes += data.length;
      }
      await writer.commit();
    } catch (e) {
      await writer.abort();
      throw e;
    }
    return bytes;
  }

  async removeAll(): Promise<void> {
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false,
  );
}

/**
 * With every shard (or kinship chunk) reported done: checks each file against its checksum once more and puts a
 * missing or damaged one back in the scheduler's queue. Returns how many went back (0: the phase is complete).
 */
export async function requeueDamaged(
  store: ShardStore,
  shards: readonly ShardSpec[],
  sched: Scheduler,
  log: Logger,
): Promise<number> {
  let bad = 0;
  for (const s of shards) {
    if (!(await store.verify(s))) {
      bad++;
      log.warn(
        `${s.name}: ${store.tsvPath(s)} is missing or does not match its checksum; computing it again`,
      );
      sched.requeue(s.index);
    }
  }
  return bad;
}
