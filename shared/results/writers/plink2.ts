/**
 * plink2 `--glm` linear-regression table (FORMATS.md §2.4), with the columns plink2 writes for
 * `--glm cols=chrom,pos,ref,alt,a1count,a1freq,nobs,beta,se,tz,p` (the set of the plink2 references in
 * ../shared/data/*\/reference/*.glm.linear):
 *   #CHROM POS ID REF ALT A1 A1_CT A1_FREQ OBS_CT BETA SE T_STAT P
 * tab-separated, numbers as plink2 prints them (6 significant digits, `%g`), `NA` when undefined.
 * Mapping from a result row: REF = a0 and ALT = A1 = a1 (the counted allele, as plink2 reads a .bim: A2 is the
 * provisional REF), A1_CT = copies of a1 among the non-missing calls, A1_FREQ = af, OBS_CT = analysed samples
 * (gwasgrid mean-imputes missing calls, so every analysed sample enters the test), BETA/SE per copy of a1,
 * T_STAT = BETA/SE, P = the primary p-value.
 */
import { AtomicWriter } from '../../io/atomic.js';
import type { ResultRow } from '../rows.js';
import type { ResultWriter } from './types.js';
import { g6, pFromLog10 } from './numbers.js';

export const PLINK2_COLUMNS = ['#CHROM', 'POS', 'ID', 'REF', 'ALT', 'A1', 'A1_CT', 'A1_FREQ', 'OBS_CT', 'BETA', 'SE', 'T_STAT', 'P'] as const;

/** Copies of a1 among non-missing calls: an integer for hard calls, 6 significant digits for dosages. */
function a1Count(r: ResultRow): string {
  const c = 2 * r.af * (r.nObs - r.nMiss);
  if (!Number.isFinite(c)) return 'NA';
  const rounded = Math.round(c);
  return Math.abs(c - rounded) < 1e-6 ? String(rounded) : g6(c);
}

export function plink2Line(r: ResultRow): string {
  const t = r.beta / r.se;
  return (
    [
      r.chr,
      String(r.ps),
      r.rs,
      r.a0,
      r.a1,
      r.a1,
      a1Count(r),
      g6(r.af),
      String(r.nObs),
      g6(r.beta),
      g6(r.se),
      g6(t),
      pFromLog10(r.log10p, 6, g6),
    ].join('\t') + '\n'
  );
}

export class Plink2Writer implements ResultWriter {
  private readonly out: AtomicWriter;
  private started = false;
  constructor(readonly path: string) {
    this.out = new AtomicWriter(path);
  }
  async write(r: ResultRow): Promise<void> {
    if (!this.started) {
      this.started = true;
      await this.out.write(PLINK2_COLUMNS.join('\t') + '\n');
    }
    await this.out.write(plink2Line(r));
  }
  async commit(): Promise<void> {
    if (!this.started) await this.out.write(PLINK2_COLUMNS.join('\t') + '\n');
    await this.out.commit();
  }
  abort(): Promise<void> {
    return this.out.abort();
  }
}
