/**
 * The WebAssembly plumbing shared by every wasm module of gwasgrid (the linalg kernels and the per-SNP Gram
 * kernel): the few JS-API members we use (the project's lib has no DOM types), decoding embedded base64
 * modules, and detection of SIMD / relaxed-SIMD support.
 *
 * Relaxed SIMD is off by default in Node 20: the first detection that needs it sets V8's
 * `--experimental-wasm-relaxed-simd` flag (process-wide, once; it cannot be passed through NODE_OPTIONS) and
 * validates again. On runtimes that ship relaxed SIMD the flag is never set.
 */
import v8 from 'node:v8';

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmModule {
  readonly __wasmModule?: never;
}
export interface WasmInstance {
  readonly exports: unknown;
}
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<{ exports: unknown }>;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => WasmInstance;
}

/** The runtime's WebAssembly object, or undefined where there is none. */
export const WA: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** Decodes an embedded base64 module into bytes (no copy of the decoded buffer). */
export function decodeModule(base64: string): Uint8Array {
  const buf = Buffer.from(base64, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

let relaxedFlagTried = false;

/**
 * Whether this runtime accepts a plain-SIMD and a relaxed-SIMD build of a module (validated, not compiled).
 * May set the relaxed-SIMD V8 flag once per process.
 */
export function simdSupport(simdBytes: Uint8Array, relaxedBytes: Uint8Array): { simd: boolean; relaxed: boolean } {
  if (!WA) return { simd: false, relaxed: false };
  const simd = WA.validate(simdBytes);
  let relaxed = WA.validate(relaxedBytes);
  if (!relaxed && !relaxedFlagTried) {
    relaxedFlagTried = true;
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // Not fatal: the plain SIMD build is used.
    }
    relaxed = WA.validate(relaxedBytes);
  }
  return { simd, relaxed };
}

/**
 * Compiles a module straight to V8's optimising tier (TurboFan), synchronously.
 *
 * By default V8 compiles wasm lazily with its baseline compiler (Liftoff) and re-compiles a function with
 * TurboFan only after it has run for a while, and only for later calls: a kernel entered once for seconds (a
 * stage of the eigensolver) would run entirely as baseline code, about 2× slower. The flags are switched for
 * this one compilation and switched back (unless the process was started with them), so other modules keep
 * V8's defaults.
 */
export function compileOptimized(bytes: Uint8Array): WasmModule {
  if (!WA) throw new Error('WebAssembly is not available in this runtime');
  const given = new Set(process.execArgv);
  const flags = ['liftoff', 'wasm-lazy-compilation'].filter((f) => !given.has(`--no-${f}`));
  try {
    for (const f of flags) v8.setFlagsFromString(`--no-${f}`);
    return new WA.Module(bytes);
  } finally {
    for (const f of flags) v8.setFlagsFromString(`--${f}`);
  }
}
