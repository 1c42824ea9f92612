/**
 * plink2 `--glm` linear-regression output (`PREFIX.glm.linear`), with the columns plink2 writes for
 * `cols=chrom,pos,ref,alt,a1count,a1freq,nobs,beta,se,tz,p` (PLINK 2.00a3.5):
 * `#CHROM POS ID REF ALT A1 A1_CT A1_FREQ OBS_CT BETA SE T_STAT P`, numbers with 6 significant digits (`%g`).
 *
 * Conventions reproduced from plink2: REF/ALT are the .bim's second/first allele (allele0/allele1); the tested
 * allele A1 is the **minor** one by frequency over all samples of the file (ALT unless ALT is more frequent,
 * ties to ALT), and BETA/T_STAT are per copy of A1; NA statistics where the genotype is constant or
 * collinear. Difference by design: plink2 drops samples with a missing call per SNP, we impute them
 * (`--impute`), so OBS_CT is the number of samples in the regression and A1_CT/A1_FREQ count observed calls.
 */
import type { SnpMeta } from '../genotype/types.js';
import { formatG } from './format.js';

export const GLM_LINEAR_HEADER = '#CHROM\tPOS\tID\tREF\tALT\tA1\tA1_CT\tA1_FREQ\tOBS_CT\tBETA\tSE\tT_STAT\tP\n';

/** plink2-style `%g` with 6 significant digits; p below 1e-300 from its log10. */
export function plinkNumber(x: number): string {
  if (!Number.isFinite(x)) return 'NA';
  return formatG(x, 6);
}

function plinkP(p: number, log10p: number): string {
  if (p === p && p >= 1e-300) return formatG(p, 6);
  if (!(log10p === log10p) || !Number.isFinite(log10p)) return p === p ? formatG(p, 6) : 'NA';
  let ex = Math.floor(log10p);
  let mant = Number(Math.pow(10, log10p - ex).toPrecision(6));
  if (mant >= 10) {
    mant /= 10;
    ex += 1;
  }
  return `${formatG(mant, 6)}e-${String(-ex).padStart(2, '0')}`;
}

export interface GlmLinearRow {
  snp: SnpMeta;
  /** Allele1 (ALT) frequency over all samples in the file (chooses A1). */
  afAll: number;
  /** Allele1 copies among observed analysed calls, and the number of observed calls. */
  a1Sum: number;
  observed: number;
  /** Samples in the regression. */
  nObs: number;
  /** Per copy of allele1 (ALT). */
  beta: number;
  se: number;
  p: number;
  log10p: number;
}

export function glmLinearLine(r: GlmLinearRow): string {
  const flip = r.afAll > 0.5;
  const a1 = flip ? r.snp.a0 : r.snp.a1;
  const a1ct = flip ? 2 * r.observed - r.a1Sum : r.a1Sum;
  const freq = r.observed > 0 ? a1ct / (2 * r.observed) : NaN;
  const sign = flip ? -1 : 1;
  const beta = sign * r.beta;
  const t = beta / r.se;
  const fit = Number.isFinite(r.beta) && Number.isFinite(r.se);
  return (
    `${r.snp.chr}\t${r.snp.pos}\t${r.snp.rs}\t${r.snp.a0}\t${r.snp.a1}\t${a1}\t${plinkNumber(a1ct)}\t${plinkNumber(freq)}\t${r.nObs}\t` +
    (fit ? `${plinkNumber(beta)}\t${plinkNumber(r.se)}\t${plinkNumber(t)}\t${plinkP(r.p, r.log10p)}` : 'NA\tNA\tNA\tNA') +
    '\n'
  );
}
