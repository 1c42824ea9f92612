/**
 * The worker side of a FarmCPU round: scan SNPs [start, end) with the fixed-effect model
 * W = [1, covariates, pseudo-QTN genotypes] and answer with exactly what the coordinator needs (protocol.ts).
 * Stateless apart from the cached inputs (imputed genotypes, y, covariates, position keys).
 *
 * Tie rules (rMVP 1.4.6 `FarmCPU.Specify`, spec §1.5): within a bin the lead is the SNP with the smallest p,
 * ties to the smaller SNP index (map order), NA p last; leads are ranked by (p, bin id), NA last.
 */
import type { LinalgBackend } from '../../linalg/backend.js';
import type { AnalysedGenotypes } from '../../fem/genotypes.js';
import { allocRows, allocScratch, femTestProducts, fitFemModel, markerModelP, reducedCovariateP, type CovariateTracker, type FemModel } from '../../fem/scan.js';
import { binOf } from './bins.js';
import type { BinLead, BinLeads, CandidateGenotype, FinalRows, PartitionReply, QtnVector, RoundRequest } from './protocol.js';

/** What every partition of one analysis shares (a worker caches it across rounds). */
export interface PartitionInputs {
  /** Analysed samples. */
  n: number;
  y: Float64Array;
  /** Covariates without the intercept, row-major n × cvCols (PCs first, then user covariates). */
  cv: Float64Array;
  cvCols: number;
  /** Imputed genotypes covering at least the partition's SNPs. */
  genotypes: AnalysedGenotypes;
  /** Position key (chr·1e10 + pos) of every SNP of the analysis. */
  keys: Float64Array;
  backend: LinalgBackend;
  /** SNPs per GEMM block (default 256). */
  blockSize?: number;
}

/** The design matrix [1, cv, qtn genotypes], row-major n × q0. */
export function designMatrix(n: number, cv: Float64Array, cvCols: number, qtns: readonly QtnVector[]): { W: Float64Array; q0: number } {
  const q0 = 1 + cvCols + qtns.length;
  const W = new Float64Array(n * q0);
  for (let i = 0; i < n; i++) {
    const o = i * q0;
    W[o] = 1;
    for (let j = 0; j < cvCols; j++) W[o + 1 + j] = cv[i * cvCols + j];
    for (let k = 0; k < qtns.length; k++) W[o + 1 + cvCols + k] = qtns[k].genotype[i];
  }
  return { W, q0 };
}

/** The fixed-effect model of a round (also used by the coordinator for the reduced-model QTN effects). */
export function roundModel(inputs: Pick<PartitionInputs, 'n' | 'y' | 'cv' | 'cvCols'>, qtns: readonly QtnVector[]): FemModel {
  const { W, q0 } = designMatrix(inputs.n, inputs.cv, inputs.cvCols, qtns);
  return fitFemModel(inputs.y, W, inputs.n, q0);
}

/** Lead order: smaller p first, NaN last; equal p → smaller SNP index. */
export function leadBetter(p: number, snp: number, than: BinLead): boolean {
  const pn = p === p;
  const tn = than.p === than.p;
  if (pn !== tn) return pn;
  if (pn && p !== than.p) return p < than.p;
  return snp < than.snp;
}

/** Ranking of leads: (p ascending, NaN last, then bin id ascending). */
export function compareLeads(a: BinLead, b: BinLead): number {
  const an = a.p === a.p;
  const bn = b.p === b.p;
  if (an !== bn) return an ? -1 : 1;
  if (an && a.p !== b.p) return a.p < b.p ? -1 : 1;
  return a.bin - b.bin;
}

/**
 * Products of one partition's SNPs with the columns of the model, kept across rounds: xᵀx, xᵀ1, xᵀcv, xᵀy once,
 * and xᵀg for every pseudo-QTN g when it first enters the model (QTN sets grow by carry-forward, so most are
 * reused; the GEMM work per iteration is m·n·(new QTNs) instead of m·n·q0). Products of a column are the same
 * whichever columns share its GEMM call (row and column determinism of the backends), so a cache never
 * changes a result. Columns of SNPs that left the model are dropped.
 */
export class PartitionProducts {
  /** len × (cvCols + 2): [xᵀ1, xᵀcv…, xᵀy]. */
  base: Float64Array | null = null;
  xx: Float64Array | null = null;
  readonly qtn = new Map<number, Float64Array>();

  constructor(
    readonly start: number,
    readonly end: number,
  ) {}

  /** Computes what `qtns` need and is missing. O(len·n·(new columns)) on the backend. */
  async ensure(inputs: PartitionInputs, qtns: readonly QtnVector[]): Promise<void> {
    const { n, cv, cvCols, y, genotypes: G, backend } = inputs;
    const bs = inputs.blockSize ?? 256;
    const wantedSet = new Set(qtns.map((q) => q.snp));
    for (const snp of [...this.qtn.keys()]) if (!wantedSet.has(snp)) this.qtn.delete(snp);
    const fresh = qtns.filter((q) => !this.qtn.has(q.snp));
    const needBase = this.base === null;
    if (!needBase && fresh.length === 0) return;
    const len = this.end - this.start;
    const nb = needBase ? cvCols + 2 : 0;
    const cols = nb + fresh.length;
    const B = new Float64Array(n * cols);
    for (let i = 0; i < n; i++) {
      const o = i * cols;
      if (needBase) {
        B[o] = 1;
        for (let j = 0; j < cvCols; j++) B[o + 1 + j] = cv[i * cvCols + j];
        B[o + 1 + cvCols] = y[i];
      }
      for (let k = 0; k < fresh.length; k++) B[o + nb + k] = fresh[k].genotype[i];
    }
    const base = needBase ? new Float64Array(len * nb) : null;
    const xx = needBase ? new Float64Array(len) : null;
    const vecs = fresh.map(() => new Float64Array(len));
    const X = new Float64Array(bs * n);
    const C = new Float64Array(bs * cols);
    for (let s = this.start; s < this.end; s += bs) {
      const c = Math.min(bs, this.end - s);
      G.fillRows(s, c, X);
      await backend.gemm(c, cols, n, X.subarray(0, c * n), B, C.subarray(0, c * cols), 0);
      const r0 = s - this.start;
      for (let r = 0; r < c; r++) {
        const co = r * cols;
        if (base && xx) {
          for (let j = 0; j < nb; j++) base[(r0 + r) * nb + j] = C[co + j];
          const xo = r * n;
          let v = 0;
          for (let i = 0; i < n; i++) v += X[xo + i] * X[xo + i];
          xx[r0 + r] = v;
        }
        for (let k = 0; k < fresh.length; k++) vecs[k][r0 + r] = C[co + nb + k];
      }
    }
    if (base && xx) {
      this.base = base;
      this.xx = xx;
    }
    fresh.forEach((q, k) => this.qtn.set(q.snp, vecs[k]));
  }
}

/**
 * Scans SNPs [start, end) for one round and builds the reply. Applies rMVP's covariate quirk for the reward:
 * in a collinear row `glm_c` writes NA over the p of W column q0 − 2, so that column's reduced-model p does
 * not enter its minimum (spec §1.3).
 */
export async function scanPartition(
  inputs: PartitionInputs,
  req: RoundRequest,
  part: { id: number; start: number; end: number },
  products: PartitionProducts = new PartitionProducts(part.start, part.end),
): Promise<PartitionReply> {
  const t0 = performance.now();
  if (products.start !== part.start || products.end !== part.end) throw new RangeError('products cache of another partition');
  await products.ensure(inputs, req.qtns);
  const { genotypes: G, backend, keys } = inputs;
  const bs = inputs.blockSize ?? 256;
  const model = roundModel(inputs, req.qtns);
  const q0 = model.q0;
  const nq = req.qtns.length;
  const firstQtnCol = 1 + inputs.cvCols;
  const tracker: CovariateTracker = {
    cols: Int32Array.from({ length: nq }, (_, k) => firstQtnCol + k),
    maxAbsT: new Float64Array(nq).fill(-Infinity),
    collinearRows: 0,
  };
  const { start, end } = part;
  const len = end - start;
  const p = new Float64Array(len);
  const rows: FinalRows | null = req.final
    ? {
        start,
        effect: new Float64Array(len),
        se: new Float64Array(len),
        p: new Float64Array(len),
        log10p: new Float64Array(len),
        nMiss: new Int32Array(len),
        af: new Float64Array(len),
        afAll: new Float64Array(len),
        a1Sum: new Float64Array(len),
      }
    : null;
  const out = allocRows(bs);
  const scratch = allocScratch(bs, q0);
  const q1 = q0 + 1;
  const Gm = new Float64Array(bs * q1);
  const nb = inputs.cvCols + 2;
  const base = products.base!;
  const xxAll = products.xx!;
  const qcols = req.qtns.map((q) => products.qtn.get(q.snp)!);
  let minP = NaN;
  let minNonZeroP = Infinity;
  const isQtn = new Set(req.qtns.map((q) => q.snp));
  for (let s = start; s < end; s += bs) {
    const c = Math.min(bs, end - s);
    const r0 = s - start;
    for (let r = 0; r < c; r++) {
      const go = r * q1;
      const bo = (r0 + r) * nb;
      for (let j = 0; j < nb - 1; j++) Gm[go + j] = base[bo + j];
      for (let k = 0; k < nq; k++) Gm[go + nb - 1 + k] = qcols[k][r0 + r];
      Gm[go + q0] = base[bo + nb - 1];
    }
    await femTestProducts(model, backend, Gm, xxAll.subarray(r0, r0 + c), c, out, scratch, { tracker });
    for (let r = 0; r < c; r++) {
      const i = r0 + r;
      const pv = out.p[r];
      p[i] = pv;
      if (!isQtn.has(s + r) && pv === pv) {
        if (!(pv >= minP)) minP = pv;
        if (pv > 0 && pv < minNonZeroP) minNonZeroP = pv;
      }
      if (rows) {
        rows.effect[i] = out.beta[r];
        rows.se[i] = out.se[r];
        rows.p[i] = pv;
        rows.log10p[i] = out.logp[r] / Math.LN10;
        const snp = s + r;
        rows.nMiss[i] = G.stat('nMiss', snp);
        rows.af[i] = G.stat('af', snp);
        rows.afAll[i] = G.stat('afAll', snp);
        rows.a1Sum[i] = G.stat('a1Sum', snp);
      }
    }
  }
  const rewardP = new Float64Array(nq).fill(NaN);
  for (let k = 0; k < nq; k++) {
    let best = tracker.maxAbsT[k] >= 0 ? markerModelP(model, tracker.maxAbsT[k]) : NaN;
    const col = firstQtnCol + k;
    if (tracker.collinearRows > 0 && col !== q0 - 2) {
      const red = reducedCovariateP(model, col);
      if (red === red && !(best <= red)) best = red;
    }
    rewardP[k] = best;
  }
  const leads: BinLeads[] = [];
  const wanted = new Set<number>();
  for (const binSize of req.binSizes) {
    const byBin = new Map<number, BinLead>();
    for (let i = 0; i < len; i++) {
      const snp = start + i;
      if (isQtn.has(snp)) continue;
      const bin = binOf(keys[snp], binSize);
      const cur = byBin.get(bin);
      if (!cur) byBin.set(bin, { bin, snp, p: p[i] });
      else if (leadBetter(p[i], snp, cur)) {
        cur.snp = snp;
        cur.p = p[i];
      }
    }
    const list = [...byBin.values()].sort((a, b) => a.bin - b.bin);
    leads.push({ binSize, leads: list });
    if (req.leadsWithGenotypes > 0) {
      const ranked = list.slice().sort(compareLeads);
      const all = req.genotypeMaxP === Infinity;
      for (let k = 0; k < ranked.length && k < req.leadsWithGenotypes; k++) {
        if (all || ranked[k].p < req.genotypeMaxP) wanted.add(ranked[k].snp);
      }
    }
  }
  const candidates: CandidateGenotype[] = [...wanted].sort((a, b) => a - b).map((snp) => ({ snp, genotype: G.row(snp) }));
  return {
    round: req.round,
    partition: part.id,
    start,
    end,
    leads,
    rewardP,
    candidates,
    minP,
    minNonZeroP,
    seconds: (performance.now() - t0) / 1000,
    rows,
  };
}
