/**
 * The weighted-Gram accumulation of {@link LmmLikelihood} in WebAssembly SIMD: the AssemblyScript kernels of
 * `shared/lmm/wasm/gram.as` (built by `node shared/lmm/wasm/build.mjs`, embedded by `wasm/gram-bytes.ts`).
 *
 * Each {@link WasmGram} owns one instance of the module, i.e. its own linear memory, laid out once at
 * construction (the memory never grows afterwards, so the Float64Array views below stay valid):
 *
 *   s      n eigenvalues, padded to an even count        (copied once; later changes to `s` are not seen)
 *   cols   V columns of ld = n rounded up to even doubles (written by setVariables)
 *   prod   np products per k, pair-interleaved: [(i·np + j)·2 + lane] for k = 2i + lane
 *   w      the weights d, d², d³ of one chunk of k (3 KB, scratch)
 *   acc    the f64x2 running sums of G₀, G₁, G₂ (6·np doubles, scratch)
 *   g      G₀, G₁, G₂ (np each)  — exposed as the views g0, g1, g2
 *   unit   XᵀX-style sums Σ_k v_a v_b (np)
 *   out    Σd, Σd², then the log|H| factors
 *
 * for about 8·n·(V + np + 1.2) bytes (115 KB for n = 1410, np = 6). One module is compiled per thread (sync
 * `new WebAssembly.Module`; worker threads compile their own) and instantiated per likelihood.
 *
 * Two builds exist, as for the linear-algebra kernels: relaxed SIMD (`f64x2.relaxed_madd`, a fused multiply-add
 * on x86) and plain SIMD. Relaxed SIMD is off by default in Node 20; the first call sets V8's
 * `--experimental-wasm-relaxed-simd` flag at run time and validates the relaxed module, else the plain one is
 * used, else (no WebAssembly SIMD) the caller falls back to its JavaScript kernel.
 *
 * `GWASGRID_GRAM` chooses the path: `auto` (default: relaxed, else plain SIMD, else JavaScript), `js` (the
 * generated JavaScript kernel), `simd` or `relaxed` (that build, an error if unsupported).
 */
import { relaxedGramWasm, simdGramWasm } from './wasm/gram-bytes.js';
import { WA, decodeModule, simdSupport, type WasmMemory, type WasmModule } from '../linalg/wasm-runtime.js';

/** Which build of the Gram kernels. */
export type GramVariant = 'relaxed' | 'simd';
/** Which accumulation path a likelihood uses: `auto` picks the best available wasm build, else JavaScript. */
export type GramChoice = 'auto' | 'js' | GramVariant;

const CHOICES: readonly GramChoice[] = ['auto', 'js', 'simd', 'relaxed'];

/** The path selected by the `GWASGRID_GRAM` environment variable (`auto` when unset or empty). */
export function gramChoiceFromEnv(): GramChoice {
  const v = (process.env.GWASGRID_GRAM ?? '').trim().toLowerCase();
  if (v === '') return 'auto';
  if ((CHOICES as readonly string[]).includes(v)) return v as GramChoice;
  throw new RangeError(
    `GWASGRID_GRAM must be one of ${CHOICES.join(', ')} (got '${process.env.GWASGRID_GRAM}')`,
  );
}


/** Exports of `gram.as` (byte offsets into `memory`). */
interface GramExports {
  memory: WasmMemory;
  heapBase(): number;
  isRelaxed(): number;
  weightBytes(): number;
  products(v: number, n: number, cols: number, ld: number, prod: number, unit: number): void;
  accumulate(
    n: number,
    np: number,
    order: number,
    withLog: number,
    lambda: number,
    s: number,
    prod: number,
    w: number,
    acc: number,
    g: number,
    out: number,
  ): number;
}

// ---------------------------------------------------------------------------------------------------------
// Detection and compilation (once per thread)

const bytesCache = new Map<GramVariant, Uint8Array>();
function moduleBytes(variant: GramVariant): Uint8Array {
  let b = bytesCache.get(variant);
  if (!b) {
    b = decodeModule(variant === 'relaxed' ? relaxedGramWasm : simdGramWasm);
    bytesCache.set(variant, b);
  }
  return b;
}

let support: { simd: boolean; relaxed: boolean } | undefined;

/** Which Gram builds this runtime can compile (see {@link simdSupport}: may set V8's relaxed-SIMD flag once). */
export function gramWasmSupport(): { simd: boolean; relaxed: boolean } {
  return (support ??= simdSupport(moduleBytes('simd'), moduleBytes('relaxed')));
}

const modules = new Map<GramVariant, WasmModule>();
function compiled(variant: GramVariant): WasmModule {
  let m = modules.get(variant);
  if (!m) {
    m = new WA!.Module(moduleBytes(variant));
    modules.set(variant, m);
  }
  return m;
}

const PAGE = 65536;
const align64 = (x: number): number => Math.ceil(x / 64) * 64;

/**
 * One Gram problem in wasm memory: n eigenvalues and V = q + 1 variables (np = V(V+1)/2 packed products).
 * Same contract as the JavaScript path of {@link LmmLikelihood}: `setVariables` then any number of
 * `accumulate` calls; results land in `g0`, `g1`, `g2` (views into the module's memory) and `sums`.
 */
export class WasmGram {
  readonly n: number;
  readonly v: number;
  readonly np: number;
  /** G₀, G₁, G₂ of the last accumulation (packed, np each): views into wasm memory, overwritten per call. */
  readonly g0: Float64Array;
  readonly g1: Float64Array;
  readonly g2: Float64Array;
  private readonly ld: number;
  private readonly view: Float64Array;
  private readonly sOff: number;
  private readonly colsOff: number;
  private readonly prodOff: number;
  private readonly wOff: number;
  private readonly accOff: number;
  private readonly gOff: number;
  private readonly unitOff: number;
  private readonly outOff: number;

  constructor(
    private readonly ex: GramExports,
    readonly variant: GramVariant,
    s: Float64Array,
    v: number,
  ) {
    const n = s.length;
    this.n = n;
    this.v = v;
    const np = (v * (v + 1)) / 2;
    this.np = np;
    const ld = n + (n & 1);
    this.ld = ld;
    const pairs = ld / 2;
    // Regions in doubles: s, cols, prod, w (one chunk), acc (f64x2 running sums), g, unit, out (Σd, Σd²,
    // ≤ 2·⌈pairs/8⌉ log factors).
    const sizes = [
      ld,
      v * ld,
      np * ld,
      ex.weightBytes() / 8,
      6 * np,
      3 * np,
      np,
      2 + 2 * Math.ceil(pairs / 8),
    ];
    const offsets: number[] = [];
    let at = align64(ex.heapBase());
    for (const size of sizes) {
      offsets.push(at);
      at = align64(at + 8 * size);
    }
    const have = ex.memory.buffer.byteLength;
    if (at > have) ex.memory.grow(Math.ceil((at - have) / PAGE));
    [this.sOff, this.colsOff, this.prodOff, this.wOff, this.accOff, this.gOff, this.unitOff, this.outOff] =
      offsets;
    const buf = ex.memory.buffer;
    this.view = new Float64Array(buf);
    // Fresh memory is zero: the padding of s and of the columns stays 0, as the kernels require.
    this.view.set(s, this.sOff / 8);
    this.g0 = new Float64Array(buf, this.gOff, np);
    this.g1 = new Float64Array(buf, this.gOff + 8 * np, np);
    this.g2 = new Float64Array(buf, this.gOff + 16 * np, np);
  }

  /**
   * Copies the V rotated columns (`cols[a]`, length n) into wasm memory and forms the per-k products there
   * (np·n multiplies); `unit` (length ≥ np) receives Σ_k v_a[k]·v_b[k] in packed order, summed in increasing
   * k as the JavaScript path does (bit-identical). Cost ≈ 2 ns per k for np = 6 (the JavaScript loop: 20).
   */
  setVariables(cols: ReadonlyArray<Float64Array>, unit: Float64Array): void {
    const { n, v, ld, view, np } = this;
    for (let a = 0; a < v; a++) {
      const c = cols[a];
      if (c.length < n)
        throw new RangeError(`setVariables: column ${a} has ${c.length} values, expected ${n}`);
      view.set(c.length === n ? c : c.subarray(0, n), this.colsOff / 8 + a * ld);
    }
    this.ex.products(v, n, this.colsOff, ld, this.prodOff, this.unitOff);
    unit.set(view.subarray(this.unitOff / 8, this.unitOff / 8 + np));
  }

  /**
   * G₀ (order ≥ 0), G₁ (order ≥ 1), G₂ (order 2) at λ into g0/g1/g2; sums[0] = Σd, sums[1] = Σd², and with
   * `withLog` sums[2] = log|H| = Σ_k log(λs_k + 1), as the sum of the logs of products of eight factors
   * (one Math.log per eight eigenvalues, taken here in JavaScript as on the JavaScript path, so that log|H|
   * is as accurate). See `wasm/gram.as` for the method and its cost.
   */
  accumulate(lambda: number, order: 0 | 1 | 2, withLog: boolean, sums: Float64Array): void {
    const { view, outOff } = this;
    const factors = this.ex.accumulate(
      this.n,
      this.np,
      order,
      withLog ? 1 : 0,
      lambda,
      this.sOff,
      this.prodOff,
      this.wOff,
      this.accOff,
      this.gOff,
      outOff,
    );
    const o = outOff / 8;
    sums[0] = view[o];
    sums[1] = view[o + 1];
    if (withLog) {
      let t = 0;
      for (let i = 0; i < factors; i++) t += Math.log(view[o + 2 + i]);
      sums[2] = t;
    }
  }
}

/**
 * A {@link WasmGram} for eigenvalues `s` and V variables, or null for the JavaScript path: when `choice` is
 * `js`, or `auto` and WebAssembly SIMD is unavailable or the linear memory cannot grow to the problem's size.
 * A forced `simd` or `relaxed` that this runtime cannot run throws.
 */
export function createWasmGram(
  s: Float64Array,
  v: number,
  choice: GramChoice = gramChoiceFromEnv(),
): WasmGram | null {
  if (choice === 'js') return null;
  const sup = gramWasmSupport();
  let variant: GramVariant;
  if (choice === 'auto') {
    if (sup.relaxed) variant = 'relaxed';
    else if (sup.simd) variant = 'simd';
    else return null;
  } else {
    if (!sup[choice])
      throw new Error(
        `GWASGRID_GRAM=${choice}: wasm ${choice === 'relaxed' ? 'relaxed SIMD' : 'SIMD'} is not supported by this runtime`,
      );
    variant = choice;
  }
  const { exports } = new WA!.Instance(compiled(variant), {});
  const ex = exports as GramExports;
  if ((ex.isRelaxed() === 1) !== (variant === 'relaxed'))
    throw new Error(`wasm Gram module mismatch for ${variant}`);
  try {
    return new WasmGram(ex, variant, s, v);
  } catch (e) {
    // Memory.grow refused (beyond wasm32's 4 GB, or the engine's limit): the JavaScript path needs no more.
    if (choice === 'auto' && e instanceof RangeError) return null;
    throw e;
  }
}
