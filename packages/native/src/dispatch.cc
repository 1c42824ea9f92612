// Runtime ISA dispatch: picks the best kernel variant the CPU (and OS) supports, once, at load time.
// Never uses -march=native: every variant is compiled for a fixed ISA level and chosen here.
#include <atomic>
#include <cstdlib>
#include <string>

#include "linalg.h"

namespace gwas {
namespace {

bool cpu_has_avx512() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the zmm/ymm state (XCR0).
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx2() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

const KernelTable* by_name(const std::string& name) {
  if (name == "avx512") return cpu_has_avx512() ? kernels_avx512() : nullptr;
  if (name == "avx2") return cpu_has_avx2() ? kernels_avx2() : nullptr;
  if (name == "generic") return kernels_generic();
  return nullptr;
}

const KernelTable* pick_initial() {
  if (const char* forced = std::getenv("GWASGRID_NATIVE_ISA")) {
    if (const KernelTable* t = by_name(forced)) return t;
  }
  if (const KernelTable* t = by_name("avx512")) return t;
  if (const KernelTable* t = by_name("avx2")) return t;
  return kernels_generic();
}

std::atomic<const KernelTable*>& current() {
  static std::atomic<const KernelTable*> table{pick_initial()};
  return table;
}

}  // namespace

const KernelTable* active_kernels() { return current().load(); }

std::string supported_isas() {
  std::string out;
  for (const char* name : {"avx512", "avx2", "generic"}) {
    if (by_name(name)) {
      if (!out.empty()) out += ",";
      out += name;
    }
  }
  return out;
}

bool set_isa(const std::string& name) {
  const KernelTable* t = by_name(name);
  if (!t) return false;
  current().store(t);
  return true;
}

}  // namespace gwas
