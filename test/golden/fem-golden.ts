/**
 * Shared checks for the fixed-effect golden tests (GLM, FarmCPU) against rMVP 1.4.6 / plink2 references
 * (commands in ../shared/data/<set>/reference/farmcpu_cmlm_README.md and the data READMEs).
 */
import { expect } from 'vitest';
import { readTsv } from '../helpers/assoc.js';
import type { FinalRows } from '../../shared/methods/farmcpu/protocol.js';
import type { SnpMeta } from '../../shared/genotype/types.js';
import type { IterationRecord } from '../../shared/methods/farmcpu/run.js';

/** |Δ log10 p| allowed against rMVP (the bar; rMVP and GAPIT agree to 4e-10). */
export const LOG10P_TOL = 1e-6;
/** Effect and se: relative to max(|ref|, ref se) — an estimate's error on its own uncertainty scale. */
export const EFFECT_TOL = 1e-6;

export interface RmvpComparison {
  worstLog10p: number;
  worstEffect: number;
  worstSe: number;
  compared: number;
  naRows: number;
}

/**
 * Compares our rows with an rMVP result table (SNP Chr Pos effect se p): NA exactly where rMVP has NA, then
 * log10 p, effect and se. Returns and prints the worst deviations.
 */
export function compareWithRmvp(refPath: string, snps: readonly SnpMeta[], rows: FinalRows, label: string): RmvpComparison {
  const ref = readTsv(refPath);
  const [cs, ce, cse, cp] = ['SNP', 'effect', 'se', 'p'].map((c) => ref.col(c));
  const index = new Map(snps.map((s, i) => [s.rs, i]));
  expect(ref.rows.length).toBe(snps.length);
  let worstLog10p = 0;
  let worstEffect = 0;
  let worstSe = 0;
  let naRows = 0;
  let compared = 0;
  let at = '';
  for (const r of ref.rows) {
    const i = index.get(r[cs]);
    if (i === undefined) throw new Error(`${label}: ${r[cs]} missing from our SNPs`);
    if (r[cp] === 'NA') {
      naRows++;
      expect(Number.isNaN(rows.p[i]), `${label}: ${r[cs]} should be NA`).toBe(true);
      continue;
    }
    expect(Number.isNaN(rows.p[i]), `${label}: ${r[cs]} is NA but rMVP has ${r[cp]}`).toBe(false);
    compared++;
    const dp = Math.abs(rows.log10p[i] - Math.log10(Number(r[cp])));
    if (dp > worstLog10p) {
      worstLog10p = dp;
      at = r[cs];
    }
    const refSe = Number(r[cse]);
    const scale = Math.max(Math.abs(Number(r[ce])), refSe);
    worstEffect = Math.max(worstEffect, Math.abs(rows.effect[i] - Number(r[ce])) / scale);
    worstSe = Math.max(worstSe, Math.abs(rows.se[i] - refSe) / refSe);
  }
  console.log(
    `${label}: ${compared} SNPs vs rMVP, worst |Δlog10 p| ${worstLog10p.toExponential(2)} (${at}), effect ${worstEffect.toExponential(2)}, se ${worstSe.toExponential(2)}; ${naRows} NA rows match`,
  );
  expect(worstLog10p).toBeLessThanOrEqual(LOG10P_TOL);
  expect(worstEffect).toBeLessThanOrEqual(EFFECT_TOL);
  expect(worstSe).toBeLessThanOrEqual(EFFECT_TOL);
  return { worstLog10p, worstEffect, worstSe, compared, naRows };
}

/** The pseudo-QTN set of every iteration equals the reference iterations file (column pseudoQTN_snp), in order. */
export function compareIterations(refPath: string, snps: readonly SnpMeta[], iterations: readonly IterationRecord[], label: string): void {
  const ref = readTsv(refPath);
  const c = ref.col('pseudoQTN_snp');
  const expected = ref.rows.map((r) => r[c] ?? '');
  const ours = iterations.map((it) => it.qtns.map((i) => snps[i].rs).join(','));
  expect(ours, `${label}: pseudo-QTNs per iteration`).toEqual(expected);
  console.log(`${label}: ${ours.length} iterations, pseudo-QTN sets equal the reference (${iterations.map((it) => it.qtns.length).join(', ')})`);
}
