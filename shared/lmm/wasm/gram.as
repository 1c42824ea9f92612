/**
 * AssemblyScript kernels for the weighted Gram accumulation of the LMM likelihood (`shared/lmm/likelihood.ts`,
 * loaded by `shared/lmm/gram-wasm.ts`). NOT part of the TypeScript project: this file is AssemblyScript (v128,
 * f64x2, usize, load/store builtins), kept under a `.as` name so that tsc's `shared/**\/*.ts` globs skip it, and
 * compiled by `asc` through the build script:
 *
 *     node shared/lmm/wasm/build.mjs
 *
 * which builds a plain-SIMD and a relaxed-SIMD module (the compile-time constant `ASC_FEATURE_RELAXED_SIMD`
 * selects `f64x2.relaxed_madd`, a fused multiply-add on x86 with FMA, or `f64x2.mul` + `f64x2.add`) and embeds
 * both in `shared/lmm/wasm/gram-bytes.ts`.
 *
 * Problem. For n eigen-indices k with eigenvalues s_k and np per-k products prod_k[j] (the packed upper triangle
 * of v_k v_kᵀ for the V = q + 1 rotated variables), and a λ, with d_k = 1/(λ s_k + 1):
 *   G_r[j] = Σ_k d_k^{r+1} prod_k[j]   for r = 0..order,   Σd = Σ_k d_k,   Σd² = Σ_k d_k²,
 * and optionally the factors of log|H| = Σ_k log(λ s_k + 1).
 *
 * Layout ("pair-interleaved"): the eigen-indices are taken two at a time, k = 2i + lane, and everything is
 * stored pair by pair so that one f64x2 holds the two lanes of a pair:
 *   s     [i·2 + lane]                 eigenvalues, padded with 0 to an even count;
 *   prod  [(i·np + j)·2 + lane]        the products, pair-major: all np columns of pair i are 16·np contiguous
 *                                      bytes, so a block of columns is read through one pointer with constant
 *                                      offsets (measured faster than a column-major prod[j·n + k], which
 *                                      needs a pointer per column);
 *   w     [(i·R + r)·2 + lane]         the weights d^{r+1} of one chunk of pairs, R = order + 1 of them;
 *   acc   [(r·np + j)·2 + lane]        the running sums of G_r[j], one per lane;
 *   cols  [a·ld + k]                   (setVariables input) the V rotated columns, ld = padded n.
 * A padded lane (odd n) has zero products and a zero weight. All offsets are byte offsets chosen by the host,
 * 16-byte aligned; the module never allocates and never grows its memory.
 *
 * Method. The pairs are processed in chunks of CHUNK (64) pairs; within a chunk the np product columns are
 * split into blocks (widths below). The first block of a chunk also computes the weights ("fused", so that its
 * divisions overlap its multiply-adds): h = λs + 1 (multiply then add, as the JavaScript kernel does, also in
 * the relaxed build), d = 1/h (an IEEE division, f64x2.div), d², d³; it stores them in `w` and adds Σd and Σd².
 * Every block then streams its B columns against the weights with B·R f64x2 accumulators held in registers
 * (x64 has 16 xmm registers: wider blocks spill, and were measured slower) and leaves them in `acc` for the
 * next chunk; a chunk's weights and products are re-read from L1 by its later blocks. The two lanes are added
 * at the very end. log|H| has its own pass ({@link logFactors}), run only when asked: products of eight h per
 * lane, whose logs the host takes with Math.log as the JavaScript kernel does.
 *
 * Results equal the JavaScript kernel's up to the summation order (two interleaved lanes, each in increasing k,
 * then their sum) and, in the relaxed build, the fused multiply-add: h, d, d², d³ are bit-identical, and so are
 * the XᵀX sums of {@link products}.
 *
 * Cost per evaluation: n/2 f64x2 divisions and np·R·n/2 f64x2 multiply-adds, (np + R·(blocks − 1))·n/2 vector
 * loads. Measured (relaxed build, n = 1410, Zen 3, shared machine, minima): about 1.5 / 1.7 / 2.5 ns per k for
 * orders 0 / 1 / 2 at np = 6 and 2.5 / 3.7 / 4.9 at np = 15; the JavaScript kernel takes 4.3 / 8.3 / 11.3 and
 * 13.1 / 25.8 / 33.5 (`node shared/lmm/wasm/bench.mjs` after `npm run build`). The plain build is 10–35 %
 * slower than the relaxed one.
 */

/** Pairs of eigen-indices per chunk: a chunk's weights (≤ 3 KB) and products (16·np·CHUNK bytes) stay in L1. */
const CHUNK: i32 = 64;

/** Vector constants, loaded from memory (not materialised in the loops) so that they stay in registers. */
const CONSTS: usize = memory.data<u64>(
  [
    0x3ff0000000000000, 0x3ff0000000000000, // [1, 1]
    0, 0, // [0, 0]
    0xffffffffffffffff, 0xffffffffffffffff, // all bits set
    0xffffffffffffffff, 0, // lane 0 only: keeps the real lane of a padded pair
  ],
  16,
);

/** `a·b + c` lane-wise: fused (relaxed SIMD) in the relaxed build, multiply then add in the plain one. */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f64x2.relaxed_madd(a, b, c);
  return f64x2.add(f64x2.mul(a, b), c);
}

/** Sum of the two lanes. */
// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** First free byte after the module's static data; the host places its buffers at or above it. */
export function heapBase(): usize {
  return __heap_base;
}

/** Bytes of the weight scratch `w` that {@link accumulate} needs (one chunk of three weights). */
export function weightBytes(): usize {
  return <usize>(48 * CHUNK);
}

/** 1 when built with relaxed SIMD (fused multiply-add), 0 for the plain SIMD build. */
export function isRelaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/**
 * The per-k products of the V columns at `cols` (column a at cols + a·ld·8, zero padded to an even length):
 * prod[(i·np + p)·2 + lane] = v_a[k]·v_b[k] for the packed pairs p = (a, b), a ≤ b, row by row, and
 * unit[p] = Σ_k v_a[k]·v_b[k] (XᵀX and the X/y cross products) added in increasing k, exactly as the JavaScript
 * path does, so that the singularity test on XᵀX sees bit-identical numbers. (The padded lane adds +0, which
 * changes no sum.) Cost: np·n multiplies and adds; V ≤ 5 (np ≤ 15) is unrolled with the np sums in registers.
 */
export function products(v: i32, n: i32, cols: usize, ld: i32, prod: usize, unit: usize): void {
  switch (v) {
    case 2: productsSmall(2, n, cols, ld, prod, unit); break;
    case 3: productsSmall(3, n, cols, ld, prod, unit); break;
    case 4: productsSmall(4, n, cols, ld, prod, unit); break;
    case 5: productsSmall(5, n, cols, ld, prod, unit); break;
    default: productsAny(v, n, cols, ld, prod, unit);
  }
}

/** Index of (a, b), a ≤ b, in the packed upper triangle of a V × V matrix stored row by row. */
// @ts-ignore: decorator
@inline function pidx(V: i32, a: i32, b: i32): i32 {
  return a * V - ((a * (a - 1)) >> 1) + (b - a);
}

/** u + x[0] + x[1], added in that order. */
// @ts-ignore: decorator
@inline function add2(u: f64, x: v128): f64 {
  return u + f64x2.extract_lane(x, 0) + f64x2.extract_lane(x, 1);
}

/** {@link products} for a compile-time V ≤ 5: all products of a pair unrolled, the sums in locals. */
// @ts-ignore: decorator
@inline function productsSmall(V: i32, n: i32, cols: usize, ld: i32, prod: usize, unit: usize): void {
  const np = (V * (V + 1)) >> 1;
  const colBytes = (<usize>ld) << 3;
  const zero = v128.load(CONSTS, 16);
  let u00 = 0.0, u01 = 0.0, u02 = 0.0, u03 = 0.0, u04 = 0.0;
  let u11 = 0.0, u12 = 0.0, u13 = 0.0, u14 = 0.0;
  let u22 = 0.0, u23 = 0.0, u24 = 0.0;
  let u33 = 0.0, u34 = 0.0;
  let u44 = 0.0;
  let q0 = cols;
  let q1 = q0 + colBytes;
  let q2 = q1 + colBytes;
  let q3 = q2 + colBytes;
  let q4 = q3 + colBytes;
  let out = prod;
  const end = prod + <usize>((n + 1) >> 1) * (<usize>np << 4);
  while (out < end) {
    const c0 = v128.load(q0);
    const c1 = V > 1 ? v128.load(q1) : zero;
    const c2 = V > 2 ? v128.load(q2) : zero;
    const c3 = V > 3 ? v128.load(q3) : zero;
    const c4 = V > 4 ? v128.load(q4) : zero;
    {
      const x = f64x2.mul(c0, c0);
      v128.store(out + (<usize>pidx(V, 0, 0) << 4), x);
      u00 = add2(u00, x);
    }
    if (V > 1) {
      const x = f64x2.mul(c0, c1);
      v128.store(out + (<usize>pidx(V, 0, 1) << 4), x);
      u01 = add2(u01, x);
    }
    if (V > 2) {
      const x = f64x2.mul(c0, c2);
      v128.store(out + (<usize>pidx(V, 0, 2) << 4), x);
      u02 = add2(u02, x);
    }
    if (V > 3) {
      const x = f64x2.mul(c0, c3);
      v128.store(out + (<usize>pidx(V, 0, 3) << 4), x);
      u03 = add2(u03, x);
    }
    if (V > 4) {
      const x = f64x2.mul(c0, c4);
      v128.store(out + (<usize>pidx(V, 0, 4) << 4), x);
      u04 = add2(u04, x);
    }
    if (V > 1) {
      const x = f64x2.mul(c1, c1);
      v128.store(out + (<usize>pidx(V, 1, 1) << 4), x);
      u11 = add2(u11, x);
    }
    if (V > 2) {
      const x = f64x2.mul(c1, c2);
      v128.store(out + (<usize>pidx(V, 1, 2) << 4), x);
      u12 = add2(u12, x);
    }
    if (V > 3) {
      const x = f64x2.mul(c1, c3);
      v128.store(out + (<usize>pidx(V, 1, 3) << 4), x);
      u13 = add2(u13, x);
    }
    if (V > 4) {
      const x = f64x2.mul(c1, c4);
      v128.store(out + (<usize>pidx(V, 1, 4) << 4), x);
      u14 = add2(u14, x);
    }
    if (V > 2) {
      const x = f64x2.mul(c2, c2);
      v128.store(out + (<usize>pidx(V, 2, 2) << 4), x);
      u22 = add2(u22, x);
    }
    if (V > 3) {
      const x = f64x2.mul(c2, c3);
      v128.store(out + (<usize>pidx(V, 2, 3) << 4), x);
      u23 = add2(u23, x);
    }
    if (V > 4) {
      const x = f64x2.mul(c2, c4);
      v128.store(out + (<usize>pidx(V, 2, 4) << 4), x);
      u24 = add2(u24, x);
    }
    if (V > 3) {
      const x = f64x2.mul(c3, c3);
      v128.store(out + (<usize>pidx(V, 3, 3) << 4), x);
      u33 = add2(u33, x);
    }
    if (V > 4) {
      const x = f64x2.mul(c3, c4);
      v128.store(out + (<usize>pidx(V, 3, 4) << 4), x);
      u34 = add2(u34, x);
    }
    if (V > 4) {
      const x = f64x2.mul(c4, c4);
      v128.store(out + (<usize>pidx(V, 4, 4) << 4), x);
      u44 = add2(u44, x);
    }
    q0 += 16;
    q1 += 16;
    q2 += 16;
    q3 += 16;
    q4 += 16;
    out += <usize>np << 4;
  }
  store<f64>(unit + (<usize>pidx(V, 0, 0) << 3), u00);
  if (V > 1) store<f64>(unit + (<usize>pidx(V, 0, 1) << 3), u01);
  if (V > 2) store<f64>(unit + (<usize>pidx(V, 0, 2) << 3), u02);
  if (V > 3) store<f64>(unit + (<usize>pidx(V, 0, 3) << 3), u03);
  if (V > 4) store<f64>(unit + (<usize>pidx(V, 0, 4) << 3), u04);
  if (V > 1) store<f64>(unit + (<usize>pidx(V, 1, 1) << 3), u11);
  if (V > 2) store<f64>(unit + (<usize>pidx(V, 1, 2) << 3), u12);
  if (V > 3) store<f64>(unit + (<usize>pidx(V, 1, 3) << 3), u13);
  if (V > 4) store<f64>(unit + (<usize>pidx(V, 1, 4) << 3), u14);
  if (V > 2) store<f64>(unit + (<usize>pidx(V, 2, 2) << 3), u22);
  if (V > 3) store<f64>(unit + (<usize>pidx(V, 2, 3) << 3), u23);
  if (V > 4) store<f64>(unit + (<usize>pidx(V, 2, 4) << 3), u24);
  if (V > 3) store<f64>(unit + (<usize>pidx(V, 3, 3) << 3), u33);
  if (V > 4) store<f64>(unit + (<usize>pidx(V, 3, 4) << 3), u34);
  if (V > 4) store<f64>(unit + (<usize>pidx(V, 4, 4) << 3), u44);
}

/** {@link products} for any V: the sums accumulate in `unit` itself. */
function productsAny(v: i32, n: i32, cols: usize, ld: i32, prod: usize, unit: usize): void {
  const np = (v * (v + 1)) >> 1;
  const colBytes = (<usize>ld) << 3;
  for (let p = 0; p < np; p++) store<f64>(unit + ((<usize>p) << 3), 0.0);
  const pairs = (n + 1) >> 1;
  let off: usize = 0;
  let out = prod;
  for (let i = 0; i < pairs; i++) {
    let u = unit;
    for (let a = 0; a < v; a++) {
      const va = v128.load(cols + <usize>a * colBytes + off);
      for (let b = a; b < v; b++) {
        const x = f64x2.mul(va, v128.load(cols + <usize>b * colBytes + off));
        v128.store(out, x);
        store<f64>(u, add2(load<f64>(u), x));
        out += 16;
        u += 8;
      }
    }
    off += 16;
  }
}

// Σd and Σd² per lane, carried across the chunks of one evaluation.
let sdAcc: v128 = f64x2.splat(0.0);
let sd2Acc: v128 = f64x2.splat(0.0);

/**
 * The factors of log|H| = Σ_k log(λs_k + 1) from `out` on: each lane of a stored f64x2 is the product of the
 * h = λs + 1 of at most eight pairs, i.e. eight eigenvalues (at most (1 + 1e5·s_max)⁸: no overflow for
 * s_max < 1e30, as in the JavaScript kernel); a padding lane contributes the factor 1 (exact). Returns the number
 * of factors (doubles) written. h is rounded as in the weights (multiply, then add). A separate pass: it has no
 * division, and only the few evaluations that need log|H| pay for it.
 */
function logFactors(n: i32, lambda: f64, s: usize, out: usize): i32 {
  const one = v128.load(CONSTS);
  const L = f64x2.splat(lambda);
  let lp = out;
  // Whole groups of eight real pairs: a product tree (three multiplies deep, independent across groups).
  const groups = (n >> 1) >> 3;
  for (let i = 0; i < groups; i++) {
    const h0 = f64x2.add(f64x2.mul(L, v128.load(s, 0)), one);
    const h1 = f64x2.add(f64x2.mul(L, v128.load(s, 16)), one);
    const h2 = f64x2.add(f64x2.mul(L, v128.load(s, 32)), one);
    const h3 = f64x2.add(f64x2.mul(L, v128.load(s, 48)), one);
    const h4 = f64x2.add(f64x2.mul(L, v128.load(s, 64)), one);
    const h5 = f64x2.add(f64x2.mul(L, v128.load(s, 80)), one);
    const h6 = f64x2.add(f64x2.mul(L, v128.load(s, 96)), one);
    const h7 = f64x2.add(f64x2.mul(L, v128.load(s, 112)), one);
    const p01 = f64x2.mul(h0, h1);
    const p23 = f64x2.mul(h2, h3);
    const p45 = f64x2.mul(h4, h5);
    const p67 = f64x2.mul(h6, h7);
    v128.store(lp, f64x2.mul(f64x2.mul(p01, p23), f64x2.mul(p45, p67)));
    lp += 16;
    s += 128;
  }
  // The rest (at most eight pairs, the padded one last if n is odd) into one more factor.
  const rest = ((n + 1) >> 1) - (groups << 3);
  if (rest > 0) {
    let ph = one;
    for (let i = 0; i < rest; i++) {
      let h = f64x2.add(f64x2.mul(L, v128.load(s)), one);
      if (n & 1 && i == rest - 1) h = v128.bitselect(h, one, i64x2(-1, 0));
      ph = f64x2.mul(ph, h);
      s += 16;
    }
    v128.store(lp, ph);
    lp += 16;
  }
  return <i32>((lp - out) >> 3);
}

/**
 * One block of B ≤ 8 product columns over one chunk of m pairs: acc[r·np + b] += Σ_pairs w_r·prod[b] (per lane)
 * for b < B, r < R, with the products of the block at p (+16·b within a pair, pstride bytes per pair) and the
 * f64x2 running sums at acc (16 bytes each, offset by the block's first column).
 *
 * The weights w_r = d^{r+1} are read from `w` (16·R bytes per pair) or, with FUSED (the chunk's first block),
 * computed here and written there for the later blocks: h = λs + 1 (multiply then add, as the JavaScript kernel
 * does, also in the relaxed build), d = 1/h (an IEEE division), d², d³, and Σd, Σd² accumulated into
 * sdAcc/sd2Acc; the pair at `padPtr` (w's address of the last pair when n is odd, else none) has its padding
 * lane's weight zeroed. Fusing lets the divisions overlap the multiply-adds of the first block.
 *
 * B, R and FUSED are compile-time constants at every call site, so the unused accumulators and branches fold
 * away and the B·R accumulators stay in registers (x64 has 16 xmm registers; wider blocks spill and were
 * measured slower).
 */
// @ts-ignore: decorator
@inline function block(
  B: i32,
  R: i32,
  FUSED: bool,
  m: i32,
  p: usize,
  pstride: usize,
  w: usize,
  acc: usize,
  np: i32,
  s: usize,
  lambda: f64,
  padPtr: usize,
): void {
  const zero = v128.load(CONSTS, 16);
  const one = v128.load(CONSTS);
  const ones = v128.load(CONSTS, 32);
  const padMask = v128.load(CONSTS, 48);
  const L = f64x2.splat(lambda);
  let sd = FUSED ? sdAcc : zero;
  let sd2 = FUSED ? sd2Acc : zero;
  const a1 = acc + ((<usize>np) << 4);
  const a2 = a1 + ((<usize>np) << 4);
  let c00 = B > 0 ? v128.load(acc, 0) : zero;
  let c01 = B > 0 && R > 1 ? v128.load(a1, 0) : zero;
  let c02 = B > 0 && R > 2 ? v128.load(a2, 0) : zero;
  let c10 = B > 1 ? v128.load(acc, 16) : zero;
  let c11 = B > 1 && R > 1 ? v128.load(a1, 16) : zero;
  let c12 = B > 1 && R > 2 ? v128.load(a2, 16) : zero;
  let c20 = B > 2 ? v128.load(acc, 32) : zero;
  let c21 = B > 2 && R > 1 ? v128.load(a1, 32) : zero;
  let c22 = B > 2 && R > 2 ? v128.load(a2, 32) : zero;
  let c30 = B > 3 ? v128.load(acc, 48) : zero;
  let c31 = B > 3 && R > 1 ? v128.load(a1, 48) : zero;
  let c32 = B > 3 && R > 2 ? v128.load(a2, 48) : zero;
  let c40 = B > 4 ? v128.load(acc, 64) : zero;
  let c41 = B > 4 && R > 1 ? v128.load(a1, 64) : zero;
  let c42 = B > 4 && R > 2 ? v128.load(a2, 64) : zero;
  let c50 = B > 5 ? v128.load(acc, 80) : zero;
  let c51 = B > 5 && R > 1 ? v128.load(a1, 80) : zero;
  let c52 = B > 5 && R > 2 ? v128.load(a2, 80) : zero;
  let c60 = B > 6 ? v128.load(acc, 96) : zero;
  let c61 = B > 6 && R > 1 ? v128.load(a1, 96) : zero;
  let c62 = B > 6 && R > 2 ? v128.load(a2, 96) : zero;
  let c70 = B > 7 ? v128.load(acc, 112) : zero;
  let c71 = B > 7 && R > 1 ? v128.load(a1, 112) : zero;
  let c72 = B > 7 && R > 2 ? v128.load(a2, 112) : zero;
  const wstride = (<usize>R) << 4;
  const end = w + <usize>m * wstride;
  while (w < end) {
    let w0: v128, w1: v128, w2: v128;
    if (FUSED) {
      const h = f64x2.add(f64x2.mul(L, v128.load(s)), one);
      w0 = v128.and(f64x2.div(one, h), select<v128>(padMask, ones, w == padPtr));
      w1 = f64x2.mul(w0, w0);
      w2 = R > 2 ? f64x2.mul(w1, w0) : zero;
      sd = f64x2.add(sd, w0);
      sd2 = f64x2.add(sd2, w1);
      v128.store(w, w0);
      if (R > 1) v128.store(w, w1, 16);
      if (R > 2) v128.store(w, w2, 32);
      s += 16;
    } else {
      w0 = v128.load(w);
      w1 = R > 1 ? v128.load(w, 16) : zero;
      w2 = R > 2 ? v128.load(w, 32) : zero;
    }
    let x: v128;
    if (B > 0) {
      x = v128.load(p, 0);
      c00 = madd(w0, x, c00);
      if (R > 1) c01 = madd(w1, x, c01);
      if (R > 2) c02 = madd(w2, x, c02);
    }
    if (B > 1) {
      x = v128.load(p, 16);
      c10 = madd(w0, x, c10);
      if (R > 1) c11 = madd(w1, x, c11);
      if (R > 2) c12 = madd(w2, x, c12);
    }
    if (B > 2) {
      x = v128.load(p, 32);
      c20 = madd(w0, x, c20);
      if (R > 1) c21 = madd(w1, x, c21);
      if (R > 2) c22 = madd(w2, x, c22);
    }
    if (B > 3) {
      x = v128.load(p, 48);
      c30 = madd(w0, x, c30);
      if (R > 1) c31 = madd(w1, x, c31);
      if (R > 2) c32 = madd(w2, x, c32);
    }
    if (B > 4) {
      x = v128.load(p, 64);
      c40 = madd(w0, x, c40);
      if (R > 1) c41 = madd(w1, x, c41);
      if (R > 2) c42 = madd(w2, x, c42);
    }
    if (B > 5) {
      x = v128.load(p, 80);
      c50 = madd(w0, x, c50);
      if (R > 1) c51 = madd(w1, x, c51);
      if (R > 2) c52 = madd(w2, x, c52);
    }
    if (B > 6) {
      x = v128.load(p, 96);
      c60 = madd(w0, x, c60);
      if (R > 1) c61 = madd(w1, x, c61);
      if (R > 2) c62 = madd(w2, x, c62);
    }
    if (B > 7) {
      x = v128.load(p, 112);
      c70 = madd(w0, x, c70);
      if (R > 1) c71 = madd(w1, x, c71);
      if (R > 2) c72 = madd(w2, x, c72);
    }
    w += wstride;
    p += pstride;
  }
  if (FUSED) {
    sdAcc = sd;
    sd2Acc = sd2;
  }
  if (B > 0) {
    v128.store(acc, c00, 0);
    if (R > 1) v128.store(a1, c01, 0);
    if (R > 2) v128.store(a2, c02, 0);
  }
  if (B > 1) {
    v128.store(acc, c10, 16);
    if (R > 1) v128.store(a1, c11, 16);
    if (R > 2) v128.store(a2, c12, 16);
  }
  if (B > 2) {
    v128.store(acc, c20, 32);
    if (R > 1) v128.store(a1, c21, 32);
    if (R > 2) v128.store(a2, c22, 32);
  }
  if (B > 3) {
    v128.store(acc, c30, 48);
    if (R > 1) v128.store(a1, c31, 48);
    if (R > 2) v128.store(a2, c32, 48);
  }
  if (B > 4) {
    v128.store(acc, c40, 64);
    if (R > 1) v128.store(a1, c41, 64);
    if (R > 2) v128.store(a2, c42, 64);
  }
  if (B > 5) {
    v128.store(acc, c50, 80);
    if (R > 1) v128.store(a1, c51, 80);
    if (R > 2) v128.store(a2, c52, 80);
  }
  if (B > 6) {
    v128.store(acc, c60, 96);
    if (R > 1) v128.store(a1, c61, 96);
    if (R > 2) v128.store(a2, c62, 96);
  }
  if (B > 7) {
    v128.store(acc, c70, 112);
    if (R > 1) v128.store(a1, c71, 112);
    if (R > 2) v128.store(a2, c72, 112);
  }
}

// Block widths per order R = order + 1, measured on Zen 3 / V8 11.3 at n = 1410 for np = 3, 6, 10, 15 (see the
// module comment). The weights are computed by the first block ("fused": its divisions overlap its
// multiply-adds), which holds all np ≤ SINGLE_R columns, else FIRST_R columns (0: none, the weights alone;
// -1: the first of balanced blocks); the remaining columns go in balanced blocks of at most MAXW_R. Fused
// blocks hold fewer columns than plain ones because d, d², d³ and the sums take registers too.
const SINGLE_1: i32 = 6;
const FIRST_1: i32 = 4;
const MAXW_1: i32 = 8;
const SINGLE_2: i32 = 3;
const FIRST_2: i32 = 2;
const MAXW_2: i32 = 4;
const SINGLE_3: i32 = 0;
const FIRST_3: i32 = 1;
const MAXW_3: i32 = ASC_FEATURE_RELAXED_SIMD ? 3 : 2;

/**
 * All blocks of one chunk for R = order + 1 (see the widths above): the weights first (fused into the first
 * block, or alone), then the product columns in blocks of balanced width. R, FIRST and MAXW are compile-time
 * constants, so every `block` call below is a specialised loop.
 */
// @ts-ignore: decorator
@inline function chunk(
  R: i32,
  SINGLE: i32,
  FIRST: i32,
  MAXW: i32,
  np: i32,
  m: i32,
  p: usize,
  w: usize,
  acc: usize,
  s: usize,
  lambda: f64,
  padPtr: usize,
): void {
  const pstride = (<usize>np) << 4;
  let j = 0;
  let blocks = 0;
  if (FIRST == 0) {
    block(0, R, true, m, p, pstride, w, acc, np, s, lambda, padPtr);
    blocks = (np + MAXW - 1) / MAXW;
  } else {
    if (np <= SINGLE) {
      j = np;
    } else if (FIRST > 0) {
      j = min(np, FIRST);
      blocks = (np - j + MAXW - 1) / MAXW;
    } else {
      const all = (np + MAXW - 1) / MAXW;
      j = np / all;
      blocks = all - 1;
    }
    // The widest fused block this R can have (a compile-time constant: the wider cases fold away).
    const widest = max(SINGLE, FIRST > 0 ? FIRST : MAXW);
    switch (j) {
      case 1: block(1, R, true, m, p, pstride, w, acc, np, s, lambda, padPtr); break;
      case 2: if (widest >= 2) block(2, R, true, m, p, pstride, w, acc, np, s, lambda, padPtr); break;
      case 3: if (widest >= 3) block(3, R, true, m, p, pstride, w, acc, np, s, lambda, padPtr); break;
      case 4: if (widest >= 4) block(4, R, true, m, p, pstride, w, acc, np, s, lambda, padPtr); break;
      case 5: if (widest >= 5) block(5, R, true, m, p, pstride, w, acc, np, s, lambda, padPtr); break;
      case 6: if (widest >= 6) block(6, R, true, m, p, pstride, w, acc, np, s, lambda, padPtr); break;
      case 7: if (widest >= 7) block(7, R, true, m, p, pstride, w, acc, np, s, lambda, padPtr); break;
      case 8: if (widest >= 8) block(8, R, true, m, p, pstride, w, acc, np, s, lambda, padPtr); break;
    }
  }
  for (let b = 0; b < blocks; b++) {
    const width = (np - j) / (blocks - b);
    const pp = p + ((<usize>j) << 4);
    const aa = acc + ((<usize>j) << 4);
    switch (width) {
      case 1: if (MAXW >= 1) block(1, R, false, m, pp, pstride, w, aa, np, s, lambda, padPtr); break;
      case 2: if (MAXW >= 2) block(2, R, false, m, pp, pstride, w, aa, np, s, lambda, padPtr); break;
      case 3: if (MAXW >= 3) block(3, R, false, m, pp, pstride, w, aa, np, s, lambda, padPtr); break;
      case 4: if (MAXW >= 4) block(4, R, false, m, pp, pstride, w, aa, np, s, lambda, padPtr); break;
      case 5: if (MAXW >= 5) block(5, R, false, m, pp, pstride, w, aa, np, s, lambda, padPtr); break;
      case 6: if (MAXW >= 6) block(6, R, false, m, pp, pstride, w, aa, np, s, lambda, padPtr); break;
      case 7: if (MAXW >= 7) block(7, R, false, m, pp, pstride, w, aa, np, s, lambda, padPtr); break;
      case 8: if (MAXW >= 8) block(8, R, false, m, pp, pstride, w, aa, np, s, lambda, padPtr); break;
    }
    j += width;
  }
}

/**
 * One evaluation at λ: G_r for r ≤ order into g (G_r at g + r·np·8), Σd and Σd² into out[0..1], and with
 * `withLog` the log|H| factors from out[2] on (see {@link logFactors}); returns the number of factors. `s` and
 * `prod` are in the pair-interleaved layout of the module comment; `w` is scratch for one chunk's weights
 * ({@link weightBytes}) and `acc` for the running sums (48·np bytes). The k range is processed in chunks of
 * CHUNK pairs, all blocks of a chunk before the next, so that the later blocks re-read weights and products
 * from L1; each lane's sums still run in increasing k.
 */
export function accumulate(
  n: i32,
  np: i32,
  order: i32,
  withLog: i32,
  lambda: f64,
  s: usize,
  prod: usize,
  w: usize,
  acc: usize,
  g: usize,
  out: usize,
): i32 {
  const zero = v128.load(CONSTS, 16);
  const R = order + 1;
  for (let j = 0; j < R * np; j++) v128.store(acc + ((<usize>j) << 4), zero);
  sdAcc = zero;
  sd2Acc = zero;
  const pairs = (n + 1) >> 1;
  const pstride = (<usize>np) << 4;
  const wstride = (<usize>R) << 4;
  for (let c = 0; c < pairs; c += CHUNK) {
    const m = min(CHUNK, pairs - c);
    // With n odd, the last pair's lane 1 is padding; 0 when there is none (no buffer lies at address 0).
    const padPtr: usize = (n & 1) != 0 && c + m == pairs ? w + <usize>(m - 1) * wstride : 0;
    const sc = s + ((<usize>c) << 4);
    const pc = prod + <usize>c * pstride;
    if (order == 0) chunk(1, SINGLE_1, FIRST_1, MAXW_1, np, m, pc, w, acc, sc, lambda, padPtr);
    else if (order == 1) chunk(2, SINGLE_2, FIRST_2, MAXW_2, np, m, pc, w, acc, sc, lambda, padPtr);
    else chunk(3, SINGLE_3, FIRST_3, MAXW_3, np, m, pc, w, acc, sc, lambda, padPtr);
  }
  for (let j = 0; j < R * np; j++) {
    store<f64>(g + ((<usize>j) << 3), hsum(v128.load(acc + ((<usize>j) << 4))));
  }
  store<f64>(out, hsum(sdAcc));
  store<f64>(out, hsum(sd2Acc), 8);
  return withLog ? logFactors(n, lambda, s, out + 16) : 0;
}
