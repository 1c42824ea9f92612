/**
 * GEMMA `.assoc.txt` writer (GEMMA 0.98.5 src/lmm.cpp WriteFiles; FORMATS.md §2.1): tab-separated, header
 * `chr rs ps n_miss allele1 allele0 af` then the test columns of the chosen `-lmm` mode; statistics in `%e`
 * with 6 decimals, af fixed with 3 decimals. Unfittable values print as `NA`.
 */
import type { SnpMeta } from '../genotype/types.js';
import type { LmmMode, LmmRow } from '../lmm/scan.js';
import { formatE, formatFixed, formatP } from './format.js';

export const LEADING_COLUMNS = ['chr', 'rs', 'ps', 'n_miss', 'allele1', 'allele0', 'af'] as const;

export function lmmColumns(mode: LmmMode): string[] {
  switch (mode) {
    case 1:
      return ['beta', 'se', 'logl_H1', 'l_remle', 'p_wald'];
    case 2:
      return ['logl_H1', 'l_mle', 'p_lrt'];
    case 3:
      return ['beta', 'se', 'p_score'];
    case 4:
      return ['beta', 'se', 'logl_H1', 'l_remle', 'l_mle', 'p_wald', 'p_lrt', 'p_score'];
  }
}

export function assocHeader(mode: LmmMode): string {
  return [...LEADING_COLUMNS, ...lmmColumns(mode)].join('\t') + '\n';
}

const p = (log10p: number) => formatP(Math.pow(10, log10p), log10p);

/** One output line (with newline). */
export function assocLine(snp: SnpMeta, nMiss: number, af: number, mode: LmmMode, r: LmmRow): string {
  const lead = `${snp.chr}\t${snp.rs}\t${snp.pos}\t${nMiss}\t${snp.a1}\t${snp.a0}\t${formatFixed(af, 3)}`;
  let tail: string;
  switch (mode) {
    case 1:
      tail = `${formatE(r.beta)}\t${formatE(r.se)}\t${formatE(r.loglH1)}\t${formatE(r.lRemle)}\t${p(r.log10pWald)}`;
      break;
    case 2:
      tail = `${formatE(r.loglH1)}\t${formatE(r.lMle)}\t${p(r.log10pLrt)}`;
      break;
    case 3:
      tail = `${formatE(r.beta)}\t${formatE(r.se)}\t${p(r.log10pScore)}`;
      break;
    case 4:
      tail =
        `${formatE(r.beta)}\t${formatE(r.se)}\t${formatE(r.loglH1)}\t${formatE(r.lRemle)}\t${formatE(r.lMle)}\t` +
        `${p(r.log10pWald)}\t${p(r.log10pLrt)}\t${p(r.log10pScore)}`;
      break;
  }
  return `${lead}\t${tail}\n`;
}
