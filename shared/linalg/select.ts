/**
 * Backend selection at start-up: native (N-API, our C++ kernels + LAPACKE) → wasm (SIMD) → ts.
 * `--backend` forces one; forcing an unavailable backend is an error that says why.
 */
import type { BackendName, LinalgBackend } from './backend.js';
import { tsBackend } from './ts.js';
import { UsageError } from '../errors.js';

export type BackendPreference = BackendName | 'auto';

async function tryNative(): Promise<LinalgBackend | string> {
  try {
    const spec = './native.js';
    const mod = (await import(spec)) as { loadNativeBackend(): LinalgBackend | { unavailable: string } };
    const r = mod.loadNativeBackend();
    return 'unavailable' in r ? r.unavailable : r;
  } catch (e) {
    return `native backend not loadable: ${(e as Error).message}`;
  }
}

async function tryWasm(): Promise<LinalgBackend | string> {
  try {
    const spec = './wasm.js';
    const mod = (await import(spec)) as { loadWasmBackend(): Promise<LinalgBackend> };
    return await mod.loadWasmBackend();
  } catch (e) {
    return `wasm backend not loadable: ${(e as Error).message}`;
  }
}

export async function selectBackend(pref: BackendPreference = 'auto'): Promise<{ backend: LinalgBackend; notes: string[] }> {
  const notes: string[] = [];
  if (pref === 'ts') return { backend: tsBackend, notes };
  if (pref === 'native' || pref === 'auto') {
    const r = await tryNative();
    if (typeof r !== 'string') return { backend: r, notes };
    if (pref === 'native') throw new UsageError(`--backend native is not available: ${r}`, 'install a C++ compiler and re-run npm ci, or use --backend wasm');
    notes.push(r);
  }
  if (pref === 'wasm' || pref === 'auto') {
    const r = await tryWasm();
    if (typeof r !== 'string') return { backend: r, notes };
    if (pref === 'wasm') throw new UsageError(`--backend wasm is not available: ${r}`);
    notes.push(r);
  }
  return { backend: tsBackend, notes };
}
