// AVX-512 (x86-64-v4 level: AVX512F/DQ/VL + FMA) variant of the kernels.
// Compiled with -mavx2 -mfma -mavx512f -mavx512dq -mavx512vl (see binding.gyp); only called when the CPU
// reports these features (dispatch.cc).
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#include "gemm_impl.h"

namespace {

// MR rows × (8·NV) columns register tile: MR·NV zmm accumulators, NV zmm for the B row, broadcasts of A are
// folded into the FMAs. 8 × 16 (the size measured best on Zen 5) uses 16 + 2 of the 32 zmm registers.
template <int MR_, int NV, int MC_, int KC_, int NC_>
struct Avx512Micro {
  static constexpr int MR = MR_, NR = 8 * NV, MC = MC_, KC = KC_, NC = NC_;

  static void run(ptrdiff_t kc, const double* __restrict a, const double* __restrict b, double* c,
                  ptrdiff_t ldc, double scale) {
    __m512d acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_pd();
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);

#pragma GCC unroll 2
    for (ptrdiff_t p = 0; p < kc; ++p) {
      __m512d bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_pd(b + 8 * v);
      _mm_prefetch(reinterpret_cast<const char*>(a + 8 * MR), _MM_HINT_T0);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        const __m512d av = _mm512_set1_pd(a[r]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_pd(av, bv[v], acc[r][v]);
      }
      a += MR;
      b += NR;
    }

    if (scale == 0.0) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) _mm512_storeu_pd(c + r * ldc + 8 * v, acc[r][v]);
    } else if (scale == 1.0) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          double* q = c + r * ldc + 8 * v;
          _mm512_storeu_pd(q, _mm512_add_pd(_mm512_loadu_pd(q), acc[r][v]));
        }
    } else {
      const __m512d sv = _mm512_set1_pd(scale);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          double* q = c + r * ldc + 8 * v;
          _mm512_storeu_pd(q, _mm512_fmadd_pd(sv, _mm512_loadu_pd(q), acc[r][v]));
        }
    }
  }
};

// Rotations on 64-column blocks: 8 zmm carry the shared row, the other row streams through.
struct Avx512Rot {
  static constexpr int W = 64;
  static constexpr int V = W / 8;
  static void block(double* Zt, ptrdiff_t ld, ptrdiff_t c0, const Rotation* rot, size_t count) {
    __m512d carry[V];
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) carry[v] = _mm512_setzero_pd();  // (always loaded before use)
    ptrdiff_t cr = -1;
    for (size_t q = 0; q < count; ++q) {
      const ptrdiff_t i = static_cast<ptrdiff_t>(rot[q].i);
      const __m512d c = _mm512_set1_pd(rot[q].c), s = _mm512_set1_pd(rot[q].s);
      const double* rowi = Zt + i * ld + c0;
      double* rowj = Zt + (i + 1) * ld + c0;
      if (cr != i + 1) {
        if (cr >= 0) {
          double* dst = Zt + cr * ld + c0;
#pragma GCC unroll 16
          for (int v = 0; v < V; ++v) _mm512_storeu_pd(dst + 8 * v, carry[v]);
        }
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) carry[v] = _mm512_loadu_pd(rowj + 8 * v);
      }
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) {
        const __m512d x = _mm512_loadu_pd(rowi + 8 * v);
        _mm512_storeu_pd(rowj + 8 * v, _mm512_fmadd_pd(s, x, _mm512_mul_pd(c, carry[v])));
        carry[v] = _mm512_fmsub_pd(c, x, _mm512_mul_pd(s, carry[v]));
      }
      cr = i;
    }
    if (cr >= 0) {
      double* dst = Zt + cr * ld + c0;
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) _mm512_storeu_pd(dst + 8 * v, carry[v]);
    }
  }
};

#ifndef GWAS_AVX512_TILE
#define GWAS_AVX512_TILE 8, 2, 96, 256, 4080
#endif
using Micro = Avx512Micro<GWAS_AVX512_TILE>;

void gemm_region_avx512(const GemmRegion& g) { gemm_region_impl<Micro>(g); }

const gwas::KernelTable kTable = {
    "avx512",         Micro::MR,         Micro::NR,         Micro::MC, Micro::KC, Micro::NC,
    gemm_region_avx512, apply_rotations_impl<Avx512Rot>, tridiag_row_impl, dot_impl,  axpy_impl,
};

}  // namespace

const gwas::KernelTable* gwas::kernels_avx512() { return &kTable; }

#else

const gwas::KernelTable* gwas::kernels_avx512() { return nullptr; }

#endif
