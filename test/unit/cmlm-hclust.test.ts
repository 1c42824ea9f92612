/**
 * R hclust/cutree reproduction: Lance–Williams updates checked against definitions computed from scratch
 * (average = mean pairwise distance, complete = max, single = min spanning tree), R's tie order and cutree's
 * first-appearance numbering, and the ward.D/ward.D2 relation R documents.
 */
import { cutree, hclust, rowDistances, type Linkage } from '../../shared/cmlm/hclust.js';
import { rng } from '../helpers/random.js';

function randomPoints(n: number, p: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n * p }, () => r());
}

/** Members of every cluster after each merge (by representative). */
function replay(tree: ReturnType<typeof hclust>): number[][][] {
  const members = new Map<number, number[]>();
  for (let i = 0; i < tree.n; i++) members.set(i, [i]);
  const out: number[][][] = [];
  for (let s = 0; s < tree.n - 1; s++) {
    const a = members.get(tree.ia[s])!;
    const b = members.get(tree.ib[s])!;
    out.push([a, b]);
    members.set(tree.ia[s], [...a, ...b]);
    members.delete(tree.ib[s]);
  }
  return out;
}

const pair = (d: Float64Array, n: number, i: number, j: number) => {
  const [a, b] = i < j ? [i, j] : [j, i];
  return d[b + a * n - ((a + 1) * (a + 2)) / 2];
};

describe('hclust (R algorithm)', () => {
  const n = 40;
  const X = randomPoints(n, 3, 7);
  const d = rowDistances(X, n, 3);

  it('rowDistances is the Euclidean distance between rows', () => {
    const i = 3;
    const j = 17;
    const direct = Math.hypot(X[i * 3] - X[j * 3], X[i * 3 + 1] - X[j * 3 + 1], X[i * 3 + 2] - X[j * 3 + 2]);
    expect(pair(d, n, i, j)).toBeCloseTo(direct, 14);
  });

  it('rowDistances sums every pair in R dist() order (bit-identical to the one-pair loop, all remainders)', () => {
    for (const [m, p] of [[1, 2], [2, 5], [5, 1], [6, 7], [7, 3], [8, 9], [9, 33]] as const) {
      const Y = randomPoints(m, p, 11 + m);
      const got = rowDistances(Y, m, p);
      let k = 0;
      for (let i = 0; i < m; i++)
        for (let j = i + 1; j < m; j++) {
          let s = 0;
          for (let c = 0; c < p; c++) {
            const dev = Y[i * p + c] - Y[j * p + c];
            s += dev * dev;
          }
          expect(Object.is(got[k++], Math.sqrt(s))).toBe(true);
        }
      expect(k).toBe(got.length);
    }
  });

  it.each([
    ['average', (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length],
    ['complete', (v: number[]) => Math.max(...v)],
    ['single', (v: number[]) => Math.min(...v)],
  ] as const)('%s: every merge height is the linkage of the two clusters merged', (method, link) => {
    const tree = hclust(d, n, method);
    const merges = replay(tree);
    for (let s = 0; s < n - 1; s++) {
      const [a, b] = merges[s];
      const v: number[] = [];
      for (const i of a) for (const j of b) v.push(pair(d, n, i, j));
      expect(Math.abs(tree.height[s] - link(v))).toBeLessThan(1e-12);
      expect(tree.ia[s]).toBeLessThan(tree.ib[s]);
    }
    // Monotone methods: heights never decrease.
    for (let s = 1; s < n - 1; s++) expect(tree.height[s]).toBeGreaterThanOrEqual(tree.height[s - 1] - 1e-15);
  });

  it('single linkage heights are the minimum spanning tree edges (Kruskal)', () => {
    const edges: Array<[number, number, number]> = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) edges.push([pair(d, n, i, j), i, j]);
    edges.sort((x, y) => x[0] - y[0]);
    const parent = Array.from({ length: n }, (_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
    const mst: number[] = [];
    for (const [w, i, j] of edges) {
      const a = find(i);
      const b = find(j);
      if (a !== b) {
        parent[a] = b;
        mst.push(w);
      }
    }
    const tree = hclust(d, n, 'single');
    expect(Array.from(tree.height)).toEqual(mst);
  });

  it('ward.D2 on d equals ward.D on d² with square-rooted heights (R documentation)', () => {
    const d2 = d.map((v) => v * v);
    const a = hclust(d, n, 'ward.D2');
    const b = hclust(d2, n, 'ward.D');
    expect(Array.from(a.ia)).toEqual(Array.from(b.ia));
    expect(Array.from(a.ib)).toEqual(Array.from(b.ib));
    for (let s = 0; s < n - 1; s++) expect(a.height[s]).toBeCloseTo(Math.sqrt(b.height[s]), 12);
  });

  it.each(['mcquitty', 'median', 'centroid', 'ward.D'] as Linkage[])('%s runs to a full tree', (method) => {
    const tree = hclust(d, n, method);
    const g = cutree(tree, 1);
    expect(new Set(g).size).toBe(1);
  });

  it('ties: the smallest index pair merges first, and a tied nearest neighbour keeps the smaller index', () => {
    // Four points on a line at 0, 1, 2, 3: d(0,1) = d(1,2) = d(2,3) = 1.
    const P = Float64Array.from([0, 1, 2, 3]);
    const tree = hclust(rowDistances(P, 4, 1), 4, 'single');
    expect(Array.from(tree.ia)).toEqual([0, 0, 0]);
    expect(Array.from(tree.ib)).toEqual([1, 2, 3]);
    // Complete linkage: (0,1) at 1, then (2,3) at 1, then all at 3.
    const c = hclust(rowDistances(P, 4, 1), 4, 'complete');
    expect(Array.from(c.ia)).toEqual([0, 2, 0]);
    expect(Array.from(c.ib)).toEqual([1, 3, 2]);
    expect(Array.from(c.height)).toEqual([1, 1, 3]);
  });
});

describe('cutree', () => {
  it('numbers groups by first appearance and nests cuts of one tree', () => {
    // Points 0..5 at 10, 0, 11, 1, 20, 0.5 → clusters {1,3,5}, {0,2}, {4}.
    const P = Float64Array.from([10, 0, 11, 1, 20, 0.5]);
    const tree = hclust(rowDistances(P, 6, 1), 6, 'average');
    expect(Array.from(cutree(tree, 3))).toEqual([1, 2, 1, 2, 3, 2]);
    expect(Array.from(cutree(tree, 6))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(cutree(tree, 1))).toEqual([1, 1, 1, 1, 1, 1]);
    const n = 30;
    const big = hclust(rowDistances(randomPoints(n, 2, 3), n, 2), n, 'average');
    for (let k = 2; k <= n; k++) {
      const fine = cutree(big, k);
      const coarse = cutree(big, k - 1);
      expect(new Set(fine).size).toBe(k);
      // Every fine group lies inside one coarse group.
      const map = new Map<number, number>();
      for (let i = 0; i < n; i++) {
        if (!map.has(fine[i])) map.set(fine[i], coarse[i]);
        expect(map.get(fine[i])).toBe(coarse[i]);
      }
    }
  });
});
