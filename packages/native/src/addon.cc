// N-API bindings of the gwasgrid native kernels (plain C N-API: needs only node_api.h, no npm dependency).
//
// Exports (all matrices dense, row-major Float64Array; dimensions are non-negative integer Numbers):
//   syrkT(n, k, a, c, beta, threads?)            → Promise<void>   C(n×n) ← beta·C + Aᵀ·A, A k × n
//   gemm(m, n, k, a, b, c, beta, threads?)       → Promise<void>   C(m×n) ← A(m×k)·B(k×n) + beta·C
//   syev(n, a, w, threads?, solver?)             → Promise<string> eigenvectors into a (as columns),
//                                                                  eigenvalues ascending into w; resolves
//                                                                  with the solver used: "dsyevd" | "tql"
//   syrkTSync / gemmSync / syevSync: the same, synchronously (for small sizes and tests).
//   info() → { isa, supportedIsas, lapacke, defaultThreads, defaultEigenThreads, openblasThreads,
//             tile: { mr, nr, mc, kc, nc } }
//   setIsa(name) → boolean
// Arguments are validated before any work: wrong types throw TypeError, bad sizes/overlaps RangeError.
// The async versions run on the libuv thread pool and keep the arrays referenced until they settle; the
// caller must not read or write them (or detach their buffers) meanwhile.
#define NAPI_VERSION 8
#include <node_api.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "linalg.h"

namespace {

// ---- small N-API helpers ------------------------------------------------------------------------------------

struct JsError {
  enum Kind { Type, Range, Plain } kind;
  std::string message;
};

void throw_js(napi_env env, const JsError& e) {
  switch (e.kind) {
    case JsError::Type:
      napi_throw_type_error(env, nullptr, e.message.c_str());
      break;
    case JsError::Range:
      napi_throw_range_error(env, nullptr, e.message.c_str());
      break;
    default:
      napi_throw_error(env, nullptr, e.message.c_str());
  }
}

#define CHECK_NAPI(env, call)                                                   \
  do {                                                                          \
    if ((call) != napi_ok) throw JsError{JsError::Plain, "N-API call failed: " #call}; \
  } while (0)

struct Args {
  size_t argc = 0;
  napi_value argv[8] = {};
};

Args get_args(napi_env env, napi_callback_info info) {
  Args a;
  a.argc = 8;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &a.argc, a.argv, nullptr, nullptr));
  return a;
}

napi_valuetype type_of(napi_env env, napi_value v) {
  napi_valuetype t;
  CHECK_NAPI(env, napi_typeof(env, v, &t));
  return t;
}

bool is_missing(napi_env env, const Args& a, size_t i) {
  if (i >= a.argc) return true;
  const napi_valuetype t = type_of(env, a.argv[i]);
  return t == napi_undefined || t == napi_null;
}

constexpr double kMaxDim = 2147483647.0;  // 2^31 − 1 per dimension

int64_t get_dim(napi_env env, const Args& a, size_t i, const char* op, const char* name) {
  if (i >= a.argc || type_of(env, a.argv[i]) != napi_number)
    throw JsError{JsError::Type, std::string(op) + ": " + name + " must be a number"};
  double v;
  CHECK_NAPI(env, napi_get_value_double(env, a.argv[i], &v));
  if (!(v >= 0) || v > kMaxDim || std::floor(v) != v)
    throw JsError{JsError::Range, std::string(op) + ": " + name + " must be an integer in [0, 2^31 - 1]"};
  return static_cast<int64_t>(v);
}

double get_finite(napi_env env, const Args& a, size_t i, const char* op, const char* name) {
  if (i >= a.argc || type_of(env, a.argv[i]) != napi_number)
    throw JsError{JsError::Type, std::string(op) + ": " + name + " must be a number"};
  double v;
  CHECK_NAPI(env, napi_get_value_double(env, a.argv[i], &v));
  if (!std::isfinite(v)) throw JsError{JsError::Range, std::string(op) + ": " + name + " must be finite"};
  return v;
}

int get_threads(napi_env env, const Args& a, size_t i, const char* op) {
  if (is_missing(env, a, i)) return 0;
  if (type_of(env, a.argv[i]) != napi_number)
    throw JsError{JsError::Type, std::string(op) + ": threads must be a number"};
  double v;
  CHECK_NAPI(env, napi_get_value_double(env, a.argv[i], &v));
  if (!(v >= 0) || v > 64 || std::floor(v) != v)
    throw JsError{JsError::Range, std::string(op) + ": threads must be an integer in [0, 64] (0 = default)"};
  return static_cast<int>(v);
}

struct F64 {
  double* data = nullptr;
  size_t length = 0;
  napi_value value = nullptr;
};

F64 get_f64(napi_env env, const Args& a, size_t i, const char* op, const char* name, double needed) {
  F64 out;
  bool is_ta = false;
  if (i < a.argc) CHECK_NAPI(env, napi_is_typedarray(env, a.argv[i], &is_ta));
  if (!is_ta) throw JsError{JsError::Type, std::string(op) + ": " + name + " must be a Float64Array"};
  napi_typedarray_type type;
  void* data = nullptr;
  CHECK_NAPI(env, napi_get_typedarray_info(env, a.argv[i], &type, &out.length, &data, nullptr, nullptr));
  if (type != napi_float64_array)
    throw JsError{JsError::Type, std::string(op) + ": " + name + " must be a Float64Array"};
  if (static_cast<double>(out.length) < needed) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s: %s has %zu elements, needs %.0f", op, name, out.length, needed);
    throw JsError{JsError::Range, buf};
  }
  if (needed > 0 && data == nullptr)
    throw JsError{JsError::Range, std::string(op) + ": " + name + " is detached"};
  out.data = static_cast<double*>(data);
  out.value = a.argv[i];
  return out;
}

void check_disjoint(const char* op, const char* xn, const double* x, double xlen, const char* yn,
                    const double* y, double ylen) {
  if (xlen <= 0 || ylen <= 0) return;
  const auto xa = reinterpret_cast<std::uintptr_t>(x), ya = reinterpret_cast<std::uintptr_t>(y);
  const auto xb = xa + static_cast<std::uintptr_t>(xlen) * sizeof(double);
  const auto yb = ya + static_cast<std::uintptr_t>(ylen) * sizeof(double);
  if (xa < yb && ya < xb)
    throw JsError{JsError::Range, std::string(op) + ": " + xn + " must not overlap " + yn};
}

// ---- operations ---------------------------------------------------------------------------------------------

// One validated call, runnable on any thread. `run` returns an error message or "" and may throw bad_alloc.
struct Job {
  enum Op { Syrk, Gemm, Syev } op;
  int64_t m = 0, n = 0, k = 0;
  double beta = 0;
  int threads = 0;
  gwas::EigenSolver solver = gwas::EigenSolver::Auto;
  const gwas::KernelTable* kt = gwas::active_kernels();  // fixed when the call is made
  double *a = nullptr, *b = nullptr, *c = nullptr;
  const char* solver_used = "";
  napi_value values[4] = {};  // the arrays to keep alive (async)
  size_t nvalues = 0;

  std::string run() {
    try {
      switch (op) {
        case Syrk:
          gwas::syrk_t(kt, n, k, a, c, beta, threads);
          return "";
        case Gemm:
          gwas::gemm(kt, m, n, k, a, b, c, beta, threads);
          return "";
        case Syev:
          return gwas::syev(kt, n, a, c, threads, solver, &solver_used);
      }
    } catch (const std::bad_alloc&) {
      return "out of memory";
    } catch (const std::exception& e) {
      return std::string("native error: ") + e.what();
    } catch (...) {
      return "unknown native error";
    }
    return "";
  }
};

Job parse_syrk(napi_env env, const Args& a) {
  const char* op = "syrkT";
  Job j;
  j.op = Job::Syrk;
  j.n = get_dim(env, a, 0, op, "n");
  j.k = get_dim(env, a, 1, op, "k");
  const double na = static_cast<double>(j.k) * j.n, nc = static_cast<double>(j.n) * j.n;
  F64 A = get_f64(env, a, 2, op, "a", na);
  F64 C = get_f64(env, a, 3, op, "c", nc);
  j.beta = get_finite(env, a, 4, op, "beta");
  j.threads = get_threads(env, a, 5, op);
  check_disjoint(op, "c", C.data, nc, "a", A.data, na);
  j.a = A.data;
  j.c = C.data;
  j.values[0] = A.value;
  j.values[1] = C.value;
  j.nvalues = 2;
  return j;
}

Job parse_gemm(napi_env env, const Args& a) {
  const char* op = "gemm";
  Job j;
  j.op = Job::Gemm;
  j.m = get_dim(env, a, 0, op, "m");
  j.n = get_dim(env, a, 1, op, "n");
  j.k = get_dim(env, a, 2, op, "k");
  const double na = static_cast<double>(j.m) * j.k, nb = static_cast<double>(j.k) * j.n,
               nc = static_cast<double>(j.m) * j.n;
  F64 A = get_f64(env, a, 3, op, "a", na);
  F64 B = get_f64(env, a, 4, op, "b", nb);
  F64 C = get_f64(env, a, 5, op, "c", nc);
  j.beta = get_finite(env, a, 6, op, "beta");
  j.threads = get_threads(env, a, 7, op);
  check_disjoint(op, "c", C.data, nc, "a", A.data, na);
  check_disjoint(op, "c", C.data, nc, "b", B.data, nb);
  j.a = A.data;
  j.b = B.data;
  j.c = C.data;
  j.values[0] = A.value;
  j.values[1] = B.value;
  j.values[2] = C.value;
  j.nvalues = 3;
  return j;
}

Job parse_syev(napi_env env, const Args& a) {
  const char* op = "syev";
  Job j;
  j.op = Job::Syev;
  j.n = get_dim(env, a, 0, op, "n");
  const double na = static_cast<double>(j.n) * j.n;
  F64 A = get_f64(env, a, 1, op, "a", na);
  F64 W = get_f64(env, a, 2, op, "w", static_cast<double>(j.n));
  j.threads = get_threads(env, a, 3, op);
  if (!is_missing(env, a, 4)) {
    if (type_of(env, a.argv[4]) != napi_string) throw JsError{JsError::Type, "syev: solver must be a string"};
    char buf[16];
    size_t len = 0;
    CHECK_NAPI(env, napi_get_value_string_utf8(env, a.argv[4], buf, sizeof buf, &len));
    const std::string s(buf, len);
    if (s == "auto") j.solver = gwas::EigenSolver::Auto;
    else if (s == "lapacke") j.solver = gwas::EigenSolver::Lapacke;
    else if (s == "own") j.solver = gwas::EigenSolver::Own;
    else throw JsError{JsError::Range, "syev: solver must be 'auto', 'lapacke' or 'own'"};
  }
  check_disjoint(op, "w", W.data, static_cast<double>(j.n), "a", A.data, na);
  j.a = A.data;
  j.c = W.data;
  j.values[0] = A.value;
  j.values[1] = W.value;
  j.nvalues = 2;
  return j;
}

napi_value result_value(napi_env env, const Job& j) {
  napi_value v;
  if (j.op == Job::Syev) {
    CHECK_NAPI(env, napi_create_string_utf8(env, j.solver_used, NAPI_AUTO_LENGTH, &v));
  } else {
    CHECK_NAPI(env, napi_get_undefined(env, &v));
  }
  return v;
}

// ---- sync entry points --------------------------------------------------------------------------------------

template <Job (*Parse)(napi_env, const Args&)>
napi_value run_sync(napi_env env, napi_callback_info info) {
  try {
    Args a = get_args(env, info);
    Job j = Parse(env, a);
    const std::string err = j.run();
    if (!err.empty()) throw JsError{JsError::Plain, err};
    return result_value(env, j);
  } catch (const JsError& e) {
    throw_js(env, e);
    return nullptr;
  }
}

// ---- async entry points -------------------------------------------------------------------------------------

struct AsyncJob {
  Job job;
  std::string error;
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;
  napi_ref refs[4] = {};
};

void async_execute(napi_env, void* data) {
  auto* w = static_cast<AsyncJob*>(data);
  w->error = w->job.run();
}

void async_complete(napi_env env, napi_status status, void* data) {
  auto* w = static_cast<AsyncJob*>(data);
  napi_value result = nullptr;
  bool ok = status == napi_ok && w->error.empty();
  if (ok) {
    try {
      result = result_value(env, w->job);
    } catch (const JsError& e) {
      w->error = e.message;
      ok = false;
    }
  }
  if (ok) {
    napi_resolve_deferred(env, w->deferred, result);
  } else {
    napi_value msg, err;
    const std::string text = status == napi_cancelled ? std::string("cancelled") : w->error;
    napi_create_string_utf8(env, text.c_str(), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, nullptr, msg, &err);
    napi_reject_deferred(env, w->deferred, err);
  }
  for (size_t i = 0; i < w->job.nvalues; ++i)
    if (w->refs[i]) napi_delete_reference(env, w->refs[i]);
  napi_delete_async_work(env, w->work);
  delete w;
}

template <Job (*Parse)(napi_env, const Args&)>
napi_value run_async(napi_env env, napi_callback_info info) {
  AsyncJob* w = nullptr;
  try {
    Args a = get_args(env, info);
    Job j = Parse(env, a);
    w = new AsyncJob();
    w->job = j;
    for (size_t i = 0; i < j.nvalues; ++i) CHECK_NAPI(env, napi_create_reference(env, j.values[i], 1, &w->refs[i]));
    napi_value promise, name;
    CHECK_NAPI(env, napi_create_promise(env, &w->deferred, &promise));
    CHECK_NAPI(env, napi_create_string_utf8(env, "gwasgrid_native", NAPI_AUTO_LENGTH, &name));
    CHECK_NAPI(env, napi_create_async_work(env, nullptr, name, async_execute, async_complete, w, &w->work));
    if (napi_queue_async_work(env, w->work) != napi_ok) {
      napi_delete_async_work(env, w->work);
      w->work = nullptr;
      throw JsError{JsError::Plain, "could not queue the native work"};
    }
    return promise;
  } catch (const JsError& e) {
    if (w) {
      for (size_t i = 0; i < 4; ++i)
        if (w->refs[i]) napi_delete_reference(env, w->refs[i]);
      if (w->deferred) {
        // A promise was created but is no longer returned: settle it so it is not leaked pending.
        napi_value undef;
        napi_get_undefined(env, &undef);
        napi_resolve_deferred(env, w->deferred, undef);
      }
      delete w;
    }
    throw_js(env, e);
    return nullptr;
  } catch (const std::bad_alloc&) {
    delete w;
    napi_throw_error(env, nullptr, "out of memory");
    return nullptr;
  }
}

// ---- info / setIsa ------------------------------------------------------------------------------------------

void set_prop(napi_env env, napi_value obj, const char* key, napi_value v) {
  CHECK_NAPI(env, napi_set_named_property(env, obj, key, v));
}

napi_value num(napi_env env, double x) {
  napi_value v;
  CHECK_NAPI(env, napi_create_double(env, x, &v));
  return v;
}

napi_value str(napi_env env, const std::string& s) {
  napi_value v;
  CHECK_NAPI(env, napi_create_string_utf8(env, s.c_str(), s.size(), &v));
  return v;
}

napi_value info_fn(napi_env env, napi_callback_info) {
  try {
    const gwas::KernelTable* kt = gwas::active_kernels();
    napi_value o, tile, list, b;
    CHECK_NAPI(env, napi_create_object(env, &o));
    set_prop(env, o, "isa", str(env, kt->isa));
    CHECK_NAPI(env, napi_create_array(env, &list));
    const std::string all = gwas::supported_isas();
    uint32_t idx = 0;
    for (size_t start = 0; start < all.size();) {
      size_t end = all.find(',', start);
      if (end == std::string::npos) end = all.size();
      CHECK_NAPI(env, napi_set_element(env, list, idx++, str(env, all.substr(start, end - start))));
      start = end + 1;
    }
    set_prop(env, o, "supportedIsas", list);
    CHECK_NAPI(env, napi_get_boolean(env, gwas::have_lapacke(), &b));
    set_prop(env, o, "lapacke", b);
    set_prop(env, o, "defaultThreads", num(env, gwas::default_gemm_threads()));
    set_prop(env, o, "defaultEigenThreads", num(env, gwas::default_eigen_threads()));
    set_prop(env, o, "openblasThreads", num(env, gwas::openblas_threads()));
    CHECK_NAPI(env, napi_create_object(env, &tile));
    set_prop(env, tile, "mr", num(env, kt->mr));
    set_prop(env, tile, "nr", num(env, kt->nr));
    set_prop(env, tile, "mc", num(env, kt->mc));
    set_prop(env, tile, "kc", num(env, kt->kc));
    set_prop(env, tile, "nc", num(env, kt->nc));
    set_prop(env, o, "tile", tile);
    return o;
  } catch (const JsError& e) {
    throw_js(env, e);
    return nullptr;
  }
}

napi_value set_isa_fn(napi_env env, napi_callback_info info) {
  try {
    Args a = get_args(env, info);
    if (a.argc < 1 || type_of(env, a.argv[0]) != napi_string)
      throw JsError{JsError::Type, "setIsa: name must be a string"};
    char buf[32];
    size_t len = 0;
    CHECK_NAPI(env, napi_get_value_string_utf8(env, a.argv[0], buf, sizeof buf, &len));
    napi_value r;
    CHECK_NAPI(env, napi_get_boolean(env, gwas::set_isa(std::string(buf, len)), &r));
    return r;
  } catch (const JsError& e) {
    throw_js(env, e);
    return nullptr;
  }
}

napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"syrkT", nullptr, run_async<parse_syrk>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"syrkTSync", nullptr, run_sync<parse_syrk>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"gemm", nullptr, run_async<parse_gemm>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"gemmSync", nullptr, run_sync<parse_gemm>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"syev", nullptr, run_async<parse_syev>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"syevSync", nullptr, run_sync<parse_syev>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"info", nullptr, info_fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setIsa", nullptr, set_isa_fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return nullptr;
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
