/**
 * FarmCPU's coordinator rules on small hand-made cases: tie rules of bin leads and their ranking, map-order
 * candidates, R `union` carry-forward, the p filter, LD pruning against removed candidates, convergence and
 * the 2-cycle, the bound, partition ranges, merge order independence, and R's uniroot.
 */
import { describe, expect, it } from 'vitest';
import { compareLeads, leadBetter } from '../../shared/methods/farmcpu/partition.js';
import {
  binCandidates,
  defaultBound,
  ldPrune,
  mergeReplies,
  selectQtns,
  roundHalfEven,
  type ScanResult,
  type SelectionSettings,
} from '../../shared/methods/farmcpu/rounds.js';
import { partitionRanges } from '../../shared/methods/farmcpu/bus.js';
import { chromosomeCodes } from '../../shared/methods/farmcpu/bins.js';
import { uniroot } from '../../shared/stats/uniroot.js';
import type { PartitionReply, RoundRequest } from '../../shared/methods/farmcpu/protocol.js';
import type { SnpMeta } from '../../shared/genotype/types.js';

const snp = (chr: string, pos: number, rs = `${chr}:${pos}`): SnpMeta => ({ chr, pos, rs, cm: -9, a1: 'A', a0: 'B' });

describe('FarmCPU rounds', () => {
  it('bin leads: smaller p, ties to the smaller SNP index, NA last; ranking ties by bin id', () => {
    expect(leadBetter(0.1, 5, { bin: 0, snp: 3, p: 0.2 })).toBe(true);
    expect(leadBetter(0.2, 2, { bin: 0, snp: 3, p: 0.2 })).toBe(true);
    expect(leadBetter(0.2, 4, { bin: 0, snp: 3, p: 0.2 })).toBe(false);
    expect(leadBetter(NaN, 1, { bin: 0, snp: 3, p: 0.9 })).toBe(false);
    expect(leadBetter(0.9, 9, { bin: 0, snp: 3, p: NaN })).toBe(true);
    const leads = [
      { bin: 5, snp: 50, p: 0.01 },
      { bin: 2, snp: 20, p: 0.01 },
      { bin: 1, snp: 10, p: NaN },
      { bin: 3, snp: 30, p: 0.001 },
    ];
    expect(leads.slice().sort(compareLeads).map((l) => l.bin)).toEqual([3, 2, 5, 1]);
    // Candidates are the best s leads, reported in map order.
    expect(binCandidates(leads.slice().sort(compareLeads), 2)).toEqual([20, 30]);
  });

  it('bound = round(√n/√log10 n) for the reference sample sizes', () => {
    expect([279, 276, 249, 1410, 1580, 1956].map(defaultBound)).toEqual([11, 11, 10, 21, 22, 24]);
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(3.5)).toBe(4);
  });

  it('LD pruning drops a candidate correlated with any earlier one, even a dropped one; same position kept once', () => {
    // r(0,1) = 0.88, r(1,3) = 0.83, r(0,3) = 0.62: 3 is dropped only because of 1, which was itself dropped.
    const g: Record<number, number[]> = {
      0: [0, 1, 2, 0, 1, 2, 0, 1, 2, 0],
      1: [0, 1, 2, 0, 1, 2, 1, 2, 2, 0],
      2: [2, 1, 0, 0, 0, 2, 2, 0, 1, 1],
      3: [0, 1, 2, 1, 1, 2, 2, 2, 2, 1],
      4: [0, 0, 0, 2, 2, 2, 1, 1, 0, 2],
    };
    const snps = [snp('1', 100), snp('1', 200), snp('1', 300), snp('1', 400), snp('1', 300, 'dup')];
    const codes = chromosomeCodes(snps);
    const out = ldPrune(
      [
        { snp: 2, p: 0.003 },
        { snp: 0, p: 0.001 },
        { snp: 1, p: 0.002 },
        { snp: 4, p: 0.004 },
        { snp: 3, p: 0.0035 },
      ],
      (s) => Float64Array.from(g[s]),
      snps,
      codes,
      0.7,
    );
    // Order by p: 0, 1, 2, 3, 4 (same position as 2 → dropped). 1 correlates with 0 → dropped; 3 correlates
    // with the dropped 1 → dropped too (rMVP's rule, not a greedy keep-and-remove pass).
    expect(out).toEqual([0, 2]);
    // Without SNP 1, SNP 3 survives.
    expect(ldPrune([{ snp: 0, p: 0.001 }, { snp: 3, p: 0.002 }], (s) => Float64Array.from(g[s]), snps, codes, 0.7)).toEqual([0, 3]);
  });

  it('chromosome codes: numbers kept, other labels after the largest number in order of appearance', () => {
    expect(Array.from(chromosomeCodes([snp('2', 1), snp('X', 1), snp('10', 1), snp('Y', 1), snp('X', 2)]))).toEqual([2, 11, 10, 12, 11]);
  });

  it('selection: early exit, union order, p filter keeps previous QTNs, convergence and the 2-cycle', () => {
    const snps = Array.from({ length: 10 }, (_, i) => snp('1', (i + 1) * 1e6));
    const chr = chromosomeCodes(snps);
    const geno = (i: number) => Float64Array.from({ length: 12 }, (_, k) => ((k * (i + 3)) % 7) % 3);
    const settings: SelectionSettings = { m: 10, bound: 3, maxLoop: 10, qtnThreshold: 0.01, earlyExitP: 0.001, ldThreshold: 0.99 };
    const scan = (pOf: Record<number, number>, qtns: number[] = []): ScanResult => ({
      round: 1,
      qtns: qtns.map((s) => ({ snp: s, genotype: geno(s) })),
      qtnP: Float64Array.from(qtns.map((s) => pOf[s])),
      qtnEffect: new Float64Array(qtns.length),
      qtnSe: new Float64Array(qtns.length),
      zeroP: 0,
      ranked: new Map([[5e5, Object.entries(pOf).map(([s, p]) => ({ bin: Number(s), snp: Number(s), p }))]]),
      minP: Math.min(...Object.values(pOf)),
      genotypes: new Map(Object.keys(pOf).map((s) => [Number(s), geno(Number(s))])),
      rows: null,
    });
    // t = 2 with min p above 0.01/m: early exit.
    expect(selectQtns(2, scan({ 1: 0.002, 2: 0.5 }), [1], { save: null, pre: 'sentinel' }, settings, snps, chr).earlyExit).toBe(true);
    // t = 2: p filter drops 0.5; no carry-forward from NULL.
    const s2 = selectQtns(2, scan({ 1: 1e-5, 2: 0.5, 3: 0.004 }), [1, 2, 3], { save: null, pre: 'sentinel' }, settings, snps, chr);
    expect(s2.qtns).toEqual([1, 3]);
    expect(s2.done).toBe(false);
    // t = 3: previous QTN 3 kept despite p 0.2; new candidate 5 first in union order, then sorted by p.
    const s3 = selectQtns(3, scan({ 1: 1e-6, 3: 0.2, 5: 1e-4 }, [1, 3]), [5, 1], { save: s2.save, pre: s2.pre }, settings, snps, chr);
    expect(s3.qtns).toEqual([1, 5, 3]);
    expect(s3.done).toBe(false);
    // t = 4: same set → converged.
    const s4 = selectQtns(4, scan({ 1: 1e-6, 3: 0.2, 5: 1e-4 }, [1, 5, 3]), [1, 5], { save: s3.save, pre: s3.pre }, settings, snps, chr);
    expect(s4.done).toBe(true);
    // 2-cycle: the set equals the one two iterations back (not the last one) → done.
    const cyc = selectQtns(5, scan({ 1: 1e-6, 3: 0.005, 5: 1e-4, 7: 1e-3 }, [1, 5]), [3, 7], { save: [1, 5], pre: [1, 5, 3, 7] }, settings, snps, chr);
    expect(new Set(cyc.qtns)).toEqual(new Set([1, 3, 5, 7]));
    expect(cyc.done).toBe(true);
    const noCycle = selectQtns(5, scan({ 1: 1e-6, 3: 0.005, 5: 1e-4, 7: 1e-3 }, [1, 5]), [3, 7], { save: [1, 5], pre: [1, 5, 3] }, settings, snps, chr);
    expect(noCycle.done).toBe(false);
  });

  it('partition ranges are aligned, cover [0, m) and merging does not depend on reply order', () => {
    const ranges = partitionRanges(1000, 7, 64);
    expect(ranges[0].start).toBe(0);
    expect(ranges.at(-1)!.end).toBe(1000);
    ranges.slice(1).forEach((r, k) => {
      expect(r.start).toBe(ranges[k].end);
      expect(r.start % 64).toBe(0);
    });
    const req: RoundRequest = { round: 2, qtns: [{ snp: 0, genotype: new Float64Array(2) }], binSizes: [10], leadsWithGenotypes: 1, genotypeMaxP: 1, final: false };
    const reply = (partition: number, start: number, end: number, leads: Array<[number, number, number]>, reward: number): PartitionReply => ({
      round: 2,
      partition,
      start,
      end,
      leads: [{ binSize: 10, leads: leads.map(([bin, s, p]) => ({ bin, snp: s, p })) }],
      rewardP: Float64Array.of(reward),
      candidates: [],
      minP: Math.min(...leads.map((l) => l[2])),
      minNonZeroP: Math.min(...leads.map((l) => l[2])),
      seconds: 0,
      rows: null,
    });
    const a = reply(0, 0, 5, [[0, 1, 0.2], [1, 4, 0.05]], 0.3);
    const b = reply(1, 5, 9, [[1, 5, 0.05], [2, 8, 0.01]], 0.1);
    const m1 = mergeReplies(req, [a, b], 9);
    const m2 = mergeReplies(req, [b, a], 9);
    expect([...m1.leads.get(10)!.values()]).toEqual([...m2.leads.get(10)!.values()]);
    expect(m1.leads.get(10)!.get(1)!.snp).toBe(4); // tie at p 0.05 → smaller index
    expect(m1.rewardP[0]).toBe(0.1);
    expect(() => mergeReplies(req, [a], 9)).toThrow(/cover/);
  });

  it('uniroot (R zeroin) finds roots to its tolerance', () => {
    const f = (x: number) => Math.cos(x) - x;
    const r = uniroot(f, 0, 1, 1e-12);
    expect(Math.abs(r - 0.7390851332151607)).toBeLessThan(1e-11);
    const g = (x: number) => x * x * x - 2;
    expect(Math.abs(uniroot(g, 0, 2) - Math.cbrt(2))).toBeLessThan(1.3e-4);
  });
});
