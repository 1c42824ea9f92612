// gwasgrid native linear algebra: threading, the symmetric rank-k update, the product, and the symmetric
// eigensolvers (LAPACKE dsyevd when built with it; otherwise our own Householder tridiagonalisation and
// implicit QL). The inner loops live in the ISA translation units and are reached through KernelTable.
#include "linalg.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <limits>
#include <new>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

// Build with -DGWAS_PROFILE to print the time of each phase of the own eigensolver to stderr.
#ifdef GWAS_PROFILE
#include <chrono>
#include <cstdio>
#define PROFILE_START() auto prof_t0 = std::chrono::steady_clock::now()
#define PROFILE_MARK(label)                                                                      \
  do {                                                                                           \
    const auto prof_now = std::chrono::steady_clock::now();                                      \
    std::fprintf(stderr, "syev_own %s: %.3f s\n", label,                                        \
                 std::chrono::duration<double>(prof_now - prof_t0).count());                     \
    prof_t0 = prof_now;                                                                          \
  } while (0)
#else
#define PROFILE_START() \
  do {                  \
  } while (0)
#define PROFILE_MARK(label) \
  do {                      \
  } while (0)
#endif

#ifdef GWAS_HAVE_LAPACKE
#include <complex>
#define LAPACK_COMPLEX_CPP
#include <lapacke.h>
// OpenBLAS's thread-count API; weak so that a LAPACKE linked against another BLAS still loads.
extern "C" {
void openblas_set_num_threads(int) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));
}
#endif

namespace gwas {
namespace {

using std::int64_t;
using std::ptrdiff_t;

constexpr int kMaxThreads = 64;

int clamp_threads(int requested, int fallback) {
  int t = requested > 0 ? requested : fallback;
  if (t < 1) t = 1;
  if (t > kMaxThreads) t = kMaxThreads;
  return t;
}

// Runs f(0) … f(T−1), f(0) on the calling thread and the rest on std::threads; rethrows the first exception.
// If a thread cannot be created, its share runs on the calling thread instead.
template <class F>
void run_parallel(int T, F&& f) {
  if (T <= 1) {
    f(0);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(T));
  std::vector<std::thread> pool;
  std::vector<int> inline_parts;
  pool.reserve(static_cast<size_t>(T));
  for (int t = 1; t < T; ++t) {
    try {
      pool.emplace_back([&f, &errors, t] {
        try {
          f(t);
        } catch (...) {
          errors[static_cast<size_t>(t)] = std::current_exception();
        }
      });
    } catch (...) {
      inline_parts.push_back(t);
    }
  }
  try {
    f(0);
    for (int t : inline_parts) f(t);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

int64_t round_up(int64_t x, int64_t m) { return ((x + m - 1) / m) * m; }

// Number of threads worth using for `flops` of product work split into pieces of at least `min_rows` rows.
int useful_threads(int T, double flops, int64_t rows, int64_t min_rows) {
  if (flops < 2e7) return 1;  // < ~1 ms of work: threads cost more than they give
  const int64_t by_rows = std::max<int64_t>(1, rows / std::max<int64_t>(1, min_rows));
  return static_cast<int>(std::min<int64_t>(T, by_rows));
}

constexpr ptrdiff_t kTile = 64;  // blocking for the transposed O(n²) passes

}  // namespace

// Products default to one thread: on the measured machines the two vCPUs share one core's FP units, so a
// second thread gives at most ~1.2x on these compute-bound kernels (and nothing when the machine is busy),
// while gwasgrid usually runs one worker per core. GWASGRID_NATIVE_THREADS or the `threads` argument override.
int default_gemm_threads() {
  if (const char* env = std::getenv("GWASGRID_NATIVE_THREADS")) {
    const int t = std::atoi(env);
    if (t > 0) return clamp_threads(t, 1);
  }
  return 1;
}

// The own eigensolver's phases are memory-bound, where a second thread helps (up to ~1.7x measured).
int default_eigen_threads() {
  const unsigned hc = std::thread::hardware_concurrency();
  return clamp_threads(static_cast<int>(hc == 0 ? 1 : std::min(hc, 2u)), 1);
}

void syrk_t(const KernelTable* kt, int64_t n, int64_t k, const double* A, double* C, double beta, int threads) {
  if (n <= 0) return;
  const ptrdiff_t N = n;

  // Upper triangle: C_up ← beta·(C_up − C_low) now, C_up ← C_up + C_low_new after the update, which equals
  // beta·C_up + (AᵀA)_up for any C and is exactly the mirror when C is symmetric.
  if (beta != 0.0) {
    for (ptrdiff_t ib = 0; ib < N; ib += kTile)
      for (ptrdiff_t jb = 0; jb <= ib; jb += kTile)
        for (ptrdiff_t i = ib; i < std::min(N, ib + kTile); ++i)
          for (ptrdiff_t j = jb; j < std::min(i, jb + kTile); ++j)
            C[j * N + i] = beta * C[j * N + i] - beta * C[i * N + j];
  }

  const int T = useful_threads(clamp_threads(threads, default_gemm_threads()),
                               static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(k), n,
                               4 * kt->mr);
  // Equal-area split of the lower triangle: rows [b_t, b_{t+1}), columns [0, b_{t+1}).
  std::vector<int64_t> bounds(static_cast<size_t>(T) + 1);
  for (int t = 0; t <= T; ++t) {
    const double frac = std::sqrt(static_cast<double>(t) / T);
    bounds[static_cast<size_t>(t)] = t == T ? n : std::min<int64_t>(n, round_up(static_cast<int64_t>(frac * n), kt->mr));
  }
  run_parallel(T, [&](int t) {
    GemmRegion g{};
    g.L = Operand{A, 1, N};  // L = Aᵀ: element (i, p) = A[p·n + i]
    g.R = Operand{A, N, 1};  // R = A:  element (p, j) = A[p·n + j]
    g.C = C;
    g.ldc = N;
    g.K = k;
    g.i0 = bounds[static_cast<size_t>(t)];
    g.i1 = bounds[static_cast<size_t>(t) + 1];
    g.j0 = 0;
    g.j1 = g.i1;
    g.lower = true;
    g.beta = beta;
    kt->gemm_region(g);
  });

  for (ptrdiff_t ib = 0; ib < N; ib += kTile)
    for (ptrdiff_t jb = 0; jb <= ib; jb += kTile)
      for (ptrdiff_t i = ib; i < std::min(N, ib + kTile); ++i)
        for (ptrdiff_t j = jb; j < std::min(i, jb + kTile); ++j)
          C[j * N + i] = (beta != 0.0 ? C[j * N + i] : 0.0) + C[i * N + j];
}

namespace {

// C(M×N) ← beta·C + L·R on T threads, splitting C's rows (or columns when it is wider than tall) into
// register-tile-aligned pieces.
void parallel_product(const KernelTable* kt, int threads, const Operand& L, const Operand& R, double* C,
                      ptrdiff_t ldc, int64_t M, int64_t N, int64_t K, double beta) {
  if (M <= 0 || N <= 0) return;
  const bool split_rows = M >= N;
  const int T = useful_threads(threads, 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K),
                               split_rows ? M : N, split_rows ? 4 * kt->mr : 4 * kt->nr);
  const int64_t unit = split_rows ? kt->mr : kt->nr;
  const int64_t extent = split_rows ? M : N;
  const int64_t chunk = round_up((extent + T - 1) / T, unit);
  run_parallel(T, [&](int t) {
    const int64_t lo = std::min<int64_t>(extent, t * chunk);
    const int64_t hi = std::min<int64_t>(extent, lo + chunk);
    if (lo >= hi) return;
    GemmRegion g{};
    g.L = L;
    g.R = R;
    g.C = C;
    g.ldc = ldc;
    g.K = K;
    g.i0 = split_rows ? lo : 0;
    g.i1 = split_rows ? hi : M;
    g.j0 = split_rows ? 0 : lo;
    g.j1 = split_rows ? N : hi;
    g.lower = false;
    g.beta = beta;
    kt->gemm_region(g);
  });
}

}  // namespace

void gemm(const KernelTable* kt, int64_t m, int64_t n, int64_t k, const double* A, const double* B, double* C,
          double beta, int threads) {
  parallel_product(kt, clamp_threads(threads, default_gemm_threads()), Operand{A, k, 1}, Operand{B, n, 1}, C, n, m,
                   n, k, beta);
}

// ---- eigensolvers -------------------------------------------------------------------------------------------

bool have_lapacke() {
#ifdef GWAS_HAVE_LAPACKE
  return true;
#else
  return false;
#endif
}

int openblas_threads() {
#ifdef GWAS_HAVE_LAPACKE
  if (openblas_get_num_threads) return openblas_get_num_threads();
#endif
  return 0;
}

namespace {

// In-place transpose of a square row-major matrix, blocked.
void transpose_square(double* a, ptrdiff_t N) {
  for (ptrdiff_t ib = 0; ib < N; ib += kTile)
    for (ptrdiff_t jb = 0; jb <= ib; jb += kTile)
      for (ptrdiff_t i = ib; i < std::min(N, ib + kTile); ++i)
        for (ptrdiff_t j = jb; j < std::min(i, jb + kTile); ++j) std::swap(a[i * N + j], a[j * N + i]);
}

#ifdef GWAS_HAVE_LAPACKE
std::string syev_lapacke(int64_t n, double* a, double* w, int threads) {
  if (threads > 0 && openblas_set_num_threads) openblas_set_num_threads(threads);
  // Row-major upper triangle = column-major lower triangle of the same memory; calling the column-major
  // interface avoids LAPACKE's n² row-major transposition copy. The column-major eigenvectors are then
  // transposed in place into the row-major "eigenvectors as columns" layout.
  const lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', static_cast<lapack_int>(n), a,
                                         static_cast<lapack_int>(n), w);
  if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR) throw std::bad_alloc();
  if (info > 0) return "dsyevd did not converge (info = " + std::to_string(info) + ")";
  if (info < 0) return "dsyevd rejected argument " + std::to_string(-info);
  transpose_square(a, static_cast<ptrdiff_t>(n));
  return "";
}
#endif

// Householder reduction of the symmetric matrix (lower triangle of `a`, row-major) to tridiagonal form
// T = Qᵀ A Q, from the last row upwards. On return d holds T's diagonal, e[i] = T[i][i−1] (i ≥ 1), and row i
// of `a` holds, in its first i elements, the Householder vector u_i of H_i = I − u uᵀ / h[i] (h[i] = 0: none).
//
// The rank-2 update of step i+1 and the symmetric product p = A·u of step i are fused into a single pass
// over the lower triangle (each element is read and written once per step), which halves memory traffic.
void tridiagonalise(const KernelTable* kt, ptrdiff_t N, double* a, std::vector<double>& d,
                    std::vector<double>& e, std::vector<double>& h, int T) {
  std::vector<double> P(static_cast<size_t>(N), 0.0), Q(static_cast<size_t>(N), 0.0);
  std::vector<double> Pextra(static_cast<size_t>(T > 1 ? T - 1 : 0) * static_cast<size_t>(N));
  const double* prevU = nullptr;  // u of the previous step (row i+1 of a); its q is in Q
  for (ptrdiff_t i = N - 1; i >= 0; --i) {
    double* row = a + i * N;
    if (prevU) {
      for (ptrdiff_t k = 0; k <= i; ++k) row[k] -= prevU[i] * Q[k] + Q[i] * prevU[k];
    }
    d[i] = row[i];
    if (i == 0) break;

    double hi = 0.0;
    if (i == 1) {
      e[1] = row[0];
    } else {
      double scale = 0.0;
      for (ptrdiff_t k = 0; k < i; ++k) scale += std::fabs(row[k]);
      if (scale == 0.0) {
        e[i] = 0.0;
      } else {
        const double inv = 1.0 / scale;
        double sigma2 = 0.0;
        for (ptrdiff_t k = 0; k < i; ++k) {
          row[k] *= inv;
          sigma2 += row[k] * row[k];
        }
        const double f = row[i - 1];
        const double g = f >= 0.0 ? -std::sqrt(sigma2) : std::sqrt(sigma2);
        e[i] = scale * g;
        hi = sigma2 - f * g;
        row[i - 1] = f - g;
      }
    }
    h[i] = hi;

    const double* u = row;  // u_i in row[0, i)
    // Rows [j0, j1): apply the previous step's rank-2 update and accumulate Pl += A·u (lower triangle).
    auto rows = [&](ptrdiff_t j0, ptrdiff_t j1, double* Pl) {
      for (ptrdiff_t j = j0; j < j1; ++j) {
        double* rj = a + j * N;
        if (prevU && hi != 0.0) {
          const double dv = kt->tridiag_row(rj, prevU, Q.data(), u, Pl, prevU[j], Q[j], u[j], j);
          rj[j] -= 2.0 * prevU[j] * Q[j];
          Pl[j] += dv + rj[j] * u[j];
        } else if (prevU) {
          for (ptrdiff_t k = 0; k <= j; ++k) rj[k] -= prevU[j] * Q[k] + Q[j] * prevU[k];
        } else if (hi != 0.0) {
          const double dv = kt->dot(rj, u, j);
          kt->axpy(u[j], rj, Pl, j);
          Pl[j] += dv + rj[j] * u[j];
        }
      }
    };
    if (hi != 0.0) std::fill(P.begin(), P.begin() + i, 0.0);
    // The pass is memory-bound, and a thread start per step costs ~0.1–1 ms on a busy machine: only worth it
    // for large triangles.
    const int TT = i >= 1536 ? T : 1;
    if (TT <= 1) {
      rows(0, i, P.data());
    } else {
      // Equal-area row bands; band t accumulates into its own P (band 0 into P), summed afterwards.
      std::vector<ptrdiff_t> band(static_cast<size_t>(TT) + 1);
      for (int t = 0; t <= TT; ++t) band[t] = t == TT ? i : static_cast<ptrdiff_t>(i * std::sqrt(double(t) / TT));
      run_parallel(TT, [&](int t) {
        double* Pl = t == 0 ? P.data() : Pextra.data() + (t - 1) * N;
        if (t > 0) std::fill(Pl, Pl + band[t + 1], 0.0);
        rows(band[t], band[t + 1], Pl);
      });
      if (hi != 0.0)
        for (int t = 1; t < TT; ++t) {
          const double* Pl = Pextra.data() + (t - 1) * N;
          for (ptrdiff_t k = 0; k < band[t + 1]; ++k) P[k] += Pl[k];
        }
    }
    if (hi != 0.0) {
      const double invh = 1.0 / hi;
      for (ptrdiff_t k = 0; k < i; ++k) P[k] *= invh;
      const double K = kt->dot(u, P.data(), i) * 0.5 * invh;
      for (ptrdiff_t k = 0; k < i; ++k) Q[k] = P[k] - K * u[k];
      prevU = u;
    } else {
      prevU = nullptr;
    }
  }
}

// Implicit QL with Wilkinson-type shifts on the tridiagonal (d, e) (e[i] couples i and i+1 here), recording
// every plane rotation and applying them in batches to the rows of Zt: each batch is applied one column block
// at a time so that the block stays in cache, and column blocks are shared among threads.
std::string ql_implicit(const KernelTable* kt, ptrdiff_t N, std::vector<double>& d, std::vector<double>& e,
                        double* Zt, int T) {
  const size_t capacity = std::max<size_t>(static_cast<size_t>(1) << 17, 2 * static_cast<size_t>(N));
  std::vector<Rotation> rot;
  rot.reserve(capacity);
  constexpr ptrdiff_t kCols = 32;
  auto flush = [&] {
    if (rot.empty()) return;
    const ptrdiff_t blocks = (N + kCols - 1) / kCols;
    const int TT = static_cast<int>(std::min<ptrdiff_t>(T, blocks));
    run_parallel(TT, [&](int t) {
      const ptrdiff_t b0 = blocks * t / TT, b1 = blocks * (t + 1) / TT;
      for (ptrdiff_t b = b0; b < b1; ++b) {
        const ptrdiff_t c0 = b * kCols, c1 = std::min(N, c0 + kCols);
        kt->apply_rotations(Zt, N, c0, c1, rot.data(), rot.size());
      }
    });
    rot.clear();
  };

  const double eps = std::numeric_limits<double>::epsilon();
  double shift_sum = 0.0, tst1 = 0.0;
  for (ptrdiff_t l = 0; l < N; ++l) {
    tst1 = std::max(tst1, std::fabs(d[l]) + std::fabs(e[l]));
    ptrdiff_t m = l;
    while (m < N - 1 && std::fabs(e[m]) > eps * tst1) ++m;
    if (m > l) {
      int iter = 0;
      do {
        if (++iter > 60) return "the QL iteration did not converge";
        // Shift from the leading 2 × 2 block.
        double g = d[l];
        double p = (d[l + 1] - g) / (2.0 * e[l]);
        double r = std::hypot(p, 1.0);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const double dl1 = d[l + 1];
        double hshift = g - d[l];
        for (ptrdiff_t i = l + 2; i < N; ++i) d[i] -= hshift;
        shift_sum += hshift;

        if (rot.size() + static_cast<size_t>(m - l) > capacity) flush();
        p = d[m];
        double c = 1.0, c2 = 1.0, c3 = 1.0, s = 0.0, s2 = 0.0;
        const double el1 = e[l + 1];
        for (ptrdiff_t i = m - 1; i >= l; --i) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          const double hh = c * p;
          r = std::hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = hh + s * (c * g + s * d[i]);
          rot.push_back(Rotation{static_cast<int64_t>(i), c, s});
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (std::fabs(e[l]) > eps * tst1);
    }
    d[l] += shift_sum;
    e[l] = 0.0;
  }
  flush();
  return "";
}

std::string syev_own(const KernelTable* kt, int64_t n, double* a, double* w, int threads) {
  const ptrdiff_t N = n;
  if (N == 1) {
    w[0] = a[0];
    a[0] = 1.0;
    return "";
  }
  const int T = clamp_threads(threads, default_eigen_threads());
  PROFILE_START();
  std::vector<double> d(static_cast<size_t>(N)), e(static_cast<size_t>(N), 0.0), h(static_cast<size_t>(N), 0.0);
  tridiagonalise(kt, N, a, d, e, h, T);
  PROFILE_MARK("tridiagonalise");

  // Zt ← Qᵀ = H_2 H_3 ⋯ H_{n−1}, accumulated left to right in blocks of nb reflectors written in compact WY
  // form H_{i0} ⋯ H_{i1−1} = I − V·T·Vᵀ, so that the work is two products with the packed kernel:
  // Zt ← Zt − ((Zt·V)·T)·Vᵀ. Before block [i0, i1) is applied, Zt differs from the identity only in its leading
  // (i0−1)² block and V's rows from i1−1 on are zero, so only Zt's leading (i1−1)² block changes.
  std::vector<double> zt(static_cast<size_t>(N) * static_cast<size_t>(N), 0.0);
  double* Zt = zt.data();
  for (ptrdiff_t i = 0; i < N; ++i) Zt[i * N + i] = 1.0;
  constexpr ptrdiff_t nb = 32;
  std::vector<double> V(static_cast<size_t>(N) * nb), W(static_cast<size_t>(N) * nb), Tm(nb * nb), G(nb * nb),
      tmp(nb);
  for (ptrdiff_t i0 = 2; i0 < N; i0 += nb) {
    const ptrdiff_t i1 = std::min(N, i0 + nb), b = i1 - i0, L = i1 - 1;
    for (ptrdiff_t r = 0; r < L; ++r)
      for (ptrdiff_t j = 0; j < b; ++j) V[r * b + j] = r < i0 + j ? a[(i0 + j) * N + r] : 0.0;
    // G = VᵀV (upper part), then T column by column: T[j][j] = τ_j, T[0:j, j] = −τ_j·T[0:j, 0:j]·G[0:j, j].
    for (ptrdiff_t p = 0; p < b; ++p)
      for (ptrdiff_t j = p + 1; j < b; ++j) {
        double g = 0.0;
        for (ptrdiff_t r = 0; r < L; ++r) g += V[r * b + p] * V[r * b + j];
        G[p * b + j] = g;
      }
    for (ptrdiff_t j = 0; j < b; ++j) {
      const double tau = h[i0 + j] != 0.0 ? 1.0 / h[i0 + j] : 0.0;
      for (ptrdiff_t p = 0; p < j; ++p) {
        double t = 0.0;
        for (ptrdiff_t q = p; q < j; ++q) t += Tm[p * b + q] * G[q * b + j];
        tmp[p] = t;
      }
      for (ptrdiff_t p = 0; p < j; ++p) Tm[p * b + j] = -tau * tmp[p];
      Tm[j * b + j] = tau;
      for (ptrdiff_t p = j + 1; p < b; ++p) Tm[p * b + j] = 0.0;
    }
    // W = Zt[0:L, 0:L]·V, then W ← −W·T.
    parallel_product(kt, T, Operand{Zt, N, 1}, Operand{V.data(), b, 1}, W.data(), b, L, b, L, 0.0);
    for (ptrdiff_t r = 0; r < L; ++r) {
      double* w = W.data() + r * b;
      for (ptrdiff_t j = 0; j < b; ++j) {
        double t = 0.0;
        for (ptrdiff_t p = 0; p <= j; ++p) t += w[p] * Tm[p * b + j];
        tmp[j] = t;
      }
      for (ptrdiff_t j = 0; j < b; ++j) w[j] = -tmp[j];
    }
    // Zt[0:L, 0:L] += W·Vᵀ  (Vᵀ element (p, j) = V[j·b + p]).
    parallel_product(kt, T, Operand{W.data(), b, 1}, Operand{V.data(), 1, b}, Zt, N, L, L, b, 1.0);
  }

  PROFILE_MARK("form Q");
  // (d, e) with e[i] coupling i and i+1.
  for (ptrdiff_t i = 1; i < N; ++i) e[i - 1] = e[i];
  e[N - 1] = 0.0;
  std::string err = ql_implicit(kt, N, d, e, Zt, T);
  if (!err.empty()) return err;
  PROFILE_MARK("QL");

  // Ascending order; a[i·n + j] = component i of eigenvector j = Zt[perm[j]][i].
  std::vector<ptrdiff_t> perm(static_cast<size_t>(N));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](ptrdiff_t x, ptrdiff_t y) { return d[x] < d[y]; });
  for (ptrdiff_t j = 0; j < N; ++j) w[j] = d[perm[j]];
  for (ptrdiff_t ib = 0; ib < N; ib += kTile)
    for (ptrdiff_t jb = 0; jb < N; jb += kTile)
      for (ptrdiff_t j = jb; j < std::min(N, jb + kTile); ++j) {
        const double* src = Zt + perm[j] * N;
        for (ptrdiff_t i = ib; i < std::min(N, ib + kTile); ++i) a[i * N + j] = src[i];
      }
  return "";
}

}  // namespace

std::string syev(const KernelTable* kt, int64_t n, double* a, double* w, int threads, EigenSolver solver,
                 const char** solver_used) {
  *solver_used = "tql";
  if (n <= 0) return "";
  // Both solvers read one triangle; reject non-finite input up front (LAPACK would only report "argument 5").
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (!std::isfinite(a[i * n + j])) return "the matrix contains NaN or infinite values";
#ifdef GWAS_HAVE_LAPACKE
  // dsyevd's workspace (1 + 6n + 2n² doubles) must be addressable with 32-bit LAPACK integers.
  const bool lapacke_fits = 1.0 + 6.0 * n + 2.0 * static_cast<double>(n) * n <
                            static_cast<double>(std::numeric_limits<lapack_int>::max());
  if (solver != EigenSolver::Own && lapacke_fits) {
    *solver_used = "dsyevd";
    return syev_lapacke(n, a, w, threads);
  }
  if (solver == EigenSolver::Lapacke) return "n is too large for 32-bit LAPACK workspace sizes";
#else
  if (solver == EigenSolver::Lapacke) return "this build has no LAPACKE";
#endif
  return syev_own(kt, n, a, w, threads);
}

}  // namespace gwas
