/**
 * The coordinator side of FarmCPU (Liu et al. 2016 PLoS Genet 12:e1005767) as pure functions over merged
 * partition replies, reproducing rMVP 1.4.6 `MVP.FarmCPU` (static bins) to its tie rules; the algorithm is
 * written out in ../shared/docs/FARMCPU_CMLM.md §1.2–§1.7. One iteration t:
 *   select candidates from the previous scan's p (per-bin leads, top `bound` bins) → early exit at t = 2 when
 *   min p > 0.01/m → carry the previous pseudo-QTNs forward (R `union` order) → keep p < QTN.threshold
 *   (previous QTNs always) → LD pruning (|r| > 0.7 against any earlier candidate in p order) → stop when the
 *   set repeats (or a 2-cycle, or maxLoop) → FEM scan with the set (partition.ts) → "reward" substitution →
 *   exact zeros of p become 0.01 × the smallest non-zero p.
 */
import type { SnpMeta } from '../../genotype/types.js';
import { DistributedError } from '../../errors.js';
import type { FemModel } from '../../fem/scan.js';
import { binOf } from './bins.js';
import { compareLeads, leadBetter } from './partition.js';
import type { BinLead, FinalRows, PartitionReply, QtnVector, RoundRequest } from './protocol.js';

/** rMVP defaults (`MVP()`): bins 5e5/5e6/5e7 bp, bin counts 10..100, QTN.threshold 0.01, LD |r| 0.7, maxLoop 10. */
export const FARMCPU_DEFAULTS = {
  binSizes: [5e5, 5e6, 5e7] as readonly number[],
  binSelection: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100] as readonly number[],
  qtnThreshold: 0.01,
  ldThreshold: 0.7,
  maxLoop: 10,
  /** `FarmCPU.Remove` correlates over at most this many individuals (the first ones). */
  ldMaxIndividuals: 100000,
};

/** R's round() (IEC 60559: halves to even). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Largest number of pseudo-QTNs proposed per iteration: round(√n / √log10 n) (`FarmCPU.BIN`). */
export function defaultBound(n: number): number {
  return roundHalfEven(Math.sqrt(n) / Math.sqrt(Math.log10(n)));
}

/** The static schedule: iteration 2 uses the largest bin size, 3 the middle, ≥ 4 the smallest. */
export function staticBinSize(t: number, binSizes: readonly number[]): number {
  const sorted = binSizes.slice();
  if (t === 2) return sorted[2];
  if (t === 3) return sorted[1];
  return sorted[0];
}

/** Partition replies merged over the whole SNP list. */
export interface MergedRound {
  round: number;
  /** binSize → bin → best raw lead. */
  leads: Map<number, Map<number, BinLead>>;
  rewardP: Float64Array;
  candidates: Map<number, Float64Array>;
  minP: number;
  minNonZeroP: number;
  rows: FinalRows | null;
  /** Sum of partition scan seconds. */
  scanSeconds: number;
}

/**
 * Merges replies (in any order; the result does not depend on it). Checks that they answer this round and
 * cover SNPs [0, m) exactly once.
 */
export function mergeReplies(req: RoundRequest, replies: readonly PartitionReply[], m: number): MergedRound {
  const sorted = replies.slice().sort((a, b) => a.start - b.start);
  let at = 0;
  for (const r of sorted) {
    if (r.round !== req.round) throw new DistributedError('PROTOCOL', `reply for round ${r.round} in round ${req.round}`);
    if (r.start !== at) throw new DistributedError('PROTOCOL', `partition replies leave a gap or overlap at SNP ${at} (next starts at ${r.start})`);
    at = r.end;
  }
  if (at !== m) throw new DistributedError('PROTOCOL', `partition replies cover SNPs [0, ${at}) of ${m}`);
  const nq = req.qtns.length;
  const leads = new Map<number, Map<number, BinLead>>();
  for (const b of req.binSizes) leads.set(b, new Map());
  const rewardP = new Float64Array(nq).fill(NaN);
  const candidates = new Map<number, Float64Array>();
  let minP = NaN;
  let minNonZeroP = Infinity;
  let scanSeconds = 0;
  const rows: FinalRows | null = req.final
    ? {
        start: 0,
        effect: new Float64Array(m),
        se: new Float64Array(m),
        p: new Float64Array(m),
        log10p: new Float64Array(m),
        nMiss: new Int32Array(m),
        af: new Float64Array(m),
        afAll: new Float64Array(m),
        a1Sum: new Float64Array(m),
      }
    : null;
  for (const r of sorted) {
    scanSeconds += r.seconds;
    for (const bl of r.leads) {
      const map = leads.get(bl.binSize);
      if (!map) throw new DistributedError('PROTOCOL', `reply has leads for bin size ${bl.binSize}, not requested`);
      for (const l of bl.leads) {
        const cur = map.get(l.bin);
        if (!cur) map.set(l.bin, { ...l });
        else if (leadBetter(l.p, l.snp, cur)) {
          cur.snp = l.snp;
          cur.p = l.p;
        }
      }
    }
    for (let k = 0; k < nq; k++) {
      const v = r.rewardP[k];
      if (v === v && !(rewardP[k] <= v)) rewardP[k] = v;
    }
    for (const c of r.candidates) candidates.set(c.snp, c.genotype);
    if (r.minP === r.minP && !(r.minP >= minP)) minP = r.minP;
    if (r.minNonZeroP < minNonZeroP) minNonZeroP = r.minNonZeroP;
    if (rows) {
      if (!r.rows) throw new DistributedError('PROTOCOL', `final round: partition ${r.partition} sent no rows`);
      const o = r.start;
      rows.effect.set(r.rows.effect, o);
      rows.se.set(r.rows.se, o);
      rows.p.set(r.rows.p, o);
      rows.log10p.set(r.rows.log10p, o);
      rows.nMiss.set(r.rows.nMiss, o);
      rows.af.set(r.rows.af, o);
      rows.afAll.set(r.rows.afAll, o);
      rows.a1Sum.set(r.rows.a1Sum, o);
    }
  }
  return { round: req.round, leads, rewardP, candidates, minP, minNonZeroP, rows, scanSeconds };
}

/** One scan after substitution: the p-vector the next iteration selects from (rMVP's `P`). */
export interface ScanResult {
  round: number;
  qtns: QtnVector[];
  /** The pseudo-QTNs' own p (reward), zero-replaced. */
  qtnP: Float64Array;
  /** Reduced-model estimate and se of each pseudo-QTN (rMVP betapred / sepred). */
  qtnEffect: Float64Array;
  qtnSe: Float64Array;
  /** What exact zeros of p were replaced with (0.01 × smallest non-zero p). */
  zeroP: number;
  /** binSize → leads ranked by (p, bin), pseudo-QTN rows included with their substituted p. */
  ranked: Map<number, BinLead[]>;
  /** Smallest p over all SNPs after substitution and zero replacement. */
  minP: number;
  /** Genotypes known for selection: returned candidates and the pseudo-QTNs. */
  genotypes: Map<number, Float64Array>;
  /** Final round only: output rows with the pseudo-QTN rows substituted. */
  rows: FinalRows | null;
}

/**
 * "Reward" substitution (`FarmCPU.SUB`, spec §1.4) and the zero replacement: each pseudo-QTN's p becomes the
 * smallest p its covariate reached over all SNP rows; its effect and se those of the reduced model (with rMVP's
 * quirk of dividing the reduced RSS by n − q0 − 1).
 */
export function substitute(merged: MergedRound, req: RoundRequest, model: FemModel, firstQtnCol: number, keys: Float64Array): ScanResult {
  const nq = req.qtns.length;
  const q0 = model.q0;
  const qtnP = Float64Array.from(merged.rewardP);
  const qtnEffect = new Float64Array(nq);
  const qtnSe = new Float64Array(nq);
  const s2 = model.rss0 / (model.n - q0 - 1);
  for (let k = 0; k < nq; k++) {
    const col = firstQtnCol + k;
    qtnEffect[k] = model.beta0[col];
    qtnSe[k] = Math.sqrt(model.iWW[col * q0 + col] * s2);
  }
  let minNonZero = merged.minNonZeroP;
  for (let k = 0; k < nq; k++) if (qtnP[k] > 0 && qtnP[k] < minNonZero) minNonZero = qtnP[k];
  const zeroP = 0.01 * minNonZero;
  const zr = (p: number) => (p === 0 ? zeroP : p);
  for (let k = 0; k < nq; k++) qtnP[k] = zr(qtnP[k]);
  let minP = zr(merged.minP);
  for (let k = 0; k < nq; k++) if (qtnP[k] === qtnP[k] && !(qtnP[k] >= minP)) minP = qtnP[k];
  const ranked = new Map<number, BinLead[]>();
  for (const [binSize, byBin] of merged.leads) {
    const map = new Map<number, BinLead>();
    for (const [bin, l] of byBin) map.set(bin, { bin, snp: l.snp, p: l.p });
    req.qtns.forEach((q, k) => {
      const bin = binOf(keys[q.snp], binSize);
      const cur = map.get(bin);
      if (!cur) map.set(bin, { bin, snp: q.snp, p: qtnP[k] });
      else if (leadBetter(qtnP[k], q.snp, cur)) {
        cur.snp = q.snp;
        cur.p = qtnP[k];
      }
    });
    const list = [...map.values()];
    for (const l of list) l.p = zr(l.p);
    list.sort(compareLeads);
    ranked.set(binSize, list);
  }
  const genotypes = new Map(merged.candidates);
  for (const q of req.qtns) genotypes.set(q.snp, q.genotype);
  let rows: FinalRows | null = null;
  if (merged.rows) {
    rows = merged.rows;
    const logZero = Math.log10(zeroP);
    for (let i = 0; i < rows.p.length; i++) {
      if (rows.p[i] === 0) {
        rows.p[i] = zeroP;
        rows.log10p[i] = logZero;
      }
    }
    req.qtns.forEach((q, k) => {
      rows!.effect[q.snp] = qtnEffect[k];
      rows!.se[q.snp] = qtnSe[k];
      rows!.p[q.snp] = qtnP[k];
      rows!.log10p[q.snp] = Math.log10(qtnP[k]);
    });
  }
  return { round: req.round, qtns: req.qtns.slice(), qtnP, qtnEffect, qtnSe, zeroP, ranked, minP, genotypes, rows };
}

/** The bins' candidate SNPs (`FarmCPU.Specify`): leads of the best min(s, #bins) bins, in map (index) order. */
export function binCandidates(ranked: readonly BinLead[], s: number): number[] {
  return ranked
    .slice(0, Math.min(s, ranked.length))
    .map((l) => l.snp)
    .sort((a, b) => a - b);
}

/** Pearson correlation of two vectors over their first `len` entries (NaN when one is constant). */
export function pearson(a: Float64Array, b: Float64Array, len: number): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < len; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= len;
  mb /= len;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < len; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * LD pruning (`FarmCPU.Remove`, spec §1.7): sort by p (stable, NaN last), drop later SNPs at an already seen
 * (chromosome, position), then drop every candidate whose |r| with *any* earlier candidate exceeds the threshold
 * (whether or not that earlier one survived). Returns the survivors in p order.
 */
export function ldPrune(
  cands: readonly { snp: number; p: number }[],
  genotype: (snp: number) => Float64Array,
  snps: readonly SnpMeta[],
  chrCodes: Float64Array,
  threshold = FARMCPU_DEFAULTS.ldThreshold,
  maxIndividuals = FARMCPU_DEFAULTS.ldMaxIndividuals,
): number[] {
  const order = cands
    .map((c, i) => ({ ...c, i }))
    .sort((a, b) => {
      const an = a.p === a.p;
      const bn = b.p === b.p;
      if (an !== bn) return an ? -1 : 1;
      if (an && a.p !== b.p) return a.p < b.p ? -1 : 1;
      return a.i - b.i;
    });
  const seen = new Set<string>();
  const uniq: number[] = [];
  for (const c of order) {
    const key = `${chrCodes[c.snp]}:${snps[c.snp].pos}`;
    if (seen.has(key)) continue;
    seen.add(key);
    uniq.push(c.snp);
  }
  const gs = uniq.map((s) => genotype(s));
  const len = gs.length ? Math.min(gs[0].length, maxIndividuals) : 0;
  const out: number[] = [];
  for (let j = 0; j < uniq.length; j++) {
    let drop = false;
    for (let i = 0; i < j && !drop; i++) {
      const r = pearson(gs[i], gs[j], len);
      if (Math.abs(r) > threshold) drop = true;
    }
    if (!drop) out.push(uniq[j]);
  }
  return out;
}

/** rMVP's QTN history (`seqQTN.save`, `seqQTN.pre`): a set, nothing yet (NULL), or the start sentinels. */
export type QtnHistory = readonly number[] | null | 'sentinel';

export interface SelectionSettings {
  m: number;
  bound: number;
  maxLoop: number;
  /** Effective QTN threshold: max(p.threshold, QTN.threshold) when p.threshold is set. */
  qtnThreshold: number;
  /** Early-exit cut at iteration 2 (p.threshold, or 0.01/m). */
  earlyExitP: number;
  ldThreshold: number;
}

export interface Selection {
  /** Iteration number this selection is for. */
  t: number;
  /** Stop before scanning (iteration 2 early exit): the answer is the iteration-1 scan. */
  earlyExit: boolean;
  /** Bin candidates proposed (map order), before carry-forward and filters. */
  binCandidates: number[];
  /** The new pseudo-QTN set in model order. */
  qtns: number[];
  /** Whether this iteration's scan is the last. */
  done: boolean;
  /** Next history values. */
  save: QtnHistory;
  pre: QtnHistory;
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  if (sa.size !== sb.size) return false;
  for (const x of sa) if (!sb.has(x)) return false;
  return true;
}

/**
 * The pseudo-QTN set of iteration t from the previous scan (`prev`, null at t = 1) and the chosen bin
 * candidates (static: {@link binCandidates} of the scheduled bin size; REM: the optimum).
 */
export function selectQtns(
  t: number,
  prev: ScanResult | null,
  candidates: number[],
  history: { save: QtnHistory; pre: QtnHistory },
  settings: SelectionSettings,
  snps: readonly SnpMeta[],
  chrCodes: Float64Array,
): Selection {
  let qtns: number[] = [];
  if (t >= 2 && prev) {
    if (t === 2 && prev.minP > settings.earlyExitP) {
      return { t, earlyExit: true, binCandidates: candidates, qtns: [], done: true, save: history.save, pre: history.pre };
    }
    const pOf = new Map<number, number>();
    for (const list of prev.ranked.values()) for (const l of list) pOf.set(l.snp, l.p);
    prev.qtns.forEach((q, k) => pOf.set(q.snp, prev.qtnP[k]));
    const c = candidates.slice();
    const save = history.save;
    const saveSet = new Set(Array.isArray(save) ? save : []);
    if (Array.isArray(save)) {
      for (const s of save) if (!c.includes(s)) c.push(s);
    }
    const kept: { snp: number; p: number }[] = [];
    for (const snp of c) {
      const p = pOf.get(snp);
      if (p === undefined) throw new Error(`internal: no p for candidate SNP ${snp}`);
      const pass = p < settings.qtnThreshold || (t >= 3 && saveSet.has(snp));
      if (pass) kept.push({ snp, p });
    }
    qtns = ldPrune(
      kept,
      (snp) => {
        const g = prev.genotypes.get(snp);
        if (!g) throw new Error(`internal: no genotype for candidate SNP ${snp}`);
        return g;
      },
      snps,
      chrCodes,
      settings.ldThreshold,
    );
  }
  const save = history.save;
  const pre = history.pre;
  // R: the start sentinel c(0) never intersects a set; NULL is empty.
  const saveArr = Array.isArray(save) ? save : [];
  const unionSize = new Set([...qtns, ...saveArr]).size + (save === 'sentinel' ? 1 : 0);
  const interSize = new Set(qtns.filter((x) => saveArr.includes(x))).size;
  const conv = unionSize === 0 ? NaN : interSize / unionSize;
  const circle = Array.isArray(pre) ? sameSet(qtns, pre) : false;
  const done = t >= settings.maxLoop || conv >= 1 || circle;
  // At t = 1 rMVP's set is NULL (no QTNs yet), which disables carry-forward and the 2-cycle test next time.
  return { t, earlyExit: false, binCandidates: candidates, qtns, done, save: t === 1 ? null : qtns, pre: save };
}
