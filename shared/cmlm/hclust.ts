/**
 * Hierarchical clustering as R's `stats::hclust` does it (R ≥ 3.1 Fortran `hclust`, F. Murtagh 1986, with
 * R's fixes), so that ties resolve exactly as in R; and `cutree(k)`.
 *
 * Algorithm (nearest-neighbour list, not NN-chain): every object i keeps its nearest neighbour to the *right*
 * (the first j > i with the smallest dissimilarity — strict "<", so ties keep the smallest j). Each step merges
 * the pair (i, NN(i)) with the smallest listed dissimilarity (strict "<": the smallest i wins ties); the merged
 * cluster keeps the smaller index, dissimilarities to it are updated by the Lance–Williams formula of the method,
 * and stale nearest-neighbour entries are recomputed. Heights are the merge dissimilarities (square roots for
 * ward.D2, which clusters on squared input). Input dissimilarities are used as given (R does not square them for
 * centroid/median either).
 *
 * Complexity: O(n²) memory (packed upper triangle), O(n²)–O(n³) time (typically ~n² per merge in the worst
 * case of stale-list updates, far less in practice).
 */

export type Linkage = 'average' | 'ward.D' | 'ward.D2' | 'single' | 'complete' | 'mcquitty' | 'median' | 'centroid';

/** GAPIT's `kinship.cluster` names mapped to R methods ("ward" is R's deprecated alias of "ward.D"). */
export const GAPIT_LINKAGES: Record<string, Linkage> = {
  average: 'average',
  ward: 'ward.D',
  'ward.D': 'ward.D',
  'ward.D2': 'ward.D2',
  single: 'single',
  complete: 'complete',
  mcquitty: 'mcquitty',
  median: 'median',
  centroid: 'centroid',
};

export interface HclustTree {
  n: number;
  /** Merge k (0-based) joined clusters represented by objects `ia[k] < ib[k]` (0-based, smallest member index). */
  ia: Int32Array;
  ib: Int32Array;
  height: Float64Array;
}

/** Offset of pair (i < j), 0-based, in the packed upper triangle of an n × n matrix without the diagonal. */
function off(n: number, i: number, j: number): number {
  return j + i * n - ((i + 1) * (i + 2)) / 2;
}

/**
 * Euclidean distances between the rows of a row-major n × p matrix, as R `dist(x)` (sum of squared
 * differences accumulated in column order, then the square root). Packed upper triangle, row by row.
 * Four pairs (i, j..j+3) are summed side by side — each pair's own sum still runs over c in order, so every
 * distance is bit-identical to the one-pair loop (and to R) — which breaks the add-latency chain of a single
 * sum (≈ 3× faster). O(n²·p/2).
 */
export function rowDistances(X: Float64Array, n: number, p: number): Float64Array {
  const d = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const oi = i * p;
    let j = i + 1;
    for (; j + 3 < n; j += 4) {
      const o0 = j * p;
      const o1 = o0 + p;
      const o2 = o1 + p;
      const o3 = o2 + p;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let c = 0; c < p; c++) {
        const x = X[oi + c];
        const d0 = x - X[o0 + c];
        const d1 = x - X[o1 + c];
        const d2 = x - X[o2 + c];
        const d3 = x - X[o3 + c];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
      }
      d[k++] = Math.sqrt(s0);
      d[k++] = Math.sqrt(s1);
      d[k++] = Math.sqrt(s2);
      d[k++] = Math.sqrt(s3);
    }
    for (; j < n; j++) {
      const oj = j * p;
      let s = 0;
      for (let c = 0; c < p; c++) {
        const dev = X[oi + c] - X[oj + c];
        s += dev * dev;
      }
      d[k++] = Math.sqrt(s);
    }
  }
  return d;
}

/** R `hclust(d, method)` on a packed upper-triangle dissimilarity (copied; the input is not modified). */
export function hclust(dissimilarity: Float64Array, n: number, method: Linkage): HclustTree {
  const diss = Float64Array.from(dissimilarity);
  if (diss.length !== (n * (n - 1)) / 2) throw new RangeError(`hclust: ${diss.length} dissimilarities for n = ${n}`);
  const ia = new Int32Array(Math.max(0, n - 1));
  const ib = new Int32Array(Math.max(0, n - 1));
  const height = new Float64Array(Math.max(0, n - 1));
  if (n < 2) return { n, ia, ib, height };
  const isWard = method === 'ward.D' || method === 'ward.D2';
  if (method === 'ward.D2') for (let i = 0; i < diss.length; i++) diss[i] *= diss[i];
  const INF = 1e300;
  const flag = new Uint8Array(n).fill(1);
  const membr = new Float64Array(n).fill(1);
  const nn = new Int32Array(n);
  const disnn = new Float64Array(n);
  for (let i = 0; i < n - 1; i++) {
    let dmin = INF;
    let jm = 0;
    for (let j = i + 1; j < n; j++) {
      const v = diss[off(n, i, j)];
      if (dmin > v) {
        dmin = v;
        jm = j;
      }
    }
    nn[i] = jm;
    disnn[i] = dmin;
  }
  let ncl = n;
  let im = 0;
  let jm = 0;
  let jj = 0;
  while (ncl > 1) {
    let dmin = INF;
    for (let i = 0; i < n - 1; i++) {
      if (flag[i] && disnn[i] < dmin) {
        dmin = disnn[i];
        im = i;
        jm = nn[i];
      }
    }
    ncl--;
    const i2 = Math.min(im, jm);
    const j2 = Math.max(im, jm);
    const step = n - ncl - 1;
    ia[step] = i2;
    ib[step] = j2;
    height[step] = method === 'ward.D2' ? Math.sqrt(dmin) : dmin;
    flag[j2] = 0;
    dmin = INF;
    const d12 = diss[off(n, i2, j2)];
    for (let k = 0; k < n; k++) {
      if (!flag[k] || k === i2) continue;
      const ind1 = i2 < k ? off(n, i2, k) : off(n, k, i2);
      const ind2 = j2 < k ? off(n, j2, k) : off(n, k, j2);
      const a = diss[ind1];
      const b = diss[ind2];
      let v: number;
      const mi = membr[i2];
      const mj = membr[j2];
      const mk = membr[k];
      if (isWard) {
        v = (mi + mk) * a + (mj + mk) * b - mk * d12;
        v = v / (mi + mj + mk);
      } else if (method === 'single') v = Math.min(a, b);
      else if (method === 'complete') v = Math.max(a, b);
      else if (method === 'average') v = (mi * a + mj * b) / (mi + mj);
      else if (method === 'mcquitty') v = (a + b) / 2;
      else if (method === 'median') v = (a + b - d12 / 2) / 2;
      else v = (mi * a + mj * b - (mi * mj * d12) / (mi + mj)) / (mi + mj);
      // Fortran MIN/MAX with a NaN argument are not needed here: distances are finite.
      diss[ind1] = v;
      if (i2 < k) {
        if (v < dmin) {
          dmin = v;
          jj = k;
        }
      } else if (v < disnn[k]) {
        disnn[k] = v;
        nn[k] = i2;
      }
    }
    membr[i2] += membr[j2];
    disnn[i2] = dmin;
    nn[i2] = jj;
    for (let i = 0; i < n - 1; i++) {
      if (flag[i] && (nn[i] === i2 || nn[i] === j2)) {
        let best = INF;
        for (let j = i + 1; j < n; j++) {
          if (!flag[j]) continue;
          const v = diss[off(n, i, j)];
          if (v < best) {
            best = v;
            jj = j;
          }
        }
        nn[i] = jj;
        disnn[i] = best;
      }
    }
  }
  return { n, ia, ib, height };
}

/**
 * R `cutree(tree, k)`: the clusters after the first n − k merges, numbered 1..k by first appearance in object
 * order. Returns a group number per object.
 */
export function cutree(tree: HclustTree, k: number): Int32Array {
  const n = tree.n;
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) throw new RangeError(`cutree: k = ${k} outside 1..${n}`);
  // Union-find keyed by the representative (smallest index) that hclust uses.
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  for (let s = 0; s < n - k; s++) {
    const a = find(tree.ia[s]);
    const b = find(tree.ib[s]);
    if (a !== b) parent[b] = a;
  }
  const label = new Int32Array(n).fill(0);
  const out = new Int32Array(n);
  let next = 0;
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (label[r] === 0) label[r] = ++next;
    out[i] = label[r];
  }
  return out;
}
