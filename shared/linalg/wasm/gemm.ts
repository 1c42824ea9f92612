/**
 * The GEMM engine of the wasm kernels (AssemblyScript). Compiled into both modules through `kernels.ts`, the
 * entry file (only its exports become module exports; see it for the build and the blocking scheme).
 * `eigen.ts` calls {@link driver} for its blocked (BLAS-3) steps.
 */

/** Rows of the micro-tile (left operand). */
export const MR: i32 = 4;
/** Columns of the micro-tile (right operand): two f64x2 vectors. */
export const NR: i32 = 4;
/** Depth of a packed panel. */
export const KC: i32 = 256;
/** Rows of the packed left block (a multiple of MR): MC · KC · 8 = 256 KB, kept in L2. */
export const MC: i32 = 128;
/** Columns of the packed right panel (a multiple of NR): KC · NC · 8 = 4 MB. */
export const NC: i32 = 2048;

/** `a·b + c` lane-wise: fused (relaxed SIMD) in the relaxed build, multiply then add in the plain one. */
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f64x2.relaxed_madd(a, b, c);
  return f64x2.add(f64x2.mul(a, b), c);
}

/**
 * Micro-kernel: C[0..mr, 0..nr] += Ap · Bp over kc steps, where Ap is an MR-tall packed sliver (MR values per
 * step) and Bp an NR-wide packed sliver (NR values per step), both zero padded at the edges. Full tiles are
 * added to C in place; edge tiles go through `tmp` (MR · NR f64).
 */
function micro(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, mr: i32, nr: i32, tmp: usize): void {
  let c00 = f64x2.splat(0.0);
  let c01 = f64x2.splat(0.0);
  let c10 = f64x2.splat(0.0);
  let c11 = f64x2.splat(0.0);
  let c20 = f64x2.splat(0.0);
  let c21 = f64x2.splat(0.0);
  let c30 = f64x2.splat(0.0);
  let c31 = f64x2.splat(0.0);
  for (let p = kc; p > 0; p--) {
    const b0 = v128.load(bp, 0);
    const b1 = v128.load(bp, 16);
    const a0 = v128.load64_splat(ap, 0);
    c00 = madd(a0, b0, c00);
    c01 = madd(a0, b1, c01);
    const a1 = v128.load64_splat(ap, 8);
    c10 = madd(a1, b0, c10);
    c11 = madd(a1, b1, c11);
    const a2 = v128.load64_splat(ap, 16);
    c20 = madd(a2, b0, c20);
    c21 = madd(a2, b1, c21);
    const a3 = v128.load64_splat(ap, 24);
    c30 = madd(a3, b0, c30);
    c31 = madd(a3, b1, c31);
    ap += 32;
    bp += 32;
  }
  if (mr == MR && nr == NR) {
    const rowBytes = (<usize>ldc) << 3;
    v128.store(c, f64x2.add(v128.load(c, 0), c00), 0);
    v128.store(c, f64x2.add(v128.load(c, 16), c01), 16);
    c += rowBytes;
    v128.store(c, f64x2.add(v128.load(c, 0), c10), 0);
    v128.store(c, f64x2.add(v128.load(c, 16), c11), 16);
    c += rowBytes;
    v128.store(c, f64x2.add(v128.load(c, 0), c20), 0);
    v128.store(c, f64x2.add(v128.load(c, 16), c21), 16);
    c += rowBytes;
    v128.store(c, f64x2.add(v128.load(c, 0), c30), 0);
    v128.store(c, f64x2.add(v128.load(c, 16), c31), 16);
  } else {
    v128.store(tmp, c00, 0);
    v128.store(tmp, c01, 16);
    v128.store(tmp, c10, 32);
    v128.store(tmp, c11, 48);
    v128.store(tmp, c20, 64);
    v128.store(tmp, c21, 80);
    v128.store(tmp, c30, 96);
    v128.store(tmp, c31, 112);
    for (let i = 0; i < mr; i++) {
      const crow = c + ((<usize>i * ldc) << 3);
      const trow = tmp + ((<usize>(i * NR)) << 3);
      for (let j = 0; j < nr; j++) {
        const q = crow + ((<usize>j) << 3);
        store<f64>(q, load<f64>(q) + load<f64>(trow + ((<usize>j) << 3)));
      }
    }
  }
}

/**
 * Packs the kc × nc block at `b` (row-major, leading dimension ld) into NR-wide slivers: sliver s holds,
 * for each of the kc rows, NR consecutive values (zero padded past nc).
 */
function packRight(kc: i32, nc: i32, b: usize, ld: i32, dst: usize): void {
  const rowBytes = (<usize>ld) << 3;
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const w = min(NR, nc - j0);
    let src = b + ((<usize>j0) << 3);
    if (w == NR) {
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(src, 0), 0);
        v128.store(dst, v128.load(src, 16), 16);
        src += rowBytes;
        dst += 32;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let j = 0; j < NR; j++) {
          store<f64>(dst + ((<usize>j) << 3), j < w ? load<f64>(src + ((<usize>j) << 3)) : 0.0);
        }
        src += rowBytes;
        dst += 32;
      }
    }
  }
}

/**
 * Packs the mc × kc left block `A[i, p]` = a[i·ld + p] into MR-tall slivers: sliver s holds, for each step p,
 * the MR values A[s·MR + r, p] (zero padded past mc). Gathers down columns.
 */
function packLeftN(mc: i32, kc: i32, a: usize, ld: i32, dst: usize): void {
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const h = min(MR, mc - i0);
    for (let r = 0; r < MR; r++) {
      let d = dst + ((<usize>r) << 3);
      if (r < h) {
        let s = a + ((<usize>(i0 + r) * ld) << 3);
        for (let p = 0; p < kc; p++) {
          store<f64>(d, load<f64>(s));
          s += 8;
          d += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          store<f64>(d, 0.0);
          d += 32;
        }
      }
    }
    dst += (<usize>(MR * kc)) << 3;
  }
}

/**
 * Packs the transposed left block: `A[i, p]` = a[p·ld + i] (the left operand is stored k × m), into the same
 * sliver layout as {@link packLeftN}. Each step copies MR contiguous values.
 */
function packLeftT(mc: i32, kc: i32, a: usize, ld: i32, dst: usize): void {
  const rowBytes = (<usize>ld) << 3;
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const h = min(MR, mc - i0);
    let src = a + ((<usize>i0) << 3);
    if (h == MR) {
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(src, 0), 0);
        v128.store(dst, v128.load(src, 16), 16);
        src += rowBytes;
        dst += 32;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f64>(dst + ((<usize>r) << 3), r < h ? load<f64>(src + ((<usize>r) << 3)) : 0.0);
        }
        src += rowBytes;
        dst += 32;
      }
    }
  }
}

/** C ← beta·C on an m × n block; beta = 0 writes zeros (so NaN/Inf in C are discarded, as in BLAS). */
function scale(m: i32, n: i32, c: usize, ldc: i32, beta: f64): void {
  if (beta == 1.0) return;
  for (let i = 0; i < m; i++) {
    const row = c + ((<usize>i * ldc) << 3);
    if (beta == 0.0) {
      memory.fill(row, 0, (<usize>n) << 3);
    } else {
      for (let j = 0; j < n; j++) {
        const q = row + ((<usize>j) << 3);
        store<f64>(q, beta * load<f64>(q));
      }
    }
  }
}

/**
 * Blocked driver: C ← beta·C + L·B with L m × k (stored m × k, or k × m when `transLeft`), B k × n, C m × n.
 * With `upper`, only micro-tiles that touch the upper triangle (column ≥ row) are computed; entries strictly
 * below the diagonal of C are then partial and must be ignored by the caller.
 */
export function driver(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  lda: i32,
  transLeft: bool,
  b: usize,
  ldb: i32,
  c: usize,
  ldc: i32,
  beta: f64,
  upper: bool,
  work: usize,
): void {
  scale(m, n, c, ldc, beta);
  const bp = work;
  const ap = bp + ((<usize>(KC * NC)) << 3);
  const tmp = ap + ((<usize>(MC * KC)) << 3);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      packRight(kc, nc, b + ((<usize>pc * ldb + jc) << 3), ldb, bp);
      for (let ic = 0; ic < m; ic += MC) {
        if (upper && ic >= jc + nc) break;
        const mc = min(MC, m - ic);
        if (transLeft) packLeftT(mc, kc, a + ((<usize>pc * lda + ic) << 3), lda, ap);
        else packLeftN(mc, kc, a + ((<usize>ic * lda + pc) << 3), lda, ap);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const lastCol = jc + jr + nr - 1;
          for (let ir = 0; ir < mc; ir += MR) {
            if (upper && ic + ir > lastCol) break;
            micro(
              kc,
              ap + ((<usize>ir * kc) << 3),
              bp + ((<usize>jr * kc) << 3),
              c + ((<usize>(ic + ir) * ldc + jc + jr) << 3),
              ldc,
              min(MR, mc - ir),
              nr,
              tmp,
            );
          }
        }
      }
    }
  }
}

/** Tile edge of the blocked copies below (a 32 × 32 f64 tile is 8 KB, so source and target tiles stay in L1). */
export const TT: i32 = 32;

/** Out-of-place transpose: d (n × m, leading dimension ldd) ← sᵀ for s m × n (leading dimension lds). */
export function transposeTiled(m: i32, n: i32, s: usize, lds: i32, d: usize, ldd: i32): void {
  for (let ib = 0; ib < m; ib += TT) {
    const ie = min(ib + TT, m);
    for (let jb = 0; jb < n; jb += TT) {
      const je = min(jb + TT, n);
      for (let i = ib; i < ie; i++) {
        const row = s + ((<usize>i * lds) << 3);
        const col = d + ((<usize>i) << 3);
        for (let j = jb; j < je; j++) {
          store<f64>(col + ((<usize>j * ldd) << 3), load<f64>(row + ((<usize>j) << 3)));
        }
      }
    }
  }
}
