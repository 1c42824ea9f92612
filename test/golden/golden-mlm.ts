/**
 * The shared body of every GEMMA golden test: run gwasgrid's MLM, then compare every SNP of the reference
 * .assoc.txt and the null-model figures of the reference .log.txt.
 *
 * Tolerances (GEMMA prints 7 significant digits in .assoc.txt, 6 in .log.txt):
 * - beta, se: 1e-5 relative; p_wald, p_lrt, p_score: 1e-5 relative or |Δ log10 p| ≤ 1e-5;
 * - l_remle, l_mle: 1e-4 relative unless GEMMA's value is at a bound (1e-5 or 1e5);
 * - logl_H1: 1e-6 relative; n_miss, af, chr, ps, alleles: exactly equal;
 * - null model pve, se(pve), vg, ve, logL: equal when printed to 6 significant digits.
 */
import { expect } from 'vitest';
import { readTsv, worstDeviation, describe as describeDev, type Metric } from '../helpers/assoc.js';
import { gemmaLogFigures } from '../helpers/data.js';
import type { MlmResult } from '../../shared/methods/mlm.js';

export const TOL = { stat: 1e-5, p: 1e-5, lambda: 1e-4, logl: 1e-6 };

const atBound = (v: string) => {
  const x = Number(v);
  return Math.abs(x - 1e-5) / 1e-5 < 1e-6 || Math.abs(x - 1e5) / 1e5 < 1e-6;
};

export function compareWithGemma(result: MlmResult, refAssoc: string, refLog: string, label: string): void {
  const ours = readTsv(result.assocPath);
  const ref = readTsv(refAssoc);
  expect(ours.header).toEqual(ref.header);
  expect(ours.rows.length).toBe(ref.rows.length);
  // Same SNPs in the same order.
  const rs = ours.col('rs');
  expect(ours.rows.map((r) => r[rs])).toEqual(ref.rows.map((r) => r[ref.col('rs')]));
  const checks: Array<[string, Metric, number, ((r: string[], o: string[]) => boolean)?]> = [
    ['chr', 'exact', 0],
    ['ps', 'exact', 0],
    ['n_miss', 'exact', 0],
    ['allele1', 'exact', 0],
    ['allele0', 'exact', 0],
    ['af', 'exact', 0],
    ['beta', 'rel', TOL.stat],
    ['se', 'rel', TOL.stat],
    ['logl_H1', 'rel', TOL.logl],
    ['l_remle', 'rel', TOL.lambda, (r) => atBound(r[ref.col('l_remle')])],
    ['l_mle', 'rel', TOL.lambda, (r) => atBound(r[ref.col('l_mle')])],
    ['p_wald', 'relOrLog10p', TOL.p],
    ['p_lrt', 'relOrLog10p', TOL.p],
    ['p_score', 'relOrLog10p', TOL.p],
  ];
  const report: string[] = [];
  const failures: string[] = [];
  for (const [col, metric, tol, skip] of checks) {
    if (!ref.header.includes(col)) continue;
    const d = worstDeviation(ours, ref, col, metric, 'rs', skip);
    report.push(describeDev(d));
    if (!(d.worst <= tol)) failures.push(`${col}: ${describeDev(d)} exceeds ${tol}`);
  }
  const g = gemmaLogFigures(refLog);
  const m = result.model;
  const six = (x: number) => Number(x.toPrecision(6));
  const figures: Array<[string, number, number]> = [
    ['n analysed', result.samples.analysed.length, g.n],
    ['SNPs analysed', result.qc.counts.kept, g.snps],
    ['REMLE logL', six(m.loglRemle), g.loglRemle],
    ['MLE logL', six(m.loglMle), g.loglMle],
    ['pve', six(m.pve), g.pve],
    ['se(pve)', six(m.pveSe), g.pveSe],
    ['vg', six(m.vg), g.vg],
    ['ve', six(m.ve), g.ve],
  ];
  for (const [name, ours6, ref6] of figures) {
    report.push(`${name}: ours ${ours6}, GEMMA ${ref6}`);
    if (ours6 !== ref6) failures.push(`${name}: ours ${ours6} != GEMMA ${ref6}`);
  }
  console.log(`[golden ${label}]\n  ${report.join('\n  ')}`);
  expect(failures).toEqual([]);
}
