/**
 * The wasm backend: dense products and the symmetric eigendecomposition in WebAssembly SIMD (AssemblyScript
 * kernels in `shared/linalg/wasm/`, embedded by `wasm-bytes.ts`).
 *
 * Two builds of the same kernels exist: relaxed SIMD (`f64x2.relaxed_madd`, a fused multiply-add on x86) and
 * plain SIMD (`f64x2.mul` + `f64x2.add`). Relaxed SIMD is off by default in Node 20: the loader sets V8's
 * `--experimental-wasm-relaxed-simd` flag at run time (it cannot be passed through NODE_OPTIONS) and then
 * checks the relaxed module with `WebAssembly.validate`; if it still does not validate, the plain one is used.
 *
 * Everything runs synchronously on the calling (main) thread: the promises returned by the backend are
 * already settled when the work is done, and a large product blocks the event loop for its duration
 * (about 1–2 s for a 2000 × 2000 kinship over 4000 SNPs; 2–3 s for the eigendecomposition at n = 1410, 6 s
 * at n = 2000). Run it in a worker thread if that matters.
 *
 * Memory: operands of the products are copied into the module's linear memory in panels whose sizes are
 * bounded (below 85 MB in all, whatever the problem size), processed there, and the results copied back. The
 * eigensolver needs the whole matrix twice (2·n²·8 bytes plus its rotation log of at most 32 MB): it runs in a
 * fresh instance of the compiled module that is dropped after the call, so that memory is given back.
 *
 * The module is compiled straight to V8's optimising tier ({@link compileOptimized}): each eigensolver stage
 * is entered once and would otherwise run as baseline code.
 */
import { checkDims, type EigenResult, type LinalgBackend } from './backend.js';
import { tsSyev } from './ts.js';
import { relaxedWasm, simdWasm } from './wasm-bytes.js';
import { WA, compileOptimized, decodeModule, simdSupport, type WasmMemory, type WasmModule } from './wasm-runtime.js';

/** Which build of the kernels: fused multiply-add (relaxed SIMD) or plain f64x2 SIMD. */
export type WasmVariant = 'relaxed' | 'simd';

/** A {@link LinalgBackend} backed by one of the two wasm modules. */
export interface WasmBackend extends LinalgBackend {
  readonly name: 'wasm';
  readonly variant: WasmVariant;
}

export interface WasmBackendOptions {
  /** `'auto'` (default): relaxed SIMD when the runtime accepts it, else plain SIMD. Forcing an unsupported one throws. */
  variant?: WasmVariant | 'auto';
  /** Panel bounds (defaults {@link DEFAULT_LIMITS}); small values are for tests of the chunking. */
  limits?: Partial<WasmPanelLimits>;
}

// ---------------------------------------------------------------------------------------------------------
// The few WebAssembly JS-API members used here (the project's lib has no DOM types).


/** Exports of `kernels.ts` (byte offsets into `memory`; dimensions and leading dimensions in elements). */
interface KernelExports {
  memory: WasmMemory;
  heapBase(): number;
  workBytes(): number;
  isRelaxed(): number;
  gemm(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    beta: number,
    work: number,
  ): void;
  gemmTN(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    beta: number,
    upper: number,
    work: number,
  ): void;
  mirrorUpper(n: number, s: number, ld: number): void;
  transpose(m: number, n: number, s: number, lds: number, d: number, ldd: number): void;
  eigScratchBytes(n: number): number;
  eigTridiagonalise(n: number, a: number, d: number, e: number, tau: number, scr: number): void;
  eigFormQt(n: number, a: number, tau: number, w: number, scr: number, work: number): void;
  eigQl(n: number, d: number, e: number, w: number, scr: number): number;
  eigSortTranspose(n: number, d: number, w: number, u: number): void;
}

// ---------------------------------------------------------------------------------------------------------
// Detection

const bytesCache = new Map<WasmVariant, Uint8Array>();
function moduleBytes(variant: WasmVariant): Uint8Array {
  let b = bytesCache.get(variant);
  if (!b) {
    b = decodeModule(variant === 'relaxed' ? relaxedWasm : simdWasm);
    bytesCache.set(variant, b);
  }
  return b;
}

/**
 * Which kernel builds this runtime can compile (see {@link simdSupport}: may set V8's relaxed-SIMD flag once).
 */
export function wasmSupport(): { simd: boolean; relaxed: boolean } {
  return simdSupport(moduleBytes('simd'), moduleBytes('relaxed'));
}

// ---------------------------------------------------------------------------------------------------------
// Panel sizes (in f64 elements). With the defaults the linear memory stays below about 85 MB whatever the
// problem size (syrkT: 32 MB of A rows + 16 MB for a second panel + a 32 MB block of C; gemm: 64 MB in all),
// plus the 4.2 MB kernel workspace. Wasm memory never shrinks, so this is also the steady-state footprint.

/** Bounds on what is held in wasm memory at once, in f64 elements (defaults: {@link DEFAULT_LIMITS}). */
export interface WasmPanelLimits {
  /** gemm: a kb × nb panel of B. */
  bPanel: number;
  /** gemm: an mb × kb chunk of A. */
  aChunk: number;
  /** gemm: an mb × nb chunk of C. */
  cChunk: number;
  /** syrkT: the widest column panel of C handled at once (its block is syrkPanel² elements). */
  syrkPanel: number;
  /** syrkT: rows of A times the panel widths involved, copied in per step. */
  syrkAChunk: number;
}

/** 32 MB for B, 16 MB each for A and C chunks; syrkT panels of 2048 columns (32 MB) and 32 MB of A. */
export const DEFAULT_LIMITS: Readonly<WasmPanelLimits> = Object.freeze({
  bPanel: 4 * 1024 * 1024,
  aChunk: 2 * 1024 * 1024,
  cChunk: 2 * 1024 * 1024,
  syrkPanel: 2048,
  syrkAChunk: 4 * 1024 * 1024,
});

const PAGE = 65536;
/** A 32-bit linear memory holds at most 65 536 pages (4 GiB). */
const MAX_MEMORY_BYTES = 65536 * PAGE;
const align64 = (x: number): number => Math.ceil(x / 64) * 64;

function assertDims(op: string, dims: Record<string, number>): void {
  for (const [name, v] of Object.entries(dims)) {
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff)
      throw new RangeError(`${op}: bad dimension ${name} = ${v}`);
  }
}

/** One instantiated module plus the host-side bookkeeping of its linear memory. */
class WasmKernels {
  private view: Float64Array;
  private readonly work: number;
  private readonly free: number;

  constructor(
    private readonly ex: KernelExports,
    readonly variant: WasmVariant,
    private readonly module: WasmModule,
  ) {
    this.work = align64(ex.heapBase());
    this.free = align64(this.work + ex.workBytes());
    this.view = new Float64Array(ex.memory.buffer);
  }

  /** Lays out regions of the given sizes (f64 elements) after the workspace, growing memory; byte offsets. */
  private regions(sizes: number[]): number[] {
    const offsets: number[] = [];
    let at = this.free;
    for (const s of sizes) {
      offsets.push(at);
      at = align64(at + s * 8);
    }
    const have = this.ex.memory.buffer.byteLength;
    if (at > have) this.ex.memory.grow(Math.ceil((at - have) / PAGE));
    if (this.view.buffer !== this.ex.memory.buffer) {
      this.view = new Float64Array(this.ex.memory.buffer);
    }
    return offsets;
  }

  /** Copies a rows × cols block of `src` (row stride srcLd, starting at srcOff) to byte offset dst (row stride cols). */
  private copyIn(
    src: Float64Array,
    srcOff: number,
    srcLd: number,
    rows: number,
    cols: number,
    dst: number,
  ): void {
    const v = this.view;
    const d = dst / 8;
    if (cols === srcLd) {
      v.set(src.subarray(srcOff, srcOff + rows * cols), d);
      return;
    }
    for (let r = 0; r < rows; r++)
      v.set(src.subarray(srcOff + r * srcLd, srcOff + r * srcLd + cols), d + r * cols);
  }

  /** Copies a rows × cols block at byte offset src (row stride cols) into `dst` (row stride dstLd, from dstOff). */
  private copyOut(
    src: number,
    rows: number,
    cols: number,
    dst: Float64Array,
    dstOff: number,
    dstLd: number,
  ): void {
    const v = this.view;
    const s = src / 8;
    if (cols === dstLd) {
      dst.set(v.subarray(s, s + rows * cols), dstOff);
      return;
    }
    for (let r = 0; r < rows; r++) dst.set(v.subarray(s + r * cols, s + (r + 1) * cols), dstOff + r * dstLd);
  }

  /** `C ← A·B + beta·C` (row-major, A m × k, B k × n, C m × n) in bounded panels. */
  gemm(
    m: number,
    n: number,
    k: number,
    a: Float64Array,
    b: Float64Array,
    c: Float64Array,
    beta: number,
    lim: WasmPanelLimits,
  ): void {
    if (m === 0 || n === 0) return;
    if (k === 0) {
      scaleInPlace(c, m * n, beta);
      return;
    }
    let kb = k;
    let nb = n;
    if (kb * nb > lim.bPanel) {
      // Keep panels at least min(n, 512) wide (narrower ones pack B too often), shortening k instead.
      const minCols = Math.min(n, 512, Math.floor(Math.sqrt(lim.bPanel)));
      nb = Math.min(n, Math.max(minCols, Math.floor(lim.bPanel / kb / 4) * 4));
      if (kb * nb > lim.bPanel) kb = Math.max(1, Math.floor(lim.bPanel / nb));
    }
    const mb = Math.max(1, Math.min(m, Math.floor(lim.aChunk / kb), Math.floor(lim.cChunk / nb)));
    const [pa, pb, pc] = this.regions([mb * kb, kb * nb, mb * nb]);
    const ex = this.ex;
    for (let j0 = 0; j0 < n; j0 += nb) {
      const nw = Math.min(nb, n - j0);
      for (let p0 = 0; p0 < k; p0 += kb) {
        const kw = Math.min(kb, k - p0);
        const betaHere = p0 === 0 ? beta : 1;
        this.copyIn(b, p0 * n + j0, n, kw, nw, pb);
        for (let i0 = 0; i0 < m; i0 += mb) {
          const mw = Math.min(mb, m - i0);
          this.copyIn(a, i0 * k + p0, k, mw, kw, pa);
          if (betaHere !== 0) this.copyIn(c, i0 * n + j0, n, mw, nw, pc);
          ex.gemm(mw, nw, kw, pa, kw, pb, nw, pc, nw, betaHere, this.work);
          this.copyOut(pc, mw, nw, c, i0 * n + j0, n);
        }
      }
    }
  }

  /** `C ← beta·C + Aᵀ·A` (A k × n, C n × n, row-major), upper-triangle tiles only, then mirrored. */
  syrkT(n: number, k: number, a: Float64Array, c: Float64Array, beta: number, lim: WasmPanelLimits): void {
    if (n === 0) return;
    if (k === 0) {
      scaleInPlace(c, n * n, beta);
      return;
    }
    const panels = Math.ceil(n / lim.syrkPanel);
    const w = panels === 1 ? n : Math.ceil(n / panels / 4) * 4;
    const starts: number[] = [];
    for (let s = 0; s < n; s += w) starts.push(s);
    const kbDiag = Math.max(1, Math.min(k, Math.floor(lim.syrkAChunk / w)));
    const kbOff = Math.max(1, Math.min(k, Math.floor(lim.syrkAChunk / (2 * w))));
    const multi = starts.length > 1;
    // L also receives Sᵀ for off-diagonal blocks once their k loop is done, hence at least w² (≤ the A budget).
    const [pl, pr, ps] = this.regions([
      Math.max(kbDiag * w, multi ? w * w : 0),
      multi ? kbOff * w : 0,
      w * w,
    ]);
    const ex = this.ex;
    for (let bi = 0; bi < starts.length; bi++) {
      const i0 = starts[bi];
      const wi = Math.min(w, n - i0);
      for (let bj = bi; bj < starts.length; bj++) {
        const j0 = starts[bj];
        const wj = Math.min(w, n - j0);
        const diag = bi === bj;
        const kb = diag ? kbDiag : kbOff;
        for (let p0 = 0; p0 < k; p0 += kb) {
          const kw = Math.min(kb, k - p0);
          this.copyIn(a, p0 * n + i0, n, kw, wi, pl);
          if (!diag) this.copyIn(a, p0 * n + j0, n, kw, wj, pr);
          ex.gemmTN(
            wi,
            wj,
            kw,
            pl,
            wi,
            diag ? pl : pr,
            wj,
            ps,
            wj,
            p0 === 0 ? 0 : 1,
            diag ? 1 : 0,
            this.work,
          );
        }
        if (diag) {
          ex.mirrorUpper(wi, ps, wi);
          this.addBlock(ps, wi, wi, c, i0 * n + i0, n, beta);
        } else {
          this.addBlock(ps, wi, wj, c, i0 * n + j0, n, beta);
          ex.transpose(wi, wj, ps, wj, pl, wi);
          this.addBlock(pl, wj, wi, c, j0 * n + i0, n, beta);
        }
      }
    }
  }

  /**
   * Symmetric eigendecomposition in a fresh instance of the module (see `wasm/eigen.ts`), dropped afterwards so
   * that its 2·n²·8 bytes of linear memory are released once the call returns. Null when the problem does not
   * fit in a 32-bit linear memory (n above about 16 000).
   */
  syev(n: number, a: Float64Array): EigenResult | null {
    const nb = n * 8;
    const ex0 = this.ex;
    const work = align64(ex0.heapBase());
    const pa = align64(work + ex0.workBytes());
    const pw = align64(pa + n * nb);
    const pd = align64(pw + n * nb);
    const pe = align64(pd + nb);
    const pt = align64(pe + nb);
    const ps = align64(pt + nb);
    const end = ps + ex0.eigScratchBytes(n);
    if (end > MAX_MEMORY_BYTES) return null;
    const ex = new WA!.Instance(this.module, {}).exports as KernelExports;
    const have = ex.memory.buffer.byteLength;
    if (end > have) ex.memory.grow(Math.ceil((end - have) / PAGE));
    let view = new Float64Array(ex.memory.buffer);
    view.set(a.subarray(0, n * n), pa / 8);
    ex.eigTridiagonalise(n, pa, pd, pe, pt, ps);
    ex.eigFormQt(n, pa, pt, pw, ps, work);
    if (ex.eigQl(n, pd, pe, pw, ps) !== 0) throw new Error('syev: QL iteration did not converge');
    ex.eigSortTranspose(n, pd, pw, pa);
    view = new Float64Array(ex.memory.buffer);
    return {
      values: view.slice(pd / 8, pd / 8 + n),
      vectors: view.slice(pa / 8, pa / 8 + n * n),
    };
  }

  /** C[block] ← beta·C[block] + S for the rows × cols block S at byte offset ps (row stride cols). */
  private addBlock(
    ps: number,
    rows: number,
    cols: number,
    c: Float64Array,
    cOff: number,
    ldc: number,
    beta: number,
  ): void {
    if (beta === 0) {
      this.copyOut(ps, rows, cols, c, cOff, ldc);
      return;
    }
    const v = this.view;
    // Contiguous destination (a whole-width block): one flat loop; otherwise row by row.
    const flat = cols === ldc;
    const nRows = flat ? 1 : rows;
    const len = flat ? rows * cols : cols;
    for (let i = 0; i < nRows; i++) {
      const s0 = ps / 8 + i * cols;
      const c0 = cOff + i * ldc;
      if (beta === 1) {
        for (let j = 0; j < len; j++) c[c0 + j] += v[s0 + j];
      } else {
        for (let j = 0; j < len; j++) c[c0 + j] = beta * c[c0 + j] + v[s0 + j];
      }
    }
  }
}

function scaleInPlace(c: Float64Array, len: number, beta: number): void {
  if (beta === 1) return;
  if (beta === 0) c.fill(0, 0, len);
  else for (let i = 0; i < len; i++) c[i] *= beta;
}

// ---------------------------------------------------------------------------------------------------------
// Loading

const instances = new Map<WasmVariant, Promise<WasmKernels>>();

function instantiate(variant: WasmVariant): Promise<WasmKernels> {
  let p = instances.get(variant);
  if (!p) {
    p = (async () => {
      if (!WA) throw new Error('WebAssembly is not available in this runtime');
      const module = compileOptimized(moduleBytes(variant));
      const { exports } = await WA.instantiate(module, {});
      const ex = exports as KernelExports;
      if ((ex.isRelaxed() === 1) !== (variant === 'relaxed'))
        throw new Error(`wasm module mismatch for ${variant}`);
      return new WasmKernels(ex, variant, module);
    })();
    p.catch(() => instances.delete(variant));
    instances.set(variant, p);
  }
  return p;
}

const EIGEN_DETAIL = 'eigen: wasm Householder (fused symv/syr2) + WY-blocked Qᵀ + implicit QL (logged rotations)';
const DETAIL: Record<WasmVariant, string> = {
  relaxed: `wasm relaxed-SIMD (f64x2.relaxed_madd FMA, 4×4 micro-tiles, packed panels; main thread); ${EIGEN_DETAIL}`,
  simd: `wasm SIMD (f64x2 mul+add, 4×4 micro-tiles, packed panels; main thread); ${EIGEN_DETAIL}`,
};

/**
 * Loads (once per variant) and returns the wasm backend.
 *
 * - `syrkT(n, k, A, C, beta)`: `C ← beta·C + AᵀA`, A k × n, C n × n row-major, both triangles written
 *   (only upper-triangle tiles are computed: about n²·k/2 multiply-adds, i.e. n²·k flops, then mirrored). A is
 *   streamed through wasm memory in row chunks; for n > 2048, C is built in ≤ 2048-wide panel pairs.
 * - `gemm(m, n, k, A, B, C, beta)`: `C ← A·B + beta·C`, A m × k, B k × n, C m × n row-major; 2·m·n·k flops,
 *   B held in ≤ 32 MB panels, A and C in ≤ 16 MB row chunks.
 * - `syev(n, A)`: A = U diag(values) Uᵀ for symmetric A (only its lower triangle is read; A unchanged),
 *   eigenvalues ascending, eigenvectors as columns (`wasm/eigen.ts`: Householder tridiagonalisation, Qᵀ formed
 *   with the GEMM kernel, implicit QL with Wilkinson shifts; about 8·n³ flops, two thirds in the rotations).
 *   Falls back to {@link tsSyev} only if 2·n² f64 do not fit in a 32-bit linear memory (n above about 16 000).
 *   Rejects with a RangeError naming the entry if A has a NaN or an infinity.
 *
 * All three run synchronously on the calling thread (see the module comment). With beta = 0, C's previous
 * contents (even NaN) are ignored. Rejects if WebAssembly SIMD is unavailable, or if the requested variant is.
 */
export async function loadWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const want = options.variant ?? 'auto';
  const support = wasmSupport();
  let variant: WasmVariant;
  if (want === 'auto') {
    if (support.relaxed) variant = 'relaxed';
    else if (support.simd) variant = 'simd';
    else throw new Error('WebAssembly SIMD is not supported by this runtime');
  } else {
    if (!support[want])
      throw new Error(
        `wasm ${want === 'relaxed' ? 'relaxed SIMD' : 'SIMD'} is not supported by this runtime`,
      );
    variant = want;
  }
  const lim: WasmPanelLimits = { ...DEFAULT_LIMITS, ...options.limits };
  for (const [key, v] of Object.entries(lim)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`loadWasmBackend: bad limit ${key} = ${v}`);
  }
  const kernels = await instantiate(variant);
  return {
    name: 'wasm',
    variant,
    detail: DETAIL[variant],
    async syrkT(n: number, k: number, a: Float64Array, c: Float64Array, beta: number): Promise<void> {
      assertDims('syrkT', { n, k });
      checkDims('syrkT', [
        ['A', a, n * k],
        ['C', c, n * n],
      ]);
      kernels.syrkT(n, k, a, c, beta, lim);
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
      assertDims('gemm', { m, n, k });
      checkDims('gemm', [
        ['A', a, m * k],
        ['B', b, k * n],
        ['C', c, m * n],
      ]);
      kernels.gemm(m, n, k, a, b, c, beta, lim);
    },
    async syev(n: number, a: Float64Array): Promise<EigenResult> {
      assertDims('syev', { n });
      checkDims('syev', [['A', a, n * n]]);
      if (n === 0) return { values: new Float64Array(0), vectors: new Float64Array(0) };
      for (let i = 0; i < n * n; i++) {
        if (!Number.isFinite(a[i]))
          throw new RangeError(`syev: A[${Math.floor(i / n)}, ${i % n}] = ${a[i]} is not finite`);
      }
      return kernels.syev(n, a) ?? tsSyev(n, a);
    },
  };
}
