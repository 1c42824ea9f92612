/**
 * GAPIT results CSV (`GAPIT.Association.GWAS_Results.<model>.<trait>.csv`; FORMATS.md §2.2), with the columns of
 * GAPIT ≥ 4.1.0: `SNP,Chr,Pos,P.value,MAF,nobs,Effect,H&B.P.Value` — comma-separated, unquoted, numbers as R
 * prints them (15 significant digits), rows sorted by chromosome (numerically where the names are numbers)
 * then position, as GAPIT sorts them.
 * - MAF is folded (min(af, 1 − af)); nobs is the number of analysed samples.
 * - Effect is the effect of one copy of **allele1** (the counted allele of the input, e.g. .bim column 5), the
 *   same sign as gwasgrid's other outputs. GAPIT itself codes the major allele by default, so where allele1 is
 *   the minor allele GAPIT's Effect has the opposite sign.
 * - H&B.P.Value is the Benjamini–Hochberg adjusted p-value over all rows (GAPIT's FDR.Procedure = "BH"):
 *   p_(i)·m/i made monotone from the largest p down, capped at 1. Rows without a p-value keep NA and are not
 *   counted in m (R's p.adjust with NA removed).
 * The whole table is held until `commit` (BH needs every p-value): O(m) memory.
 */
import { AtomicWriter } from '../../io/atomic.js';
import type { ResultRow } from '../rows.js';
import type { ResultWriter } from './types.js';
import { pFromLog10, rNum } from './numbers.js';

export const GAPIT_COLUMNS = ['SNP', 'Chr', 'Pos', 'P.value', 'MAF', 'nobs', 'Effect', 'H&B.P.Value'] as const;

interface Held {
  chr: string;
  ps: number;
  order: number;
  head: string;
  log10p: number;
  tail: string;
}

/** Benjamini–Hochberg adjusted p-values (R `p.adjust(p, "BH")`), NaN entries left NaN and not counted. */
export function benjaminiHochberg(p: Float64Array): Float64Array {
  const idx: number[] = [];
  for (let i = 0; i < p.length; i++) if (!Number.isNaN(p[i])) idx.push(i);
  idx.sort((a, b) => p[b] - p[a]);
  const m = idx.length;
  const out = new Float64Array(p.length).fill(NaN);
  let running = 1;
  for (let k = 0; k < m; k++) {
    const i = idx[k];
    const rank = m - k;
    running = Math.min(running, (p[i] * m) / rank);
    out[i] = running;
  }
  return out;
}

function chrOrder(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  const fa = Number.isFinite(na);
  const fb = Number.isFinite(nb);
  if (fa && fb) return na - nb;
  if (fa !== fb) return fa ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export class GapitWriter implements ResultWriter {
  private readonly rows: Held[] = [];
  constructor(readonly path: string) {}

  async write(r: ResultRow): Promise<void> {
    this.rows.push({
      chr: r.chr,
      ps: r.ps,
      order: this.rows.length,
      head: `${r.rs},${r.chr},${r.ps}`,
      log10p: r.log10p,
      tail: `${rNum(Math.min(r.af, 1 - r.af))},${r.nObs},${rNum(r.beta)}`,
    });
  }

  async commit(): Promise<void> {
    const rows = this.rows.sort((a, b) => chrOrder(a.chr, b.chr) || a.ps - b.ps || a.order - b.order);
    const fdr = benjaminiHochberg(Float64Array.from(rows, (r) => Math.pow(10, r.log10p)));
    const out = new AtomicWriter(this.path);
    try {
      await out.write(GAPIT_COLUMNS.join(',') + '\n');
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        await out.write(`${r.head},${pFromLog10(r.log10p, 15, rNum)},${r.tail},${rNum(fdr[i])}\n`);
      }
      await out.commit();
    } catch (e) {
      await out.abort();
      throw e;
    }
  }

  async abort(): Promise<void> {
    this.rows.length = 0;
  }
}
