/**
 * The native backend of {@link LinalgBackend}: the `@gwasgrid/native` N-API addon (packages/native).
 *
 * - `syrkT` / `gemm`: our own packed, register-blocked C++ kernels, compiled for AVX-512, AVX2+FMA and a
 *   generic baseline and picked at load time from the CPU's features.
 * - `syev`: LAPACKE `dsyevd` (divide and conquer, OpenBLAS threads) when the addon was built with LAPACKE,
 *   otherwise our own Householder tridiagonalisation + implicit QL.
 * - Every call runs on the libuv thread pool and returns a promise; the event loop stays free.
 *
 * The addon is optional: {@link loadNativeBackend} returns `{ unavailable: reason }` when it was not built
 * (no compiler, build skipped) or cannot be loaded, and the caller falls back to the wasm/ts backends.
 */
import { createRequire } from 'node:module';

import { checkDims, type EigenResult, type LinalgBackend } from './backend.js';

/** Kernel variants the addon may contain, best first. */
export type NativeIsa = 'avx512' | 'avx2' | 'generic';

/** Which eigensolver to use: `auto` = dsyevd when built with LAPACKE, else the own solver. */
export type NativeEigenSolver = 'auto' | 'lapacke' | 'own';

/** What the addon reports about itself (`binding.info()`). */
export interface NativeInfo {
  /** The kernel variant in use (for a backend: the one its calls select). */
  isa: NativeIsa;
  /** Variants this CPU can run, best first. */
  supportedIsas: NativeIsa[];
  /** Built with LAPACKE (dsyevd available). */
  lapacke: boolean;
  /** Threads used by syrkT/gemm when none is given: 1 (GWASGRID_NATIVE_THREADS overrides). */
  defaultThreads: number;
  /** Threads used by the own eigensolver when none is given: min(2, CPUs). */
  defaultEigenThreads: number;
  /** OpenBLAS's thread count for dsyevd (0 when not linked against OpenBLAS). */
  openblasThreads: number;
  /** Register tile (mr × nr) and cache blocking (mc, kc, nc) of the selected variant. */
  tile: { mr: number; nr: number; mc: number; kc: number; nc: number };
}

/** `build/variant.json`, written by the addon's build script. */
export interface NativeVariant {
  lapacke: boolean;
  lapackeLibs: string[];
  lapackeReason: string | null;
  isa: NativeIsa[];
  selectedIsa: NativeIsa;
  compiled: NativeIsa[];
  compiler: string;
  node: string;
  builtAt: string;
}

/**
 * The raw N-API binding (packages/native/src/addon.cc). All matrices are row-major Float64Arrays; `threads`
 * 0 or omitted means the default. Wrong argument types throw TypeError, insufficient lengths or overlapping
 * outputs RangeError, before any work starts.
 */
export interface NativeBinding {
  syrkT(
    n: number,
    k: number,
    a: Float64Array,
    c: Float64Array,
    beta: number,
    threads?: number,
  ): Promise<void>;
  syrkTSync(n: number, k: number, a: Float64Array, c: Float64Array, beta: number, threads?: number): void;
  gemm(
    m: number,
    n: number,
    k: number,
    a: Float64Array,
    b: Float64Array,
    c: Float64Array,
    beta: number,
    threads?: number,
  ): Promise<void>;
  gemmSync(
    m: number,
    n: number,
    k: number,
    a: Float64Array,
    b: Float64Array,
    c: Float64Array,
    beta: number,
    threads?: number,
  ): void;
  /** Eigenvectors into `a` (as columns), eigenvalues ascending into `w`; resolves with the solver used. */
  syev(
    n: number,
    a: Float64Array,
    w: Float64Array,
    threads?: number,
    solver?: NativeEigenSolver,
  ): Promise<'dsyevd' | 'tql'>;
  syevSync(
    n: number,
    a: Float64Array,
    w: Float64Array,
    threads?: number,
    solver?: NativeEigenSolver,
  ): 'dsyevd' | 'tql';
  info(): NativeInfo;
  /** Selects the process-wide default kernel variant; false if unknown or unsupported by this CPU. */
  setIsa(name: NativeIsa): boolean;
}

/** Options of {@link loadNativeBackend}. */
export interface NativeBackendOptions {
  /**
   * Threads for syrkT/gemm (default: the addon's, 1 — on the measured machines two vCPUs share one core's FP
   * units and a second thread gains ≤ 1.2x; set GWASGRID_NATIVE_THREADS or this option to change it).
   */
  threads?: number;
  /** Threads for the eigensolver: OpenBLAS's for dsyevd (process-wide), ours for the own solver. */
  eigenThreads?: number;
  /** Eigensolver choice (default `auto`). `lapacke` makes syev fail when the addon has no LAPACKE. */
  eigenSolver?: NativeEigenSolver;
  /** Kernel variant for this backend's products (default: the best this CPU supports). */
  isa?: NativeIsa;
}

/** Why the native backend cannot be used. */
export interface NativeUnavailable {
  readonly unavailable: string;
}

/** The native backend, with the addon's self-description for logs and tests. */
export interface NativeBackend extends LinalgBackend {
  readonly name: 'native';
  readonly info: NativeInfo;
  readonly variant: NativeVariant | null;
  /** The kernel variant this backend's calls use. */
  readonly isa: NativeIsa;
  /** The eigensolver `syev` uses: `dsyevd` (LAPACKE) or `tql` (own Householder + implicit QL). */
  readonly eigenSolver: 'dsyevd' | 'tql';
  readonly binding: NativeBinding;
}

/** Type guard: did {@link loadNativeBackend} fail? */
export function isNativeUnavailable(x: NativeBackend | NativeUnavailable): x is NativeUnavailable {
  return 'unavailable' in x;
}

interface NativePackage {
  binding: NativeBinding | null;
  variant: NativeVariant | null;
  reason: string | null;
  /** The kernel variant the addon chose at load time (before any backend selected another). */
  defaultIsa?: NativeIsa;
}

let cachedPackage: NativePackage | undefined;

/** Loads `@gwasgrid/native` once (its index.cjs never throws; a missing package is reported, not thrown). */
function loadPackage(): NativePackage {
  if (cachedPackage) return cachedPackage;
  try {
    const require = createRequire(import.meta.url);
    const pkg = require('@gwasgrid/native') as NativePackage;
    cachedPackage = { binding: pkg.binding, variant: pkg.variant, reason: pkg.reason };
    if (pkg.binding) cachedPackage.defaultIsa = pkg.binding.info().isa;
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    cachedPackage = { binding: null, variant: null, reason: `@gwasgrid/native could not be loaded: ${msg}` };
  }
  return cachedPackage;
}

const checkThreads = (what: string, t: number | undefined): number => {
  if (t === undefined) return 0;
  if (!Number.isInteger(t) || t < 0 || t > 64) throw new RangeError(`${what} must be an integer in [0, 64]`);
  return t;
};

/**
 * Loads the native backend.
 *
 * Returns a {@link NativeBackend} implementing {@link LinalgBackend}, or `{ unavailable: reason }` when the
 * addon is not built, does not load, or cannot satisfy `options` (an unsupported `isa`, `eigenSolver:
 * 'lapacke'` without LAPACKE). Never throws for an unavailable addon; throws RangeError for malformed options.
 *
 * Operations (all row-major, dimensions checked at the door with RangeError):
 * - `syrkT(n, k, A, C, beta)`: C(n×n) ← beta·C + Aᵀ·A with A k × n; both triangles written. O(n²·k) flops
 *   (one triangle is computed with the packed kernel, then mirrored). C must not overlap A.
 * - `gemm(m, n, k, A, B, C, beta)`: C(m×n) ← A(m×k)·B(k×n) + beta·C. O(2·m·n·k) flops. C must not overlap A, B.
 * - `syev(n, A)`: A = U·diag(values)·Uᵀ, eigenvalues ascending, eigenvectors as the columns of U
 *   (`U[i*n + j]` = component i of eigenvector j). O(n³) time; the eigenvectors are computed **in place**: the
 *   returned `vectors` is `A` itself (or `A.subarray(0, n*n)`), so no second n × n copy is held. A must be
 *   symmetric (one triangle is read) and finite.
 */
export function loadNativeBackend(options: NativeBackendOptions = {}): NativeBackend | NativeUnavailable {
  const threads = checkThreads('threads', options.threads);
  const eigenThreads = checkThreads('eigenThreads', options.eigenThreads);
  const requestedSolver = options.eigenSolver ?? 'auto';
  if (!['auto', 'lapacke', 'own'].includes(requestedSolver)) {
    throw new RangeError(`eigenSolver must be 'auto', 'lapacke' or 'own'`);
  }

  const pkg = loadPackage();
  if (!pkg.binding) return { unavailable: pkg.reason ?? '@gwasgrid/native is not available' };
  const binding = pkg.binding;
  const isa: NativeIsa = options.isa ?? pkg.defaultIsa ?? 'generic';
  // The addon's kernel variant is process-wide but fixed by each call when it is made, so selecting this
  // backend's variant just before every call is exact even with several backends in one process.
  const select = (): void => {
    if (!binding.setIsa(isa)) throw new Error(`cannot select kernel variant ${isa}`);
  };
  let info: NativeInfo;
  try {
    const supported = binding.info().supportedIsas;
    if (!supported.includes(isa)) {
      return {
        unavailable: `kernel variant ${isa} is not supported here (supported: ${supported.join(', ')})`,
      };
    }
    select();
    info = binding.info();
  } catch (e) {
    return { unavailable: `@gwasgrid/native does not work: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (requestedSolver === 'lapacke' && !info.lapacke) {
    return { unavailable: '@gwasgrid/native was built without LAPACKE (dsyevd unavailable)' };
  }
  const eigenSolver: 'dsyevd' | 'tql' = requestedSolver === 'own' || !info.lapacke ? 'tql' : 'dsyevd';
  const tile = info.tile;

  const productThreads = threads || info.defaultThreads;
  const eigenDetail =
    eigenSolver === 'dsyevd'
      ? `eigen LAPACKE dsyevd (OpenBLAS ${eigenThreads || info.openblasThreads || '?'} threads)`
      : `eigen own Householder+QL (${eigenThreads || info.defaultEigenThreads} threads)${info.lapacke ? '' : ', no LAPACKE'}`;
  const detail =
    `native ${isa} kernels (${tile.mr}x${tile.nr} tiles; supported: ${info.supportedIsas.join(', ')}), ` +
    `${productThreads} thread(s) for products, ${eigenDetail}`;

  const backend: NativeBackend = {
    name: 'native',
    detail,
    info,
    variant: pkg.variant,
    isa,
    eigenSolver,
    binding,

    async syrkT(n: number, k: number, a: Float64Array, c: Float64Array, beta: number): Promise<void> {
      checkDims('syrkT', [
        ['a', a, k * n],
        ['c', c, n * n],
      ]);
      select();
      await binding.syrkT(n, k, a, c, beta, threads);
    },

    async gemm(
      m: number,
      n: number,
      k: number,
      a: Float64Array,
      b: Float64Array,
      c: Float64Array,
      beta: number,
    ): Promise<void> {
      checkDims('gemm', [
        ['a', a, m * k],
        ['b', b, k * n],
        ['c', c, m * n],
      ]);
      select();
      await binding.gemm(m, n, k, a, b, c, beta, threads);
    },

    async syev(n: number, a: Float64Array): Promise<EigenResult> {
      checkDims('syev', [['a', a, n * n]]);
      const values = new Float64Array(n);
      select();
      await binding.syev(n, a, values, eigenThreads, requestedSolver === 'own' ? 'own' : 'auto');
      return { values, vectors: a.length === n * n ? a : a.subarray(0, n * n) };
    },
  };
  return backend;
}
