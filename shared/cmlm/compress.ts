/**
 * Kinship compression as GAPIT does it (`GAPIT.Compress`, `GAPIT.Block`, `GAPIT.ZmatrixCompress`;
 * FARMCPU_CMLM.md §2.2): individuals (all genotyped ones) are clustered on the Euclidean distances between
 * their kinship rows, the tree is cut into g groups, the group kinship KG[a, b] is a statistic (mean, max,
 * min or median) of K[i, j] over i ∈ a, j ∈ b (diagonal pairs included), and only groups holding at least one
 * phenotyped individual are kept (KW), in order of first appearance among phenotyped individuals. Z maps each
 * phenotyped individual to its group.
 */
import { cutree, hclust, rowDistances, type HclustTree, type Linkage } from './hclust.js';

export type GroupKinship = 'Mean' | 'Max' | 'Min' | 'Median';

/**
 * The clustering tree of GAPIT.Compress for all individuals, given in `order` (GAPIT sorts individuals by taxon
 * name; ties in distances resolve by this order). O(n²·n) for the distances, O(n²) memory.
 */
export function kinshipTree(K: Float64Array, n: number, order: Int32Array, linkage: Linkage): HclustTree {
  const Ko = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    const ra = order[a] * n;
    for (let b = 0; b < n; b++) Ko[a * n + b] = K[ra + order[b]];
  }
  return hclust(rowDistances(Ko, n, n), n, linkage);
}

export interface Compression {
  /** Requested group count (after GAPIT's rules), e.g. 131. */
  g: number;
  /** Group (0-based, KW order) of each phenotyped individual, in analysed-sample order. */
  groupOf: Int32Array;
  /** Number of groups with phenotyped members (t = KW's size). */
  t: number;
  /** t × t group kinship restricted to groups with phenotyped members, row-major. */
  KW: Float64Array;
}

/** R's median (mean of the two middle values for an even count). */
function median(v: number[]): number {
  v.sort((x, y) => x - y);
  const h = v.length >> 1;
  return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

/**
 * Cuts `tree` into g groups and builds KW and Z. `order[a]` is the genotype index of tree object a; `analysed`
 * the genotype indices of phenotyped individuals (in analysed order). O(n²) for the group kinship.
 */
export function compress(
  K: Float64Array,
  n: number,
  tree: HclustTree,
  order: Int32Array,
  g: number,
  analysed: Int32Array,
  stat: GroupKinship,
): Compression {
  const cut = cutree(tree, g);
  // Group number (1-based, cutree's) of each genotype index.
  const grp = new Int32Array(n);
  for (let a = 0; a < n; a++) grp[order[a]] = cut[a];
  // Groups with phenotyped members, in order of first appearance among phenotyped individuals taken in tree
  // (GAPIT's KI) order.
  const phenotyped = new Uint8Array(n);
  for (const i of analysed) phenotyped[i] = 1;
  const kwIndex = new Int32Array(g + 1).fill(-1);
  const kept: number[] = [];
  for (let a = 0; a < n; a++) {
    const i = order[a];
    if (phenotyped[i] && kwIndex[grp[i]] < 0) {
      kwIndex[grp[i]] = kept.length;
      kept.push(grp[i]);
    }
  }
  const t = kept.length;
  const KW = new Float64Array(t * t);
  if (stat === 'Mean') {
    const sum = new Float64Array(t * t);
    const cnt = new Float64Array(t * t);
    for (let i = 0; i < n; i++) {
      const a = kwIndex[grp[i]];
      if (a < 0) continue;
      for (let j = 0; j < n; j++) {
        const b = kwIndex[grp[j]];
        if (b < 0) continue;
        sum[a * t + b] += K[i * n + j];
        cnt[a * t + b] += 1;
      }
    }
    for (let k = 0; k < t * t; k++) KW[k] = sum[k] / cnt[k];
  } else {
    const members: number[][] = Array.from({ length: t }, () => []);
    for (let i = 0; i < n; i++) {
      const a = kwIndex[grp[i]];
      if (a >= 0) members[a].push(i);
    }
    for (let a = 0; a < t; a++) {
      for (let b = 0; b < t; b++) {
        const vals: number[] = [];
        for (const i of members[a]) for (const j of members[b]) vals.push(K[i * n + j]);
        let v: number;
        if (stat === 'Median') v = median(vals);
        else {
          v = vals[0];
          for (const x of vals) if (stat === 'Max' ? x > v : x < v) v = x;
        }
        KW[a * t + b] = v;
      }
    }
  }
  const groupOf = new Int32Array(analysed.length);
  for (let k = 0; k < analysed.length; k++) groupOf[k] = kwIndex[grp[analysed[k]]];
  return { g, groupOf, t, KW };
}

/** A one-group-per-individual "compression" (g = number of genotyped individuals): KW = K of the analysed. */
export function identityCompression(K: Float64Array, n: number, analysed: Int32Array): Compression {
  const t = analysed.length;
  const KW = new Float64Array(t * t);
  for (let a = 0; a < t; a++) for (let b = 0; b < t; b++) KW[a * t + b] = K[analysed[a] * n + analysed[b]];
  return { g: n, groupOf: Int32Array.from({ length: t }, (_, k) => k), t, KW };
}
