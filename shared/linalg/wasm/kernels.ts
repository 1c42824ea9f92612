/**
 * AssemblyScript dense kernels for the wasm backend (`shared/linalg/wasm.ts`). NOT part of the TypeScript
 * project: this file is AssemblyScript (v128, f64x2, usize, load/store builtins) and is compiled by `asc`.
 *
 * Build (both modules, plus the embedded copy `shared/linalg/wasm-bytes.ts` that the loader uses):
 *
 *     node shared/linalg/wasm/build.mjs
 *
 * which runs, for the plain and the relaxed module respectively,
 *
 *     asc shared/linalg/wasm/kernels.ts -O3 --noAssert --runtime stub --enable simd -o shared/linalg/wasm/kernels-simd.wasm
 *     asc shared/linalg/wasm/kernels.ts -O3 --noAssert --runtime stub --enable simd --enable relaxed-simd \
 *         -o shared/linalg/wasm/kernels-relaxed.wasm
 *
 * The one source serves both: `ASC_FEATURE_RELAXED_SIMD` (a compile-time constant) selects
 * `f64x2.relaxed_madd` (a fused multiply-add on x86 with FMA) or `f64x2.mul` + `f64x2.add`.
 *
 * Memory model: the module exports its memory and never allocates. The host lays out operands and a workspace
 * of `workBytes()` bytes above `heapBase()`, growing the memory itself, and passes byte offsets. All matrices
 * are row-major f64 with an explicit leading dimension (elements per row).
 *
 * Algorithm (the usual three-level blocking of a GEMM): the right operand is packed KC × NC at a time into
 * NR-wide slivers, the left operand MC × KC at a time into MR-tall slivers, and a 4 × 4 register-blocked
 * micro-kernel (8 f64x2 accumulators; each step loads 2 vectors of the right sliver and broadcasts 4 scalars of
 * the left one) accumulates one tile of C over KC. 4 × 4 measured fastest in V8: larger tiles (6 × 4, 8 × 4,
 * 4 × 6, 3 × 8) and unrolling the k loop spill registers and lose 30–50 %.
 */

import { KC, MC, MR, NC, NR, TT, driver, transposeTiled } from './gemm';

export { eigScratchBytes, eigTridiagonalise, eigFormQt, eigQl, eigSortTranspose } from './eigen';

/** First free byte after the module's static data; the host places its buffers at or above it. */
export function heapBase(): usize {
  return __heap_base;
}

/** Bytes of workspace the host must pass as `work` (packed panels and an edge tile). */
export function workBytes(): usize {
  return (<usize>(KC * NC + MC * KC + MR * NR)) << 3;
}

/** 1 when built with relaxed SIMD (fused multiply-add), 0 for the plain SIMD build. */
export function isRelaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/**
 * General product `C ← A·B + beta·C`: A m × k (leading dimension lda), B k × n (ldb), C m × n (ldc), all
 * row-major at byte offsets a, b, c; `work` is a workspace of `workBytes()` bytes. 2·m·n·k flops.
 */
export function gemm(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  lda: i32,
  b: usize,
  ldb: i32,
  c: usize,
  ldc: i32,
  beta: f64,
  work: usize,
): void {
  driver(m, n, k, a, lda, false, b, ldb, c, ldc, beta, false, work);
}

/**
 * Transposed-left product `C ← Aᵀ·B + beta·C`: A stored k × m (lda), B k × n (ldb), C m × n (ldc).
 * With `upper` ≠ 0 (and a = b, m = n for a symmetric rank-k update) only the upper triangle of C is valid:
 * about m·n·k flops instead of 2·m·n·k. The caller mirrors it.
 */
export function gemmTN(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  lda: i32,
  b: usize,
  ldb: i32,
  c: usize,
  ldc: i32,
  beta: f64,
  upper: i32,
  work: usize,
): void {
  driver(m, n, k, a, lda, true, b, ldb, c, ldc, beta, upper != 0, work);
}

/** Copies the strict upper triangle of the n × n matrix at s (leading dimension ld) onto its lower triangle. */
export function mirrorUpper(n: i32, s: usize, ld: i32): void {
  for (let ib = 0; ib < n; ib += TT) {
    const ie = min(ib + TT, n);
    for (let jb = ib; jb < n; jb += TT) {
      const je = min(jb + TT, n);
      for (let i = ib; i < ie; i++) {
        const row = s + ((<usize>i * ld) << 3);
        const col = s + ((<usize>i) << 3);
        for (let j = max(jb, i + 1); j < je; j++) {
          store<f64>(col + ((<usize>j * ld) << 3), load<f64>(row + ((<usize>j) << 3)));
        }
      }
    }
  }
}

/** Out-of-place transpose: d (n × m, leading dimension ldd) ← sᵀ for s m × n (leading dimension lds). */
export function transpose(m: i32, n: i32, s: usize, lds: i32, d: usize, ldd: i32): void {
  transposeTiled(m, n, s, lds, d, ldd);
}
