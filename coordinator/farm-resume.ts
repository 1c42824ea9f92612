/**
 * Resuming a distributed FarmCPU/GLM run after a coordinator restart with the same --out: a checkpoint of the
 * round history in `PREFIX.shards/`.
 *
 * The rounds are deterministic: a partition's reply is a pure function of the round request, the partition and
 * the job's scan inputs (shared/methods/farmcpu/protocol.ts). So every finished round's replies are kept under
 * the sha256 of its request (`round-<first 16 hex digits>.replies` + `.sha256`, written atomically, checksum
 * last), and a restarted coordinator — which replays the same round logic and therefore asks the same requests —
 * answers each request it finds there without the workers, until the first round that was not finished; from
 * there the workers take over. The final round's replies name their rows (`final-NNNNN.rows`), which are reused
 * when they still match their checksums.
 *
 * The store key ({@link farmStoreKey}, the `farm.json` manifest's job id) names the scan inputs: the setup every
 * worker receives (analysis SNPs, analysed samples, imputation, y, covariates, positions, partition table), the
 * size and modification time of every input file, and the formats of the checkpoint and of the final rows. Any
 * change there and the old checkpoint is deleted (coordinator/farm-results.ts `open`), never reused.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { InputSpec } from '../shared/methods/inputs.js';
import type { Logger } from '../shared/log.js';
import { writeFileAtomic } from '../shared/io/atomic.js';
import { decodeFrame, encodeFrame } from '../shared/protocol/frames.js';
import { FINAL_ROWS_FORMAT } from '../shared/protocol/final-rows-codec.js';
import type { RoundCheckpoint } from '../shared/protocol/farm-bus.js';

/** Layout of the round checkpoint files; bump when it changes (or when a scan's replies change meaning). */
export const ROUND_CHECKPOINT_FORMAT = 1;

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** The input files a spec names (a PLINK prefix as its three files). */
function inputFiles(spec: InputSpec): string[] {
  const files = [
    spec.geno,
    spec.anno,
    spec.numeric,
    spec.map,
    spec.numericInd,
    spec.vcf,
    spec.hapmap,
    spec.pheno,
    spec.covar,
  ];
  if (spec.bfile) files.push(`${spec.bfile}.bed`, `${spec.bfile}.bim`, `${spec.bfile}.fam`);
  return files.filter((f): f is string => !!f);
}

/** The checkpoint's store key: sha256 of the setup frame, the input files' sizes and mtimes, the formats. */
export async function farmStoreKey(setupFrame: Uint8Array, input: InputSpec): Promise<string> {
  const files = await Promise.all(
    inputFiles(input).map(async (path) => {
      const st = await fsp.stat(path).catch(() => null);
      return { path, size: st?.size ?? -1, mtimeMs: st?.mtimeMs ?? -1 };
    }),
  );
  return sha256(
    JSON.stringify({
      checkpoint: ROUND_CHECKPOINT_FORMAT,
      finalRows: FINAL_ROWS_FORMAT,
      setup: sha256(setupFrame),
      files,
    }),
  );
}

/** The round replies of `PREFIX.shards/`, by request hash (see the file comment). */
export class RoundFiles implements RoundCheckpoint {
  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** `round-<16 hex>.replies` of a request. */
  path(request: Uint8Array): string {
    return join(this.dir, `round-${sha256(request).slice(0, 16)}.replies`);
  }

  async get(request: Uint8Array): Promise<Uint8Array[] | null> {
    const path = this.path(request);
    let data: Buffer;
    let sum: string;
    try {
      [data, sum] = await Promise.all([fsp.readFile(path), fsp.readFile(`${path}.sha256`, 'utf8')]);
    } catch {
      return null;
    }
    if (sum.split(/\s+/)[0] !== sha256(data)) {
      this.log.warn(`${path} does not match its checksum; the round is run again`);
      return null;
    }
    try {
      const v = decodeFrame<{ request: string; replies: Uint8Array[] }>(data);
      return v.request === sha256(request) && Array.isArray(v.replies) ? v.replies : null;
    } catch {
      return null;
    }
  }

  async put(request: Uint8Array, replies: Uint8Array[]): Promise<void> {
    const path = this.path(request);
    const data = encodeFrame({ request: sha256(request), replies });
    await writeFileAtomic(path, data);
    await writeFileAtomic(`${path}.sha256`, `${sha256(data)}  ${path.slice(this.dir.length + 1)}\n`);
  }
}
