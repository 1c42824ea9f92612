/**
 * Worker-thread entry for {@link ScanPool}: builds an {@link LmmScanner} from the null model it was started
 * with and answers `{ id, rotated, count, n }` with `{ id, rows }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LmmScanner, type LmmMode } from './scan.js';
import { testBlock, type ScanModel } from './scan-pool.js';
import type { NullModel } from './null.js';

const { model, mode } = workerData as { model: ScanModel; mode: LmmMode };
const scanner = new LmmScanner(model as unknown as NullModel, mode);

parentPort!.on('message', (msg: { id: number; rotated: Float64Array; count: number; n: number }) => {
  try {
    const rows = testBlock(scanner, msg.rotated, msg.count, msg.n);
    parentPort!.postMessage({ id: msg.id, rows }, [rows.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: (e as Error).stack ?? String(e) });
  }
});
