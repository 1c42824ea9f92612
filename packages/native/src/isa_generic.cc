// Portable variant of the kernels: plain C++ that the compiler vectorises for the baseline ISA of the target
// (SSE2 on x86-64, NEON on aarch64). Always compiled; the fallback when no better ISA is available.
#include "kernels.h"
#include "gemm_impl.h"

namespace {

struct GenericMicro {
  static constexpr int MR = 4, NR = 8, MC = 128, KC = 256, NC = 4096;

  static void run(ptrdiff_t kc, const double* __restrict a, const double* __restrict b, double* c,
                  ptrdiff_t ldc, double scale) {
    double acc[MR][NR];
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < NR; ++j) acc[r][j] = 0.0;
    for (ptrdiff_t p = 0; p < kc; ++p) {
      for (int r = 0; r < MR; ++r) {
        const double ar = a[r];
        for (int j = 0; j < NR; ++j) acc[r][j] += ar * b[j];
      }
      a += MR;
      b += NR;
    }
    for (int r = 0; r < MR; ++r) {
      double* q = c + r * ldc;
      if (scale == 0.0) {
        for (int j = 0; j < NR; ++j) q[j] = acc[r][j];
      } else if (scale == 1.0) {
        for (int j = 0; j < NR; ++j) q[j] += acc[r][j];
      } else {
        for (int j = 0; j < NR; ++j) q[j] = scale * q[j] + acc[r][j];
      }
    }
  }
};

// Without a known vector width, plain two-row loops over wide blocks vectorise best.
struct GenericRot {
  static constexpr int W = 128;
  static void block(double* Zt, ptrdiff_t ld, ptrdiff_t c0, const Rotation* rot, size_t count) {
    for (size_t q = 0; q < count; ++q) {
      double* __restrict x = Zt + rot[q].i * ld + c0;  // row i
      double* __restrict y = x + ld;                   // row i + 1
      const double c = rot[q].c, s = rot[q].s;
      for (int t = 0; t < W; ++t) {
        const double xi = x[t], yi = y[t];
        y[t] = s * xi + c * yi;
        x[t] = c * xi - s * yi;
      }
    }
  }
};

void gemm_region_generic(const GemmRegion& g) { gemm_region_impl<GenericMicro>(g); }

const gwas::KernelTable kTable = {
    "generic",           GenericMicro::MR,  GenericMicro::NR,  GenericMicro::MC, GenericMicro::KC,
    GenericMicro::NC,    gemm_region_generic, apply_rotations_impl<GenericRot>, tridiag_row_impl, dot_impl,
    axpy_impl,
};

}  // namespace

const gwas::KernelTable* gwas::kernels_generic() { return &kTable; }
