/**
 * The kernel interface every numeric stage above `shared/linalg` uses.
 *
 * All matrices are dense, row-major `Float64Array`s (pass `subarray` views for offsets). Large operations are
 * asynchronous so that native backends can run them off the event loop (progress and RPCs stay live); the
 * caller must not touch the arrays until the promise settles.
 *
 * Conventions used throughout gwasgrid:
 * - A block of genotypes is SNP-major: `B` SNPs × `n` samples, row `s` holds SNP `s`.
 * - Kinship: `K += Zᵀ Z` for a centred block `Z` (k × n)  → {@link LinalgBackend.syrkT}.
 * - Rotation: `R = Z · U` gives `Uᵀ z_s` in row `s`           → {@link LinalgBackend.gemm}.
 * - Eigenvectors are the columns of `U`: `U[i * n + j]` is component `i` of eigenvector `j`.
 */
export type BackendName = 'native' | 'wasm' | 'ts';

export interface EigenResult {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /** Eigenvectors as columns of a row-major n × n matrix. */
  vectors: Float64Array;
}

export interface LinalgBackend {
  readonly name: BackendName;
  /** One line for the log: ISA level, eigen solver, threads. */
  readonly detail: string;
  /**
   * Symmetric rank-k update `C ← beta·C + Aᵀ·A`, with `A` row-major k × n and `C` n × n.
   * Both triangles of `C` are written.
   */
  syrkT(n: number, k: number, a: Float64Array, c: Float64Array, beta: number): Promise<void>;
  /** General product `C ← A·B + beta·C`, with `A` m × k, `B` k × n and `C` m × n, all row-major. */
  gemm(
    m: number,
    n: number,
    k: number,
    a: Float64Array,
    b: Float64Array,
    c: Float64Array,
    beta: number,
  ): Promise<void>;
  /**
   * Symmetric eigendecomposition `A = U diag(values) Uᵀ` of the n × n row-major matrix `a` (which may be
   * overwritten). Returns eigenvalues ascending and eigenvectors as columns.
   */
  syev(n: number, a: Float64Array): Promise<EigenResult>;
}

/** Checks the sizes once at the door so that kernels can trust their arguments. */
export function checkDims(
  op: string,
  checks: ReadonlyArray<readonly [name: string, array: Float64Array, needed: number]>,
): void {
  for (const [name, arr, needed] of checks) {
    if (!Number.isInteger(needed) || needed < 0) throw new RangeError(`${op}: bad dimension for ${name}`);
    if (arr.length < needed) {
      throw new RangeError(`${op}: ${name} has ${arr.length} elements, needs ${needed}`);
    }
  }
}
