/** A small seeded PRNG (mulberry32) and helpers for reproducible numeric tests. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normal(r: () => number): number {
  const u = Math.max(r(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** A kinship-like matrix: centred genotypes Z (m × n), K = ZᵀZ/m, double-centred (rank ≤ min(m, n−1)). */
export function kinshipLike(n: number, m: number, seed: number): Float64Array {
  const r = rng(seed);
  const Z = new Float64Array(m * n);
  for (let s = 0; s < m; s++) {
    const p = 0.05 + 0.9 * r();
    let mean = 0;
    for (let i = 0; i < n; i++) {
      const g = (r() < p ? 1 : 0) + (r() < p ? 1 : 0);
      Z[s * n + i] = g;
      mean += g;
    }
    mean /= n;
    for (let i = 0; i < n; i++) Z[s * n + i] -= mean;
  }
  const K = new Float64Array(n * n);
  for (let s = 0; s < m; s++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) K[i * n + j] += (Z[s * n + i] * Z[s * n + j]) / m;
  return K;
}

/** Deterministic uniform(-1, 1) values (xorshift32), for the linear-algebra kernel tests. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2147483648 - 1;
  };
}
