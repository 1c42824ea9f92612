// AVX2 + FMA (x86-64-v3 level) variant of the kernels.
// Compiled with -mavx2 -mfma (see binding.gyp); only called when the CPU reports AVX2 and FMA (dispatch.cc).
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "gemm_impl.h"

namespace {

// MR rows × (4·NV) columns: MR·NV ymm accumulators + NV for the B row + 1 broadcast, within 16 ymm registers.
template <int MR_, int NV, int MC_, int KC_, int NC_>
struct Avx2Micro {
  static constexpr int MR = MR_, NR = 4 * NV, MC = MC_, KC = KC_, NC = NC_;

  static void run(ptrdiff_t kc, const double* __restrict a, const double* __restrict b, double* c,
                  ptrdiff_t ldc, double scale) {
    __m256d acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_pd();

#pragma GCC unroll 2
    for (ptrdiff_t p = 0; p < kc; ++p) {
      __m256d bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_pd(b + 4 * v);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        const __m256d av = _mm256_broadcast_sd(a + r);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_pd(av, bv[v], acc[r][v]);
      }
      a += MR;
      b += NR;
    }

    if (scale == 0.0) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) _mm256_storeu_pd(c + r * ldc + 4 * v, acc[r][v]);
    } else if (scale == 1.0) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          double* q = c + r * ldc + 4 * v;
          _mm256_storeu_pd(q, _mm256_add_pd(_mm256_loadu_pd(q), acc[r][v]));
        }
    } else {
      const __m256d sv = _mm256_set1_pd(scale);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          double* q = c + r * ldc + 4 * v;
          _mm256_storeu_pd(q, _mm256_fmadd_pd(sv, _mm256_loadu_pd(q), acc[r][v]));
        }
    }
  }
};

// Rotations on 32-column blocks: 8 ymm carry the shared row, the other row streams through.
struct Avx2Rot {
  static constexpr int W = 32;
  static constexpr int V = W / 4;
  static void block(double* Zt, ptrdiff_t ld, ptrdiff_t c0, const Rotation* rot, size_t count) {
    __m256d carry[V];
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) carry[v] = _mm256_setzero_pd();  // (always loaded before use)
    ptrdiff_t cr = -1;
    for (size_t q = 0; q < count; ++q) {
      const ptrdiff_t i = static_cast<ptrdiff_t>(rot[q].i);
      const __m256d c = _mm256_set1_pd(rot[q].c), s = _mm256_set1_pd(rot[q].s);
      const double* rowi = Zt + i * ld + c0;
      double* rowj = Zt + (i + 1) * ld + c0;
      if (cr != i + 1) {
        if (cr >= 0) {
          double* dst = Zt + cr * ld + c0;
#pragma GCC unroll 16
          for (int v = 0; v < V; ++v) _mm256_storeu_pd(dst + 4 * v, carry[v]);
        }
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) carry[v] = _mm256_loadu_pd(rowj + 4 * v);
      }
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) {
        const __m256d x = _mm256_loadu_pd(rowi + 4 * v);
        _mm256_storeu_pd(rowj + 4 * v, _mm256_fmadd_pd(s, x, _mm256_mul_pd(c, carry[v])));
        carry[v] = _mm256_fmsub_pd(c, x, _mm256_mul_pd(s, carry[v]));
      }
      cr = i;
    }
    if (cr >= 0) {
      double* dst = Zt + cr * ld + c0;
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) _mm256_storeu_pd(dst + 4 * v, carry[v]);
    }
  }
};

#ifndef GWAS_AVX2_TILE
#define GWAS_AVX2_TILE 6, 2, 96, 256, 4080
#endif
using Micro = Avx2Micro<GWAS_AVX2_TILE>;

void gemm_region_avx2(const GemmRegion& g) { gemm_region_impl<Micro>(g); }

const gwas::KernelTable kTable = {
    "avx2",          Micro::MR,         Micro::NR,         Micro::MC, Micro::KC, Micro::NC,
    gemm_region_avx2, apply_rotations_impl<Avx2Rot>, tridiag_row_impl, dot_impl,  axpy_impl,
};

}  // namespace

const gwas::KernelTable* gwas::kernels_avx2() { return &kTable; }

#else

const gwas::KernelTable* gwas::kernels_avx2() { return nullptr; }

#endif
