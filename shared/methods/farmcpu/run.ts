/**
 * FarmCPU driver: runs the iterations of rounds.ts against any {@link RoundBus} (in-process or networked) and
 * returns the final per-SNP rows and the pseudo-QTN history. The same function serves embedded and distributed
 * runs, so their outputs are the same by construction.
 */
import type { SnpMeta } from '../../genotype/types.js';
import type { Logger } from '../../log.js';
import { UsageError } from '../../errors.js';
import type { RoundBus } from './bus.js';
import { roundModel } from './partition.js';
import type { FinalRows, QtnVector, RoundRequest } from './protocol.js';
import {
  FARMCPU_DEFAULTS,
  binCandidates,
  defaultBound,
  mergeReplies,
  selectQtns,
  staticBinSize,
  substitute,
  type QtnHistory,
  type ScanResult,
  type SelectionSettings,
} from './rounds.js';
import { chromosomeCodes, positionKeys } from './bins.js';
import { remCandidates, type RemEvaluation } from './rem.js';

export type BinMethod = 'static' | 'optimum';

export interface FarmCpuSettings {
  /** Pseudo-QTNs proposed per iteration; default round(√n/√log10 n). */
  bound?: number;
  maxLoop: number;
  qtnThreshold: number;
  /** rMVP p.threshold (NA by default): early-exit cut and lower bound of the QTN threshold. */
  pThreshold: number | null;
  binMethod: BinMethod;
  binSizes: readonly number[];
  binSelection: readonly number[];
}

export const DEFAULT_SETTINGS: FarmCpuSettings = {
  maxLoop: FARMCPU_DEFAULTS.maxLoop,
  qtnThreshold: FARMCPU_DEFAULTS.qtnThreshold,
  pThreshold: null,
  binMethod: 'static',
  binSizes: FARMCPU_DEFAULTS.binSizes,
  binSelection: FARMCPU_DEFAULTS.binSelection,
};

export interface FarmCpuModelInputs {
  n: number;
  y: Float64Array;
  cv: Float64Array;
  cvCols: number;
  /** The analysis SNP list (map order). */
  snps: readonly SnpMeta[];
}

export interface IterationRecord {
  iteration: number;
  /** Bin size used to propose candidates (NaN at iteration 1). */
  binSize: number;
  /** Bin count used (the bound for static bins; the optimum for REM). */
  binCount: number;
  binCandidates: number[];
  qtns: number[];
  /** Wall seconds of the iteration (selection + scan) and the partitions' summed scan seconds. */
  seconds: number;
  scanSeconds: number;
  /** REM evaluations (bin method optimum). */
  rem?: RemEvaluation[];
}

export interface FarmCpuResult {
  rows: FinalRows;
  iterations: IterationRecord[];
  earlyExit: boolean;
  bound: number;
}

export async function runFarmCpu(inputs: FarmCpuModelInputs, settings: FarmCpuSettings, bus: RoundBus, log: Logger): Promise<FarmCpuResult> {
  const { snps } = inputs;
  const m = snps.length;
  if (bus.m !== m) throw new UsageError(`the round bus covers ${bus.m} SNPs but the analysis has ${m}`);
  const keys = positionKeys(snps);
  const chr = chromosomeCodes(snps);
  const bound = settings.bound ?? defaultBound(inputs.n);
  const sel: SelectionSettings = {
    m,
    bound,
    maxLoop: settings.maxLoop,
    qtnThreshold: settings.pThreshold === null ? settings.qtnThreshold : Math.max(settings.pThreshold, settings.qtnThreshold),
    earlyExitP: settings.pThreshold ?? 0.01 / m,
    ldThreshold: FARMCPU_DEFAULTS.ldThreshold,
  };
  const counts = [...new Set(settings.binSelection.map((s) => Math.min(s, bound)))];
  const firstQtnCol = 1 + inputs.cvCols;
  log.info(
    `FarmCPU: n = ${inputs.n}, m = ${m}, ${inputs.cvCols} covariate(s), bound = ${bound}, bins ${settings.binMethod} ` +
      `(${settings.binSizes.join(', ')} bp), maxLoop ${settings.maxLoop}, QTN threshold ${sel.qtnThreshold}, early exit above p ${sel.earlyExitP.toPrecision(4)}`,
  );
  let history: { save: QtnHistory; pre: QtnHistory } = { save: 'sentinel', pre: 'sentinel' };
  let prev: ScanResult | null = null;
  const iterations: IterationRecord[] = [];
  for (let t = 1; ; t++) {
    const t0 = performance.now();
    let cands: number[] = [];
    let binSize = NaN;
    let binCount = NaN;
    let rem: RemEvaluation[] | undefined;
    if (t >= 2 && prev) {
      if (settings.binMethod === 'static') {
        binSize = staticBinSize(t, settings.binSizes);
        binCount = bound;
        cands = binCandidates(prev.ranked.get(binSize)!, bound);
      } else {
        const prevQtns = prev.qtns;
        const choice = remCandidates(prev, settings.binSizes, counts, inputs, t >= 3 ? prevQtns : []);
        ({ binSize, binCount, candidates: cands, evaluations: rem } = choice);
      }
    }
    const s = selectQtns(t, prev, cands, history, sel, snps, chr);
    if (s.earlyExit) {
      log.info(`iteration ${t}: smallest p ${prev!.minP.toPrecision(4)} > ${sel.earlyExitP.toPrecision(4)}: early exit, the result is the iteration-1 scan (GLM)`);
      const req: RoundRequest = { round: t, qtns: [], binSizes: [], leadsWithGenotypes: 0, genotypeMaxP: 0, final: true };
      const merged = mergeReplies(req, await bus.scan(req), m);
      const res = substitute(merged, req, roundModel(inputs, []), firstQtnCol, keys);
      return { rows: res.rows!, iterations, earlyExit: true, bound };
    }
    history = { save: s.save, pre: s.pre };
    const qtns: QtnVector[] = s.qtns.map((snp) => ({ snp, genotype: prev!.genotypes.get(snp)! }));
    const nextBins = s.done ? [] : settings.binMethod === 'static' ? [staticBinSize(t + 1, settings.binSizes)] : settings.binSizes.slice();
    const req: RoundRequest = {
      round: t,
      qtns,
      binSizes: nextBins,
      leadsWithGenotypes: s.done ? 0 : settings.binMethod === 'static' ? bound : Math.max(...counts),
      genotypeMaxP: settings.binMethod === 'static' ? sel.qtnThreshold : Infinity,
      final: s.done,
    };
    const replies = await bus.scan(req);
    const merged = mergeReplies(req, replies, m);
    prev = substitute(merged, req, roundModel(inputs, qtns), firstQtnCol, keys);
    const rec: IterationRecord = {
      iteration: t,
      binSize,
      binCount,
      binCandidates: cands,
      qtns: s.qtns,
      seconds: (performance.now() - t0) / 1000,
      scanSeconds: merged.scanSeconds,
      rem,
    };
    iterations.push(rec);
    log.info(
      `iteration ${t}: ${s.qtns.length} pseudo-QTN(s)` +
        (t >= 2 ? ` (bin size ${binSize}, ${binCount} bins)` : '') +
        `, ${replies.length} partition(s), ${rec.seconds.toFixed(2)} s` +
        (s.done ? ' — final' : '') +
        (s.qtns.length ? `: ${s.qtns.map((i) => snps[i].rs).join(',')}` : ''),
      { iteration: t, qtns: s.qtns.map((i) => snps[i].rs), binSize, seconds: rec.seconds },
    );
    if (s.done) return { rows: prev.rows!, iterations, earlyExit: false, bound };
  }
}
