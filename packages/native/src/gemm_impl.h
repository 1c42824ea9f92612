// The blocked product driver and the eigensolver's streaming loops, compiled once per ISA.
//
// Include this from an ISA translation unit after defining, in an anonymous namespace:
//   struct Micro { static constexpr int MR, NR, MC, KC, NC;
//                  static void run(ptrdiff_t kc, const double* a, const double* b, double* c,
//                                  ptrdiff_t ldc, double scale); };
// `run` computes the full MR × NR tile  C ← (scale == 0 ? 0 : scale·C) + Σ_p a[p·MR + r]·b[p·NR + j].
//
// Everything here has internal linkage on purpose: the same code is compiled with different -m flags in
// several translation units, and a shared (COMDAT) symbol could let the linker pick the AVX-512 copy for the
// generic path. For the same reason no standard-library templates are used in these files.
//
// Structure (classic five-loop blocking with packed panels):
//   for jc (NC columns of C)  for pc (KC of the inner dimension): pack R[pc:+KC, jc:+NC] into NR-wide slivers
//     for ic (MC rows of C): pack L[ic:+MC, pc:+KC] into MR-tall slivers
//       for jr (NR) for ir (MR): micro-kernel on the register tile (B sliver stays in L1, A block in L2).
#pragma once

#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels.h"

namespace {

using gwas::GemmRegion;
using gwas::Operand;
using gwas::Rotation;
using std::ptrdiff_t;

inline ptrdiff_t imin(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
inline ptrdiff_t imax(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }

struct AlignedBuf {
  double* p = nullptr;
  explicit AlignedBuf(size_t n) {
    size_t bytes = ((n * sizeof(double) + 63) / 64) * 64;
    if (bytes == 0) bytes = 64;
    p = static_cast<double*>(std::aligned_alloc(64, bytes));
    if (!p) throw std::bad_alloc();
  }
  ~AlignedBuf() { std::free(p); }
  AlignedBuf(const AlignedBuf&) = delete;
  AlignedBuf& operator=(const AlignedBuf&) = delete;
};

// Packs L[i0 : i0+mc, p0 : p0+kc] into ceil(mc/MR) slivers; sliver s holds, for each p, the MR values
// L[i0 + s·MR + r, p0 + p] (r = 0..MR-1), zero past mc.
template <int MR>
void pack_left(const Operand& L, ptrdiff_t i0, ptrdiff_t mc, ptrdiff_t p0, ptrdiff_t kc, double* dst) {
  for (ptrdiff_t s = 0; s < mc; s += MR) {
    const ptrdiff_t rows = imin(MR, mc - s);
    const double* base = L.ptr + (i0 + s) * L.rs + p0 * L.cs;
    if (L.rs == 1) {
      // Column-stored (syrkT: L = Aᵀ): MR contiguous values per p.
      for (ptrdiff_t p = 0; p < kc; ++p) {
        const double* src = base + p * L.cs;
        double* d = dst + p * MR;
        if (rows == MR) {
          for (int r = 0; r < MR; ++r) d[r] = src[r];
        } else {
          for (int r = 0; r < MR; ++r) d[r] = r < rows ? src[r] : 0.0;
        }
      }
    } else {
      // Row-stored (gemm: L = A): gather MR rows, kc values each.
      for (int r = 0; r < MR; ++r) {
        if (r < rows) {
          const double* src = base + r * L.rs;
          if (L.cs == 1) {
            for (ptrdiff_t p = 0; p < kc; ++p) dst[p * MR + r] = src[p];
          } else {
            for (ptrdiff_t p = 0; p < kc; ++p) dst[p * MR + r] = src[p * L.cs];
          }
        } else {
          for (ptrdiff_t p = 0; p < kc; ++p) dst[p * MR + r] = 0.0;
        }
      }
    }
    dst += MR * kc;
  }
}

// Packs R[p0 : p0+kc, j0 : j0+nc] into ceil(nc/NR) slivers of kc rows × NR values, zero past nc.
template <int NR>
void pack_right(const Operand& R, ptrdiff_t p0, ptrdiff_t kc, ptrdiff_t j0, ptrdiff_t nc, double* dst) {
  for (ptrdiff_t s = 0; s < nc; s += NR) {
    const ptrdiff_t cols = imin(NR, nc - s);
    const double* base = R.ptr + p0 * R.rs + (j0 + s) * R.cs;
    for (ptrdiff_t p = 0; p < kc; ++p) {
      const double* src = base + p * R.rs;
      double* d = dst + p * NR;
      if (cols == NR && R.cs == 1) {
        std::memcpy(d, src, NR * sizeof(double));
      } else {
        for (int j = 0; j < NR; ++j) d[j] = j < cols ? src[j * R.cs] : 0.0;
      }
    }
    dst += NR * kc;
  }
}

// Applies C ← beta·C on the region (the K == 0 case), honouring the lower-triangle mask.
inline void scale_region(const GemmRegion& g) {
  for (ptrdiff_t i = g.i0; i < g.i1; ++i) {
    const ptrdiff_t jend = g.lower ? imin(g.j1, i + 1) : g.j1;
    double* c = g.C + i * g.ldc;
    for (ptrdiff_t j = g.j0; j < jend; ++j) c[j] = g.beta == 0.0 ? 0.0 : g.beta * c[j];
  }
}

template <class Micro>
void gemm_region_impl(const GemmRegion& g) {
  constexpr int MR = Micro::MR, NR = Micro::NR;
  if (g.i0 >= g.i1 || g.j0 >= g.j1) return;
  if (g.K == 0) {
    scale_region(g);
    return;
  }
  const ptrdiff_t M = g.i1 - g.i0;
  const ptrdiff_t N = g.j1 - g.j0;
  const ptrdiff_t mcMax = imin(Micro::MC, ((M + MR - 1) / MR) * MR);
  const ptrdiff_t ncMax = imin(Micro::NC, ((N + NR - 1) / NR) * NR);
  const ptrdiff_t kcMax = imin(Micro::KC, g.K);
  AlignedBuf apack(static_cast<size_t>(mcMax * kcMax));
  AlignedBuf bpack(static_cast<size_t>(ncMax * kcMax));
  alignas(64) double tile[MR * NR];

  for (ptrdiff_t jc = g.j0; jc < g.j1; jc += Micro::NC) {
    const ptrdiff_t nc = imin(Micro::NC, g.j1 - jc);
    if (g.lower && g.i1 - 1 < jc) break;  // the rest lies above the diagonal
    for (ptrdiff_t pc = 0; pc < g.K; pc += Micro::KC) {
      const ptrdiff_t kc = imin(Micro::KC, g.K - pc);
      const double scale = pc == 0 ? g.beta : 1.0;
      pack_right<NR>(g.R, pc, kc, jc, nc, bpack.p);
      for (ptrdiff_t ic = g.i0; ic < g.i1; ic += Micro::MC) {
        const ptrdiff_t mc = imin(Micro::MC, g.i1 - ic);
        if (g.lower && ic + mc - 1 < jc) continue;  // whole block above the diagonal
        pack_left<MR>(g.L, ic, mc, pc, kc, apack.p);
        for (ptrdiff_t jr = 0; jr < nc; jr += NR) {
          const ptrdiff_t j = jc + jr;
          const ptrdiff_t ncols = imin(NR, nc - jr);
          const double* bs = bpack.p + jr * kc;
          for (ptrdiff_t ir = 0; ir < mc; ir += MR) {
            const ptrdiff_t i = ic + ir;
            const ptrdiff_t nrows = imin(MR, mc - ir);
            if (g.lower && i + nrows - 1 < j) continue;  // tile strictly above the diagonal
            const double* as = apack.p + ir * kc;
            double* c = g.C + i * g.ldc + j;
            const bool full = nrows == MR && ncols == NR && (!g.lower || i >= j + NR - 1);
            if (full) {
              Micro::run(kc, as, bs, c, g.ldc, scale);
            } else {
              Micro::run(kc, as, bs, tile, NR, 0.0);
              for (ptrdiff_t r = 0; r < nrows; ++r) {
                ptrdiff_t cend = ncols;
                if (g.lower) cend = imin(cend, i + r - j + 1);  // keep j + cc ≤ i + r
                double* cr = c + r * g.ldc;
                const double* tr = tile + r * NR;
                if (scale == 0.0) {
                  for (ptrdiff_t cc = 0; cc < cend; ++cc) cr[cc] = tr[cc];
                } else if (scale == 1.0) {
                  for (ptrdiff_t cc = 0; cc < cend; ++cc) cr[cc] += tr[cc];
                } else {
                  for (ptrdiff_t cc = 0; cc < cend; ++cc) cr[cc] = scale * cr[cc] + tr[cc];
                }
              }
            }
          }
        }
      }
    }
  }
}

// Plane rotations for the QL eigensolver. A QL sweep rotates rows (i, i+1) for descending i, so row i of one
// rotation is row i+1 of the next: that row is carried in registers and each rotation costs one load and one
// store of the block's values instead of two of each. `Rot` (defined by the ISA unit) provides
//   static constexpr int W;   // block width in doubles
//   static void block(double* Zt, ptrdiff_t ld, ptrdiff_t c0, const Rotation* rot, size_t count);
// for full blocks; the remaining columns use the portable version below.
template <int W>
void rotate_block_portable(double* Zt, ptrdiff_t ld, ptrdiff_t c0, const Rotation* rot, size_t count) {
  double carry[W] = {};  // (always loaded before use)
  ptrdiff_t cr = -1;  // row held in carry (not yet stored), −1: none
  for (size_t q = 0; q < count; ++q) {
    const ptrdiff_t i = static_cast<ptrdiff_t>(rot[q].i);
    const double c = rot[q].c, s = rot[q].s;
    const double* rowi = Zt + i * ld + c0;
    double* rowj = Zt + (i + 1) * ld + c0;
    if (cr != i + 1) {
      if (cr >= 0) {
        double* dst = Zt + cr * ld + c0;
        for (int t = 0; t < W; ++t) dst[t] = carry[t];
      }
      for (int t = 0; t < W; ++t) carry[t] = rowj[t];
    }
    for (int t = 0; t < W; ++t) {
      const double x = rowi[t], y = carry[t];
      rowj[t] = s * x + c * y;
      carry[t] = c * x - s * y;
    }
    cr = i;
  }
  if (cr >= 0) {
    double* dst = Zt + cr * ld + c0;
    for (int t = 0; t < W; ++t) dst[t] = carry[t];
  }
}

template <class Rot>
void apply_rotations_impl(double* Zt, ptrdiff_t ld, ptrdiff_t c0, ptrdiff_t c1, const Rotation* rot,
                          size_t count) {
  ptrdiff_t c = c0;
  for (; c + Rot::W <= c1; c += Rot::W) Rot::block(Zt, ld, c, rot, count);
  for (; c + 4 <= c1; c += 4) rotate_block_portable<4>(Zt, ld, c, rot, count);
  for (; c < c1; ++c) rotate_block_portable<1>(Zt, ld, c, rot, count);
}

// The reductions below keep 16 partial sums so that the compiler can vectorise them without -ffast-math
// (the summation order is fixed, so results are reproducible for a given ISA).
constexpr int kLanes = 16;

double tridiag_row_impl(double* __restrict a, const double* __restrict f, const double* __restrict g,
                        const double* __restrict u, double* __restrict p, double fj, double gj, double uj,
                        ptrdiff_t len) {
  double part[kLanes] = {0.0};
  ptrdiff_t k = 0;
  for (; k + kLanes <= len; k += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double v = a[k + l] - fj * g[k + l] - gj * f[k + l];
      a[k + l] = v;
      part[l] += v * u[k + l];
      p[k + l] += uj * v;
    }
  }
  double acc = 0.0;
  for (; k < len; ++k) {
    const double v = a[k] - fj * g[k] - gj * f[k];
    a[k] = v;
    acc += v * u[k];
    p[k] += uj * v;
  }
  for (int l = 0; l < kLanes; ++l) acc += part[l];
  return acc;
}

double dot_impl(const double* __restrict x, const double* __restrict y, ptrdiff_t len) {
  double part[kLanes] = {0.0};
  ptrdiff_t k = 0;
  for (; k + kLanes <= len; k += kLanes) {
    for (int l = 0; l < kLanes; ++l) part[l] += x[k + l] * y[k + l];
  }
  double acc = 0.0;
  for (; k < len; ++k) acc += x[k] * y[k];
  for (int l = 0; l < kLanes; ++l) acc += part[l];
  return acc;
}

void axpy_impl(double alpha, const double* __restrict x, double* __restrict y, ptrdiff_t len) {
  for (ptrdiff_t k = 0; k < len; ++k) y[k] += alpha * x[k];
}

}  // namespace
