/**
 * The generic result row every output format is written from (one per tested SNP), and the genomic inflation
 * factor λGC of a scan.
 *
 * A row holds the SNP (chr, rs, ps, the counted allele a1 and the other allele a0), its allele-1 frequency and
 * missing-call count among the analysed samples, the number of analysed samples, the effect of one copy of a1
 * with its standard error, and the p-value of the method's primary test (kept as log10 so that tails below
 * 1e-300 survive). Method-specific statistics go in `extra`.
 */
import type { SnpMeta } from '../genotype/types.js';
import type { LmmMode, LmmRow } from '../lmm/scan.js';
import { chisqQuantileUpperLog } from '../stats/quantiles.js';
import { streamLines } from '../io/lines.js';

export interface ResultRow {
  chr: string;
  rs: string;
  ps: number;
  /** Counted (effect) allele. */
  a1: string;
  /** Other allele. */
  a0: string;
  /** Frequency of a1 among the analysed samples' non-missing calls. */
  af: number;
  /** Analysed samples with a missing call. */
  nMiss: number;
  /** Analysed samples (missing calls were mean-imputed, so every analysed sample enters the test). */
  nObs: number;
  /** Effect per copy of a1; NaN when the test has none (LRT). */
  beta: number;
  se: number;
  /** log10 of the primary p-value; NaN when the SNP could not be tested. */
  log10p: number;
  extra?: Record<string, number>;
}

/** Which MLM p-value is "the" p of a row: Wald for -lmm 1 and 4, LRT for 2, score for 3. */
export function primaryLog10p(mode: LmmMode, r: LmmRow): number {
  return mode === 2 ? r.log10pLrt : mode === 3 ? r.log10pScore : r.log10pWald;
}

/** The test-dependent values of an MLM result row: effect and standard error (NaN for the LRT), primary log10 p. */
export interface MlmRowValues {
  beta: number;
  se: number;
  log10p: number;
}

/** The values {@link mlmResultRow} takes from a test result. */
export function mlmRowValues(mode: LmmMode, r: LmmRow): MlmRowValues {
  return { beta: mode === 2 ? NaN : r.beta, se: mode === 2 ? NaN : r.se, log10p: primaryLog10p(mode, r) };
}

/** The generic row of one MLM result. */
export function mlmResultRow(snp: SnpMeta, nMiss: number, af: number, nObs: number, mode: LmmMode, r: LmmRow): ResultRow {
  return rowOfValues(snp, nMiss, af, nObs, mlmRowValues(mode, r));
}

/** The generic row of a SNP (metadata, QC counts) and its test values. */
export function rowOfValues(snp: SnpMeta, nMiss: number, af: number, nObs: number, v: MlmRowValues): ResultRow {
  return { chr: snp.chr, rs: snp.rs, ps: snp.pos, a1: snp.a1, a0: snp.a0, af, nMiss, nObs, beta: v.beta, se: v.se, log10p: v.log10p };
}

/** The constant of λGC: the median of χ²₁, qchisq(0.5, 1). */
export const CHISQ1_MEDIAN = 0.454936423119572;

/**
 * Genomic inflation λGC = median(χ²) / 0.4549364 (Devlin & Roeder 1999), with χ² = qchisq(p, 1, upper) of each
 * tested SNP's primary p-value (so it is defined for every test, not only for Wald statistics). SNPs without a
 * p-value are ignored. O(m) memory (one double per SNP), O(m log m) at the end.
 */
export class LambdaGc {
  private chi = new Float64Array(1024);
  private n = 0;

  add(log10p: number): void {
    if (!(log10p <= 0)) return;
    if (this.n === this.chi.length) {
      const next = new Float64Array(this.chi.length * 2);
      next.set(this.chi);
      this.chi = next;
    }
    this.chi[this.n++] = chisqQuantileUpperLog(log10p * Math.LN10, 1);
  }

  get count(): number {
    return this.n;
  }

  /** λGC, or NaN without any p-value. */
  value(): number {
    if (this.n === 0) return NaN;
    const v = this.chi.slice(0, this.n).sort();
    const h = this.n >> 1;
    const median = this.n % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
    return median / CHISQ1_MEDIAN;
  }
}

/**
 * λGC of a written GEMMA .assoc.txt (the distributed coordinator's merged file): the primary p column of the
 * mode (p_wald, or p_lrt / p_score for -lmm 2 / 3), parsed from text including exponents beyond double range.
 */
export async function lambdaFromAssoc(path: string, mode: LmmMode): Promise<{ value: number; count: number }> {
  const col = mode === 2 ? 'p_lrt' : mode === 3 ? 'p_score' : 'p_wald';
  const lambda = new LambdaGc();
  let idx = -1;
  for await (const { line } of streamLines(path)) {
    if (idx < 0) {
      idx = line.split('\t').indexOf(col);
      if (idx < 0) return { value: NaN, count: 0 };
      continue;
    }
    const tok = line.split('\t')[idx];
    const m = /^(\d*\.?\d+)e([+-]\d+)$/i.exec(tok ?? '');
    if (m) lambda.add(Math.log10(Number(m[1])) + Number(m[2]));
    else if (tok !== undefined && tok !== 'NA' && Number(tok) > 0) lambda.add(Math.log10(Number(tok)));
  }
  return { value: lambda.value(), count: lambda.count };
}
