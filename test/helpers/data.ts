/**
 * Where the reference data live (../shared/data beside the clone, or $GWASGRID_DATA), and a runner for
 * golden MLM tests. The data are required: a golden test never skips for lack of them.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMlm, type MlmConfig, type MlmResult } from '../../shared/methods/mlm.js';
import { selectBackend } from '../../shared/linalg/select.js';
import { memoryLogger } from '../../shared/log.js';
import { GEMMA_QC } from '../../shared/genotype/qc.js';
import type { LinalgBackend } from '../../shared/linalg/backend.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DATA = process.env.GWASGRID_DATA ?? resolve(REPO, '../shared/data');

export function dataPath(...parts: string[]): string {
  const p = join(DATA, ...parts);
  if (!existsSync(p)) {
    throw new Error(`reference data missing: ${p} (set GWASGRID_DATA or place shared/data beside the clone)`);
  }
  return p;
}

let backendPromise: Promise<LinalgBackend> | null = null;
/** The backend the suite runs on: `GWASGRID_BACKEND` or the best available. */
export function testBackend(): Promise<LinalgBackend> {
  backendPromise ??= selectBackend((process.env.GWASGRID_BACKEND as 'auto') ?? 'auto').then((r) => r.backend);
  return backendPromise;
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `gwasgrid-${tag}-`));
}

export async function runGoldenMlm(
  tag: string,
  cfg: Omit<MlmConfig, 'backend' | 'log' | 'out' | 'qc' | 'gk' | 'lmm'> & Partial<Pick<MlmConfig, 'gk' | 'lmm'>>,
): Promise<MlmResult> {
  const backend = await testBackend();
  const out = join(tempDir(tag), tag);
  return runMlm({ gk: 1, lmm: 4, qc: GEMMA_QC, ...cfg, out, backend, log: memoryLogger() });
}

/** Null-model figures from a GEMMA .log.txt (printed to 6 significant digits). */
export function gemmaLogFigures(path: string): Record<string, number> {
  const text = readFileSync(path, 'utf8');
  const grab = (label: string) => {
    const m = new RegExp(`## ${label.replace(/[()]/g, '\\$&')} = +(\\S+)`).exec(text);
    if (!m) throw new Error(`${path}: no "${label}"`);
    return Number(m[1]);
  };
  return {
    n: grab('number of analyzed individuals'),
    snps: grab('number of analyzed SNPs/var'),
    loglRemle: grab('REMLE log-likelihood in the null model'),
    loglMle: grab('MLE log-likelihood in the null model'),
    pve: grab('pve estimate in the null model'),
    pveSe: grab('se(pve) in the null model'),
    vg: grab('vg estimate in the null model'),
    ve: grab('ve estimate in the null model'),
  };
}

/** A PLINK prefix inside the data folder (checks that the .bed exists). */
export function bfilePath(...parts: string[]): string {
  return dataPath(...parts.slice(0, -1), `${parts[parts.length - 1]}.bed`).replace(/\.bed$/, '');
}
