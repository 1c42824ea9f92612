/**
 * `.assoc.txt` for the fixed-effect methods (GLM, FarmCPU): GEMMA's leading columns
 * `chr rs ps n_miss allele1 allele0 af`, then `beta se p_wald` (GEMMA `-lm 1` layout), tab-separated, numbers
 * printf-formatted as in our MLM output (`%e` with 6 decimals, af with 3). NA where the SNP has no estimate
 * (monomorphic, collinear with the covariates or the pseudo-QTNs). p below 1e-300 is printed from log10 p.
 */
import type { SnpMeta } from '../genotype/types.js';
import { LEADING_COLUMNS } from './assoc.js';
import { formatE, formatFixed, formatP } from './format.js';

export const FEM_COLUMNS = ['beta', 'se', 'p_wald'] as const;

export function femAssocHeader(): string {
  return [...LEADING_COLUMNS, ...FEM_COLUMNS].join('\t') + '\n';
}

/** One line (with newline). `log10p` carries p where it underflows. */
export function femAssocLine(snp: SnpMeta, nMiss: number, af: number, beta: number, se: number, p: number, log10p: number): string {
  const pStr = p === p || log10p === log10p ? formatP(p, log10p) : 'NA';
  return `${snp.chr}\t${snp.rs}\t${snp.pos}\t${nMiss}\t${snp.a1}\t${snp.a0}\t${formatFixed(af, 3)}\t${formatE(beta)}\t${formatE(se)}\t${pStr}\n`;
}
