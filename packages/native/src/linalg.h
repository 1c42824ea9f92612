// gwasgrid native linear algebra: the operations exposed to JavaScript (ISA-independent layer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels.h"

namespace gwas {

// ---- ISA dispatch -------------------------------------------------------------------------------------------

// The kernel table in use. Chosen once at load time (best supported ISA, or GWASGRID_NATIVE_ISA if set to a
// supported name), changeable with set_isa.
const KernelTable* active_kernels();
// Comma-separated list of the variants this CPU can run, best first (e.g. "avx2,generic").
std::string supported_isas();
// Selects a variant by name; returns false (and changes nothing) if unknown or unsupported by this CPU.
bool set_isa(const std::string& name);

// ---- operations ---------------------------------------------------------------------------------------------
// All matrices are dense row-major. `kt` is the kernel variant to use (normally active_kernels(), read once
// on the calling thread so that set_isa cannot change it mid-call). `threads` ≤ 0 means the default.
// Throw std::bad_alloc when out of memory.

// C(n×n) ← beta·C + Aᵀ·A with A k × n. Computes the lower triangle with the packed kernel and mirrors it, so
// both triangles are written; the upper triangle of C is read only when beta ≠ 0. O(n²·k) flops.
void syrk_t(const KernelTable* kt, std::int64_t n, std::int64_t k, const double* A, double* C, double beta, int threads);

// C(m×n) ← A(m×k)·B(k×n) + beta·C. O(2·m·n·k) flops. C must not overlap A or B.
void gemm(const KernelTable* kt, std::int64_t m, std::int64_t n, std::int64_t k, const double* A, const double* B, double* C,
          double beta, int threads);

enum class EigenSolver { Auto, Lapacke, Own };

// Symmetric eigendecomposition of the n × n matrix `a` (only its lower triangle in row-major terms — i ≥ j —
// is read by the own solver, the upper by LAPACK; pass a symmetric matrix). On success `a` holds the
// eigenvectors as columns (a[i·n + j] = component i of eigenvector j), `w` the eigenvalues ascending, and
// the return value is empty; otherwise it is an error message and `a`/`w` are unspecified. O(n³).
// `solver_used` receives "dsyevd" or "tql".
std::string syev(const KernelTable* kt, std::int64_t n, double* a, double* w, int threads, EigenSolver solver,
                 const char** solver_used);

// ---- configuration ------------------------------------------------------------------------------------------

bool have_lapacke();
int default_gemm_threads();
int default_eigen_threads();
// Threads OpenBLAS will use for dsyevd (0 if unknown / not OpenBLAS).
int openblas_threads();

}  // namespace gwas
