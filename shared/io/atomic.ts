/**
 * Output files are written to a temporary name beside the target and renamed into place when complete, so a
 * crash never leaves a file that looks finished.
 */
import { createWriteStream, promises as fsp, type WriteStream } from 'node:fs';
import { dirname, basename, join } from 'node:path';

export class AtomicWriter {
  private readonly tmp: string;
  private readonly stream: WriteStream;
  private failed: Error | null = null;

  constructor(readonly path: string) {
    this.tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
    this.stream = createWriteStream(this.tmp, { highWaterMark: 1 << 20 });
    this.stream.on('error', (e) => {
      this.failed = e;
    });
  }

  /**
   * Writes a chunk, waiting for the stream to drain when its buffer is full. A byte chunk is held by the stream
   * until flushed: do not reuse it.
   */
  async write(chunk: string | Uint8Array): Promise<void> {
    if (this.failed) throw this.failed;
    if (!this.stream.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.stream.off('error', onError);
          resolve();
        };
        const onError = (e: Error) => {
          this.stream.off('drain', onDrain);
          reject(e);
        };
        this.stream.once('drain', onDrain);
        this.stream.once('error', onError);
      });
    }
  }

  /** Flushes, closes and renames into place. */
  async commit(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
    if (this.failed) throw this.failed;
    await fsp.rename(this.tmp, this.path);
  }

  /** Removes the temporary file (after a failure). */
  async abort(): Promise<void> {
    this.stream.destroy();
    await fsp.rm(this.tmp, { force: true });
  }
}

/** Writes a whole file atomically. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  await fsp.writeFile(tmp, data);
  await fsp.rename(tmp, path);
}
