/**
 * What every result writer does: take generic rows (../rows.ts) in genome order and write one file atomically
 * (temporary name, renamed on `commit`; `abort` removes the temporary file), so a failed run never leaves a file
 * that looks complete.
 */
import type { ResultRow } from '../rows.js';

export interface ResultWriter {
  /** The final path (exists only after `commit`). */
  readonly path: string;
  write(row: ResultRow): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Context a writer may need: the trait name (rMVP names its p column after it) and the method. */
export interface WriterContext {
  trait: string;
  method: 'MLM' | 'GLM' | 'CMLM' | 'FarmCPU';
}
