// gwasgrid native kernels: the interface between the ISA-specific translation units and the rest.
//
// Every ISA variant (AVX-512, AVX2+FMA, generic) compiles the same driver code (gemm_impl.h) with its own
// micro-kernel and compiler flags, and exports one KernelTable. dispatch.cc picks one at load time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gwas {

// A strided view of a matrix operand: element (r, c) is ptr[r * rs + c * cs].
struct Operand {
  const double* ptr;
  std::ptrdiff_t rs;
  std::ptrdiff_t cs;
};

// One rectangular piece of C ← scale(C) + L·R to compute, in the coordinates of C.
//   L is M × K (rows i of C), R is K × N (columns j of C); C is row-major with leading dimension ldc.
//   Rows [i0, i1) and columns [j0, j1) of C are computed. With lower = true only elements with i ≥ j are
//   written (the rest of the region is neither read nor written).
//   beta: C ← beta·C + L·R; beta == 0 means C is not read (NaN/garbage in C is overwritten).
struct GemmRegion {
  Operand L;
  Operand R;
  double* C;
  std::ptrdiff_t ldc;
  std::ptrdiff_t K;
  std::ptrdiff_t i0, i1, j0, j1;
  bool lower;
  double beta;
};

// One Givens rotation of tql-style implicit QL: rows i and i+1 of Zt (eigenvectors as rows) become
//   Zt[i+1] ← s·Zt[i] + c·Zt[i+1],   Zt[i] ← c·Zt[i] − s·Zt[i+1].
struct Rotation {
  std::int64_t i;
  double c;
  double s;
};

struct KernelTable {
  const char* isa;  // "avx512", "avx2", "generic"
  int mr, nr;       // register tile
  int mc, kc, nc;   // cache blocking
  // Computes one region (single-threaded). Allocates its packing buffers; throws std::bad_alloc.
  void (*gemm_region)(const GemmRegion& g);
  // Applies rot[0..count) in order to columns [c0, c1) of the row-major matrix Zt (leading dimension ld).
  void (*apply_rotations)(double* Zt, std::ptrdiff_t ld, std::ptrdiff_t c0, std::ptrdiff_t c1,
                          const Rotation* rot, std::size_t count);
  // Fused step of the Householder tridiagonalisation on one row of the lower triangle (len elements):
  //   a[k] ← a[k] − fj·g[k] − gj·f[k];  returns Σ a[k]·u[k] (new a) and does p[k] += uj·a[k] (new a).
  double (*tridiag_row)(double* a, const double* f, const double* g, const double* u, double* p,
                        double fj, double gj, double uj, std::ptrdiff_t len);
  // dot(x, y) and y += alpha·x, used by the eigensolver's Householder steps.
  double (*dot)(const double* x, const double* y, std::ptrdiff_t len);
  void (*axpy)(double alpha, const double* x, double* y, std::ptrdiff_t len);
};

// The variants compiled into this binary (x86-64 only for avx512/avx2; nullptr when not compiled).
const KernelTable* kernels_avx512();
const KernelTable* kernels_avx2();
const KernelTable* kernels_generic();

}  // namespace gwas
