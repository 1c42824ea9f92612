/**
 * Per-SNP tests on worker threads. The main thread reads, imputes and rotates genotype blocks (the rotation
 * runs in the native addon off the event loop); each rotated block goes to the next free thread, which runs
 * {@link LmmScanner} on it and returns 8 numbers per SNP. Blocks come back in submission order, so output
 * order is unchanged. With one thread (or where threads cannot start) the scanner runs inline.
 *
 * Only the small part of the null model travels to the threads (eigenvalues, Uᵀw, Uᵀy, λ₀), never U.
 */
import { Worker } from 'node:worker_threads';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LmmScanner, type LmmMode, type LmmRow } from './scan.js';
import type { NullModel } from './null.js';

export const ROW_FIELDS = 8;

export function rowToArray(r: LmmRow, out: Float64Array, off: number): void {
  out[off] = r.beta;
  out[off + 1] = r.se;
  out[off + 2] = r.loglH1;
  out[off + 3] = r.lRemle;
  out[off + 4] = r.lMle;
  out[off + 5] = r.log10pWald;
  out[off + 6] = r.log10pLrt;
  out[off + 7] = r.log10pScore;
}

export function arrayToRow(a: Float64Array, off: number): LmmRow {
  return {
    beta: a[off],
    se: a[off + 1],
    loglH1: a[off + 2],
    lRemle: a[off + 3],
    lMle: a[off + 4],
    log10pWald: a[off + 5],
    log10pLrt: a[off + 6],
    log10pScore: a[off + 7],
  };
}

/** The fields of the null model a scanning thread needs (no U). */
export type ScanModel = Omit<NullModel, 'U'> & { U?: undefined };

export function scanModelOf(m: NullModel): ScanModel {
  return { ...m, U: undefined };
}

/** Tests `count` rotated SNPs (row-major count × n) and packs the rows. */
export function testBlock(scanner: LmmScanner, rotated: Float64Array, count: number, n: number): Float64Array {
  const out = new Float64Array(count * ROW_FIELDS);
  for (let r = 0; r < count; r++) rowToArray(scanner.test(rotated.subarray(r * n, (r + 1) * n)), out, r * ROW_FIELDS);
  return out;
}

/** The compiled worker script (tests run from TypeScript sources, so map to dist/ when needed). */
function workerPath(): string | null {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) {
    const js = here.replace(/scan-pool\.js$/, 'scan-thread.js');
    return existsSync(js) ? js : null;
  }
  // Running from TypeScript sources (tests): threads need the compiled code. If any per-SNP source is newer
  // than its compiled file, the threads would run stale code, so scan inline instead (same results).
  const distDir = here.replace(/\/shared\/lmm\/scan-pool\.ts$/, '/dist/shared/lmm/');
  const srcDir = here.replace(/scan-pool\.ts$/, '');
  const js = `${distDir}scan-thread.js`;
  if (!existsSync(js)) return null;
  for (const f of readdirSync(srcDir)) {
    if (!f.endsWith('.ts')) continue;
    const compiled = `${distDir}${f.replace(/\.ts$/, '.js')}`;
    if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(`${srcDir}${f}`).mtimeMs) return null;
  }
  return js;
}

interface Pending {
  resolve(rows: Float64Array): void;
  reject(e: unknown): void;
}

export class ScanPool {
  private readonly idle: Worker[] = [];
  private readonly waiting: Array<() => void> = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private readonly inline: LmmScanner | null;

  private constructor(
    private readonly workers: Worker[],
    model: NullModel,
    mode: LmmMode,
  ) {
    this.inline = workers.length === 0 ? new LmmScanner(model, mode) : null;
    for (const w of workers) {
      this.idle.push(w);
      w.on('message', (msg: { id: number; rows?: Float64Array; error?: string }) => {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        this.release(w);
        if (!p) return;
        if (msg.error) p.reject(new Error(`scan thread: ${msg.error}`));
        else p.resolve(msg.rows!);
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
    }
  }

  /** Starts `threads` scanning threads (0 or 1 → inline). */
  static async create(model: NullModel, mode: LmmMode, threads: number): Promise<ScanPool> {
    const path = threads > 1 ? workerPath() : null;
    if (!path) return new ScanPool([], model, mode);
    const workers: Worker[] = [];
    const init = { model: scanModelOf(model), mode };
    for (let i = 0; i < threads; i++) workers.push(new Worker(path, { workerData: init }));
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('online', () => resolve());
            w.once('error', reject);
          }),
      ),
    );
    return new ScanPool(workers, model, mode);
  }

  get threads(): number {
    return this.workers.length || 1;
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    this.idle.push(w);
    next?.();
  }

  private async acquire(): Promise<Worker> {
    while (this.idle.length === 0) await new Promise<void>((r) => this.waiting.push(r));
    return this.idle.shift()!;
  }

  /**
   * Submits a rotated block (the array is transferred to the thread: do not reuse it). Resolves with
   * `count × ROW_FIELDS` numbers.
   */
  async submit(rotated: Float64Array, count: number, n: number): Promise<Float64Array> {
    if (this.inline) return testBlock(this.inline, rotated, count, n);
    const w = await this.acquire();
    const id = this.nextId++;
    return new Promise<Float64Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, rotated, count, n }, [rotated.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
