# Built by scripts/build.cjs, which passes --nodedir and the variables below (node-gyp turns unknown
# `--name=value` options into gyp variables):
#   gwas_lapacke=1            compile with -DGWAS_HAVE_LAPACKE (dsyevd eigensolver)
#   gwas_lapacke_libs="..."   the linker flags for it, e.g. "-llapacke -lopenblas"
#   gwas_lapacke_include=DIR  where lapacke.h is, when not on the default include path
# Never -march=native: the AVX-512 and AVX2 kernels are separate static libraries with fixed ISA flags and
# the addon picks one at load time (src/dispatch.cc).
{
  "variables": {
    "gwas_lapacke%": 0,
    "gwas_lapacke_libs%": "-llapacke -lopenblas",
    "gwas_lapacke_include%": "",
  },
  "target_defaults": {
    "cflags": ["-O3", "-fPIC", "-pthread", "-fno-math-errno", "-Wall", "-Wno-unknown-pragmas"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc": ["-std=gnu++17", "-fexceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno"],
    },
  },
  "targets": [
    {
      "target_name": "gwas_kernels_avx512",
      "type": "static_library",
      "sources": ["src/isa_avx512.cc"],
      "conditions": [
        ["target_arch=='x64'", {
          "cflags": ["-mavx2", "-mfma", "-mavx512f", "-mavx512dq", "-mavx512vl", "-mprefer-vector-width=512"],
          "xcode_settings": { "OTHER_CFLAGS": ["-mavx2", "-mfma", "-mavx512f", "-mavx512dq", "-mavx512vl"] },
        }],
      ],
    },
    {
      "target_name": "gwas_kernels_avx2",
      "type": "static_library",
      "sources": ["src/isa_avx2.cc"],
      "conditions": [
        ["target_arch=='x64'", {
          "cflags": ["-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CFLAGS": ["-mavx2", "-mfma"] },
        }],
      ],
    },
    {
      "target_name": "gwasgrid_native",
      "dependencies": ["gwas_kernels_avx512", "gwas_kernels_avx2"],
      "sources": ["src/addon.cc", "src/linalg.cc", "src/dispatch.cc", "src/isa_generic.cc"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["gwas_lapacke==1", {
          "defines": ["GWAS_HAVE_LAPACKE"],
          "libraries": ["<@(gwas_lapacke_libs)"],
        }],
        ["gwas_lapacke==1 and gwas_lapacke_include!=''", {
          "include_dirs": ["<(gwas_lapacke_include)"],
        }],
      ],
    },
  ],
}
