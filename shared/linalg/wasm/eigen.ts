/**
 * Symmetric eigendecomposition in WebAssembly SIMD (AssemblyScript; compiled into both kernel modules through
 * `kernels.ts`). The host (`shared/linalg/wasm.ts`) runs the four stages in order on buffers it lays out in
 * linear memory (byte offsets; every matrix n × n row-major, every vector n f64, `scratch` of
 * {@link eigScratchBytes} bytes, `work` the GEMM workspace of `workBytes()` bytes):
 *
 * 1. {@link eigTridiagonalise}: Householder reduction A = Q T Qᵀ (LAPACK dsytd2, lower), T = tridiag(d, e).
 * 2. {@link eigFormQt}: W ← Qᵀ from the stored reflectors, blocked (compact WY, LAPACK dlarft/dlarfb) so that
 *    its O(n³) work runs in the GEMM kernel.
 * 3. {@link eigQl}: implicit QL with Wilkinson shifts on (d, e) (EISPACK tql2), the Givens rotations of each
 *    sweep applied to the rows of W in one SIMD pass.
 * 4. {@link eigSortTranspose}: eigenvalues ascending, eigenvectors as the columns of U = Wᵀ.
 *
 * The eigenvectors are kept as the ROWS of W (W = Uᵀ) throughout, so that both the reflectors and the rotations
 * touch contiguous memory. Costs (flops): 4/3·n³ (stage 1, memory-bound symmetric matrix–vector products and
 * rank-2 updates, fused into one pass over the trailing triangle per column), 4/3·n³ (stage 2, GEMM), about
 * 5.5·n³ (stage 3: ~1.7 QL sweeps per eigenvalue, ~0.9·n² rotations of n-long rows, 6 flops per element),
 * O(n²) (stage 4).
 *
 * References: Golub & Van Loan, "Matrix Computations" (4th ed.), §5.1 (Householder), §5.1.7 (WY), §8.3
 * (tridiagonal QL/QR); Bowdler, Martin, Reinsch & Wilkinson, Numer. Math. 11 (1968) 293–306 (tql2); Schreiber
 * & Van Loan, SIAM J. Sci. Stat. Comput. 10 (1989) 53–57 (compact WY). Our own code; no LAPACK source used.
 */
import { madd, driver, transposeTiled } from './gemm';

/** Reflectors per block of the WY accumulation in {@link eigFormQt}. */
const NB: i32 = 32;
/** Bytes of W per column panel when the logged QL rotations are applied ({@link flushSweeps}): half of a 512 KB L2. */
const PANEL_BYTES: i32 = 256 << 10;

function ld(base: usize, i: i32): f64 {
  return load<f64>(base + ((<usize>i) << 3));
}
function st(base: usize, i: i32, x: f64): void {
  store<f64>(base + ((<usize>i) << 3), x);
}
/** Address of element (i, j) of the row-major matrix at m with n columns. */
function el(m: usize, n: i32, i: i32, j: i32): usize {
  return m + ((<usize>i * <usize>n + <usize>j) << 3);
}

/** Most f64 of logged QL rotations held at once (32 MB); see {@link eigQl}. */
const LOG_MAX: i32 = 4 << 20;

/** f64 of the QL rotation log for an n × n problem: n²/2 (about a quarter of all sweeps), at least one sweep, at most {@link LOG_MAX}. */
function logCap(n: i32): i32 {
  return max(2 * n + 2, <i32>min(<i64>n * <i64>n / 2, <i64>LOG_MAX));
}

/** Bytes of scratch the host must pass to the stages for an n × n problem. */
export function eigScratchBytes(n: i32): usize {
  // Stage 1: 4 vectors. Stage 2: V panel (n × NB), Y (n × NB), Vᵀ panel (NB × n), T (NB × NB). Stage 3: the log.
  const a = <usize>4 * <usize>n;
  const b = <usize>3 * <usize>n * <usize>NB + <usize>(NB * NB);
  const c = <usize>logCap(n);
  return max(a, max(b, c)) << 3;
}

// ---------------------------------------------------------------------------------------------------------
// Stage 1: tridiagonalisation

/**
 * Reduces the symmetric matrix at `a` (n × n; only the lower triangle, diagonal included, is read) to
 * tridiagonal form by n − 1 Householder reflectors H_k = I − τ_k v_k v_kᵀ (v_k zero above index k + 1,
 * v_k[k + 1] = 1): Qᵀ A Q = T with Q = H_0 H_1 ⋯ H_{n−2}. On return d[0..n) is the diagonal of T, e[0..n−1)
 * its subdiagonal (e[k] couples k and k + 1; e[n − 1] = 0), tau[k] = τ_k, and row k of `a` holds v_k in its
 * strict upper part (a[k, k+1..n) = v_k[k+1..n)); the lower triangle is overwritten.
 *
 * Each step's rank-2 update A ← A − v wᵀ − w vᵀ (w = τ·A v − ½τ²(vᵀA v)·v) is fused with the next step's
 * product y = A v′ in one pass over the trailing lower triangle (row by row: update, dot with v′ for the lower
 * part of the row, axpy into y for its mirror image), so the matrix is read and written once per column.
 * `scr`: 4n f64. O(4/3·n³) flops.
 */
export function eigTridiagonalise(n: i32, a: usize, d: usize, e: usize, tau: usize, scr: usize): void {
  if (n <= 0) return;
  const nb = (<usize>n) << 3;
  let v = scr; // current reflector (global indices)
  let vn = scr + nb; // next reflector
  const w = scr + 2 * nb;
  const y = scr + 3 * nb;
  memory.fill(scr, 0, 4 * nb);
  let tauK = 0.0;
  for (let k = -1; k < n - 1; k++) {
    const c = k + 1;
    const upd = k >= 0 && tauK != 0.0;
    if (upd) {
      // w = p − ½τ(pᵀv)·v with p = τ·y, on [c, n).
      let pv = 0.0;
      for (let j = c; j < n; j++) {
        const p = tauK * ld(y, j);
        st(w, j, p);
        pv += p * ld(v, j);
      }
      const alpha = -0.5 * tauK * pv;
      for (let j = c; j < n; j++) st(w, j, ld(w, j) + alpha * ld(v, j));
      // Column c of the trailing matrix (diagonal included) is updated first: it defines the next reflector.
      const vc = ld(v, c);
      const wc = ld(w, c);
      for (let i = c; i < n; i++) {
        const q = el(a, n, i, c);
        store<f64>(q, load<f64>(q) - (ld(v, i) * wc + ld(w, i) * vc));
      }
    }
    st(d, c, load<f64>(el(a, n, c, c)));
    if (c == n - 1) break;
    // Next reflector from x = A[c+1..n, c]: H x = β e_1 (β = −sign(x_0)·‖x‖), v = (x − β e_1)/(x_0 − β).
    const x0 = load<f64>(el(a, n, c + 1, c));
    let scale = 0.0;
    for (let i = c + 2; i < n; i++) scale = max(scale, abs(load<f64>(el(a, n, i, c))));
    let t = 0.0;
    let beta = x0;
    const vrow = el(a, n, c, 0);
    st(vn, c + 1, 1.0);
    st(vrow, c + 1, 1.0);
    if (scale == 0.0) {
      for (let i = c + 2; i < n; i++) {
        st(vn, i, 0.0);
        st(vrow, i, 0.0);
      }
    } else {
      let ss = 0.0;
      for (let i = c + 2; i < n; i++) {
        const q = load<f64>(el(a, n, i, c)) / scale;
        ss += q * q;
      }
      const xnorm = scale * Math.sqrt(ss);
      const big = max(abs(x0), xnorm);
      const r0 = x0 / big;
      const r1 = xnorm / big;
      const norm = big * Math.sqrt(r0 * r0 + r1 * r1);
      beta = x0 >= 0 ? -norm : norm;
      t = (beta - x0) / beta;
      const f = 1.0 / (x0 - beta);
      for (let i = c + 2; i < n; i++) {
        const q = load<f64>(el(a, n, i, c)) * f;
        st(vn, i, q);
        st(vrow, i, q);
      }
    }
    st(e, c, beta);
    st(tau, c, t);
    // Fused pass over rows c+1..n of the trailing lower triangle: A ← A − v wᵀ − w vᵀ (if upd), y ← A v′.
    const j0 = c + 1;
    memory.fill(y + ((<usize>j0) << 3), 0, (<usize>(n - j0)) << 3);
    for (let i = j0; i < n; i++) {
      const row = el(a, n, i, 0);
      const vi = ld(v, i);
      const wi = ld(w, i);
      const vni = ld(vn, i);
      const mvi = f64x2.splat(upd ? -vi : 0.0);
      const mwi = f64x2.splat(upd ? -wi : 0.0);
      const svni = f64x2.splat(vni);
      let dot0 = f64x2.splat(0.0);
      let dot1 = f64x2.splat(0.0);
      let j = j0;
      if (upd) {
        for (; j + 4 <= i; j += 4) {
          const off = (<usize>j) << 3;
          let x0v = v128.load(row + off, 0);
          let x1v = v128.load(row + off, 16);
          x0v = madd(mvi, v128.load(w + off, 0), x0v);
          x1v = madd(mvi, v128.load(w + off, 16), x1v);
          x0v = madd(mwi, v128.load(v + off, 0), x0v);
          x1v = madd(mwi, v128.load(v + off, 16), x1v);
          v128.store(row + off, x0v, 0);
          v128.store(row + off, x1v, 16);
          dot0 = madd(x0v, v128.load(vn + off, 0), dot0);
          dot1 = madd(x1v, v128.load(vn + off, 16), dot1);
          v128.store(y + off, madd(x0v, svni, v128.load(y + off, 0)), 0);
          v128.store(y + off, madd(x1v, svni, v128.load(y + off, 16)), 16);
        }
      } else {
        for (; j + 4 <= i; j += 4) {
          const off = (<usize>j) << 3;
          const x0v = v128.load(row + off, 0);
          const x1v = v128.load(row + off, 16);
          dot0 = madd(x0v, v128.load(vn + off, 0), dot0);
          dot1 = madd(x1v, v128.load(vn + off, 16), dot1);
          v128.store(y + off, madd(x0v, svni, v128.load(y + off, 0)), 0);
          v128.store(y + off, madd(x1v, svni, v128.load(y + off, 16)), 16);
        }
      }
      const dsum = f64x2.add(dot0, dot1);
      let dot = f64x2.extract_lane(dsum, 0) + f64x2.extract_lane(dsum, 1);
      for (; j < i; j++) {
        const q = row + ((<usize>j) << 3);
        let x = load<f64>(q);
        if (upd) {
          x -= vi * ld(w, j) + wi * ld(v, j);
          store<f64>(q, x);
        }
        dot += x * ld(vn, j);
        st(y, j, ld(y, j) + x * vni);
      }
      const qd = row + ((<usize>i) << 3);
      let xd = load<f64>(qd);
      if (upd) {
        xd -= 2.0 * vi * wi;
        store<f64>(qd, xd);
      }
      st(y, i, ld(y, i) + dot + xd * vni);
    }
    const tmp = v;
    v = vn;
    vn = tmp;
    tauK = t;
  }
  st(e, n - 1, 0.0);
}

// ---------------------------------------------------------------------------------------------------------
// Stage 2: Qᵀ from the reflectors

/**
 * W ← Qᵀ = H_{n−2} ⋯ H_1 H_0 for the reflectors left in `a` and `tau` by {@link eigTridiagonalise}.
 *
 * Built from the right, W ← W·H_k for k descending, so that only the trailing block [k+1.., k+1..] is ever
 * touched. Blocks of NB reflectors k0..k1 are applied at once: H_{k0} ⋯ H_{k1} = I − V T Vᵀ (T upper triangular),
 * so W ← W (I − V Tᵀ Vᵀ) = W − ((W V) Tᵀ) Vᵀ, two GEMMs. O(4/3·n³) flops. `scr` ≥ {@link eigScratchBytes}.
 */
export function eigFormQt(n: i32, a: usize, tau: usize, w: usize, scr: usize, work: usize): void {
  if (n <= 0) return;
  memory.fill(w, 0, (<usize>n * <usize>n) << 3);
  for (let i = 0; i < n; i++) st(w, i * n + i, 1.0);
  const nr = n - 1; // reflectors 0..n−2
  if (nr <= 0) return;
  const vp = scr; // V panel: m × nb (row r = component k0+1+r)
  const yp = vp + ((<usize>n * <usize>NB) << 3); // Y = W V: m × nb
  const vt = yp + ((<usize>n * <usize>NB) << 3); // Vᵀ panel: nb × m
  const tt = vt + ((<usize>n * <usize>NB) << 3); // T: nb × nb
  // Blocks from the last reflector backwards: [k0, k1], k1 − k0 + 1 ≤ NB.
  let k1 = nr - 1;
  while (k1 >= 0) {
    const k0 = max(0, k1 - NB + 1);
    const nb = k1 - k0 + 1;
    const off = k0 + 1; // first row/column touched
    const m = n - off;
    // Vᵀ panel: row r holds v_{k0+r} on columns off.. (zero before its leading 1).
    for (let r = 0; r < nb; r++) {
      const k = k0 + r;
      const dst = vt + ((<usize>r * <usize>m) << 3);
      if (r > 0) memory.fill(dst, 0, (<usize>r) << 3);
      memory.copy(dst + ((<usize>r) << 3), el(a, n, k, k + 1), (<usize>(n - k - 1)) << 3);
    }
    transposeTiled(nb, m, vt, m, vp, nb);
    // T (upper): T[j][j] = τ_j; T[0..j, j] = −τ_j · T[0..j, 0..j] · (V[:, 0..j]ᵀ v_j).
    for (let j = 0; j < nb; j++) {
      const tj = ld(tau, k0 + j);
      const vj = vt + ((<usize>j * <usize>m) << 3);
      for (let i = 0; i < j; i++) {
        // (V[:, i]ᵀ v_j): v_i and v_j overlap from index j (v_j's leading 1) on.
        const vi = vt + ((<usize>i * <usize>m) << 3);
        let s = 0.0;
        for (let p = j; p < m; p++) s += ld(vi, p) * ld(vj, p);
        st(tt, i * NB + j, s);
      }
      // T[0..j, j] ← −τ_j · T[0..j, 0..j] · T[0..j, j] (upper triangular times vector, top down in place).
      for (let i = 0; i < j; i++) {
        let s = 0.0;
        for (let p = i; p < j; p++) s += ld(tt, i * NB + p) * ld(tt, p * NB + j);
        st(tt, i * NB + j, -tj * s);
      }
      st(tt, j * NB + j, tj);
      for (let i = j + 1; i < nb; i++) st(tt, i * NB + j, 0.0);
    }
    // Y = W[off.., off..] · V  (m × nb)
    const wsub = el(w, n, off, off);
    driver(m, nb, m, wsub, n, false, vp, nb, yp, nb, 0.0, false, work);
    // Y ← −Y · Tᵀ, row by row in place: (Y Tᵀ)[r, i] = Σ_{p ≥ i} Y[r, p] T[i, p].
    for (let r = 0; r < m; r++) {
      const yr = yp + ((<usize>r * <usize>nb) << 3);
      for (let i = 0; i < nb; i++) {
        let s = 0.0;
        for (let p = i; p < nb; p++) s += ld(yr, p) * ld(tt, i * NB + p);
        st(yr, i, -s);
      }
    }
    // W[off.., off..] += Y · Vᵀ
    driver(m, m, nb, yp, nb, false, vt, m, wsub, n, 1.0, false, work);
    k1 = k0 - 1;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Stage 3: implicit QL on the tridiagonal

/**
 * Applies one sweep's rotations to columns [k0, k1) of W (k1 − k0 a multiple of 8, or the tail): for i = m−1
 * down to l, (row i+1, row i) ← (s_i·row i + c_i·row i+1, c_i·row i − s_i·row i+1). The column strip is walked
 * 8 wide with the running row in registers, so each element is loaded and stored once per sweep.
 */
function rotateStrip(n: i32, w: usize, k0: i32, k1: i32, l: i32, m: i32, cc: usize, ss: usize): void {
  const rb = (<usize>n) << 3;
  const top = w + <usize>m * rb;
  let k = k0;
  for (; k + 8 <= k1; k += 8) {
    let p = top + ((<usize>k) << 3);
    let r0 = v128.load(p, 0);
    let r1 = v128.load(p, 16);
    let r2 = v128.load(p, 32);
    let r3 = v128.load(p, 48);
    let ci = cc + ((<usize>(m - 1 - l)) << 3);
    let si = ss + ((<usize>(m - 1 - l)) << 3);
    for (let i = m - 1; i >= l; i--) {
      const q = p - rb;
      const c = v128.load64_splat(ci);
      const s = v128.load64_splat(si);
      const ms = f64x2.neg(s);
      const x0 = v128.load(q, 0);
      const x1 = v128.load(q, 16);
      const x2 = v128.load(q, 32);
      const x3 = v128.load(q, 48);
      // The products with x do not depend on the running row: its dependency chain is one madd per row.
      v128.store(p, madd(c, r0, f64x2.mul(s, x0)), 0);
      v128.store(p, madd(c, r1, f64x2.mul(s, x1)), 16);
      v128.store(p, madd(c, r2, f64x2.mul(s, x2)), 32);
      v128.store(p, madd(c, r3, f64x2.mul(s, x3)), 48);
      r0 = madd(ms, r0, f64x2.mul(c, x0));
      r1 = madd(ms, r1, f64x2.mul(c, x1));
      r2 = madd(ms, r2, f64x2.mul(c, x2));
      r3 = madd(ms, r3, f64x2.mul(c, x3));
      p = q;
      ci -= 8;
      si -= 8;
    }
    v128.store(p, r0, 0);
    v128.store(p, r1, 16);
    v128.store(p, r2, 32);
    v128.store(p, r3, 48);
  }
  for (; k < k1; k++) {
    let p = top + ((<usize>k) << 3);
    let r = load<f64>(p);
    for (let i = m - 1; i >= l; i--) {
      const q = p - rb;
      const c = ld(cc, i - l);
      const s = ld(ss, i - l);
      const x = load<f64>(q);
      store<f64>(p, s * x + c * r);
      r = c * x - s * r;
      p = q;
    }
    store<f64>(p, r);
  }
}

/**
 * Applies the logged sweeps (`log`, `len` f64: per sweep l, m, then c_l..c_{m−1}, then s_l..s_{m−1}) to W in
 * column panels of {@link PANEL_BYTES} (at least 8 columns): a panel stays in L2 while every logged sweep runs over it,
 * so W crosses the memory bus once per flush instead of once per sweep.
 */
function flushSweeps(n: i32, w: usize, log: usize, len: i32): void {
  const strip = max(8, (PANEL_BYTES / 8 / n) & ~7);
  for (let k0 = 0; k0 < n; k0 += strip) {
    const k1 = min(n, k0 + strip);
    let at = 0;
    while (at < len) {
      const l = <i32>ld(log, at);
      const m = <i32>ld(log, at + 1);
      const cc = log + ((<usize>(at + 2)) << 3);
      const ss = cc + ((<usize>(m - l)) << 3);
      rotateStrip(n, w, k0, k1, l, m, cc, ss);
      at += 2 + 2 * (m - l);
    }
  }
}

/**
 * Eigenvalues and eigenvectors of the symmetric tridiagonal (d, e) (e[k] couples k and k + 1), the rotations
 * accumulated into the rows of W (which holds Qᵀ on entry and Uᵀ on return): the implicit QL algorithm with
 * Wilkinson shifts and EISPACK's tql2 convergence test |e_m| ≤ ε·max_l(|d_l| + |e_l|).
 *
 * The iteration itself needs only (d, e): each sweep's rotations are appended to a log (`scr`, {@link logCap}
 * f64) and applied to W by {@link flushSweeps} when the log is full and at the end, which gives the
 * same result as rotating W sweep by sweep at a fraction of the memory traffic. Returns 0, or 1 if an
 * eigenvalue needed more than 200 iterations (NaN or Inf input). O(n²) scalar work plus the rotations
 * (about 1.7 sweeps per eigenvalue; 6 flops per element of W per rotation).
 */
export function eigQl(n: i32, d: usize, e: usize, w: usize, scr: usize): i32 {
  if (n <= 0) return 0;
  const cap = logCap(n);
  st(e, n - 1, 0.0);
  let len = 0;
  const eps = 2.220446049250313e-16;
  let f = 0.0;
  let tst1 = 0.0;
  for (let l = 0; l < n; l++) {
    tst1 = max(tst1, abs(ld(d, l)) + abs(ld(e, l)));
    let m = l;
    while (m < n) {
      if (abs(ld(e, m)) <= eps * tst1) break;
      m++;
    }
    if (m == n) m = n - 1;
    if (m > l) {
      let iter = 0;
      do {
        iter++;
        if (iter > 200) return 1;
        if (len + 2 + 2 * (m - l) > cap) {
          flushSweeps(n, w, scr, len);
          len = 0;
        }
        st(scr, len, <f64>l);
        st(scr, len + 1, <f64>m);
        const cc = scr + ((<usize>(len + 2)) << 3); // c_i at cc[i − l], s_i at ss[i − l]
        const ss = cc + ((<usize>(m - l)) << 3);
        len += 2 + 2 * (m - l);
        let g = ld(d, l);
        const el0 = ld(e, l);
        let p = (ld(d, l + 1) - g) / (2.0 * el0);
        let r = Math.hypot(p, 1.0);
        if (p < 0) r = -r;
        st(d, l, el0 / (p + r));
        st(d, l + 1, el0 * (p + r));
        const dl1 = ld(d, l + 1);
        let h = g - ld(d, l);
        for (let i = l + 2; i < n; i++) st(d, i, ld(d, i) - h);
        f += h;
        p = ld(d, m);
        let c = 1.0;
        let c2 = c;
        let c3 = c;
        const el1 = ld(e, l + 1);
        let s = 0.0;
        let s2 = 0.0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          const ei = ld(e, i);
          g = c * ei;
          h = c * p;
          r = Math.hypot(p, ei);
          st(e, i + 1, s * r);
          s = ei / r;
          c = p / r;
          const di = ld(d, i);
          p = c * di - s * g;
          st(d, i + 1, h + s * (c * g + s * di));
          st(cc, i - l, c);
          st(ss, i - l, s);
        }
        p = (-s * s2 * c3 * el1 * ld(e, l)) / dl1;
        st(e, l, s * p);
        st(d, l, c * p);
      } while (abs(ld(e, l)) > eps * tst1);
    }
    st(d, l, ld(d, l) + f);
    st(e, l, 0.0);
  }
  flushSweeps(n, w, scr, len);
  return 0;
}

// ---------------------------------------------------------------------------------------------------------
// Stage 4: order and layout

/**
 * Sorts the eigenvalues d ascending (selection sort, O(n²) comparisons, at most n − 1 row swaps of W) and
 * writes the eigenvectors, the rows of W, as the columns of U (n × n row-major at `u`, distinct from `w`).
 */
export function eigSortTranspose(n: i32, d: usize, w: usize, u: usize): void {
  const rb = (<usize>n) << 3;
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = ld(d, i);
    for (let j = i + 1; j < n; j++) {
      const dj = ld(d, j);
      if (dj < p) {
        k = j;
        p = dj;
      }
    }
    if (k != i) {
      st(d, k, ld(d, i));
      st(d, i, p);
      const ri = w + <usize>i * rb;
      const rk = w + <usize>k * rb;
      let j = 0;
      for (; j + 2 <= n; j += 2) {
        const o = (<usize>j) << 3;
        const t = v128.load(ri + o);
        v128.store(ri + o, v128.load(rk + o));
        v128.store(rk + o, t);
      }
      if (j < n) {
        const o = (<usize>j) << 3;
        const t = load<f64>(ri + o);
        store<f64>(ri + o, load<f64>(rk + o));
        store<f64>(rk + o, t);
      }
    }
  }
  transposeTiled(n, n, w, n, u, n);
}
