/**
 * rMVP results CSV (`<trait>.<method>.csv`; FORMATS.md §2.3), as R `write.csv` writes it (strings and the
 * header quoted, numbers bare with 15 significant digits, NA bare):
 *   "SNP","CHROM","POS","A1","A2","MAF","Effect","SE","<trait>.<method>"
 * The last column is the p-value. rMVP's A2 is the allele its genotype counts and its Effect is "at A2"; for
 * PLINK input rMVP maps bim column 5 to A2. So A2 = gwasgrid's allele1 (the counted allele), A1 = allele0, and
 * Effect/SE are per copy of allele1, as in every gwasgrid output. MAF is folded (min(af, 1 − af)).
 */
import { AtomicWriter } from '../../io/atomic.js';
import type { ResultRow } from '../rows.js';
import type { ResultWriter, WriterContext } from './types.js';
import { pFromLog10, rNum } from './numbers.js';

const q = (s: string) => `"${s.replace(/"/g, '""')}"`;

export function rmvpHeader(ctx: WriterContext): string {
  return ['SNP', 'CHROM', 'POS', 'A1', 'A2', 'MAF', 'Effect', 'SE', `${ctx.trait}.${ctx.method}`].map(q).join(',') + '\n';
}

export function rmvpLine(r: ResultRow): string {
  return (
    [q(r.rs), /^-?\d+$/.test(r.chr) ? r.chr : q(r.chr), String(r.ps), q(r.a0), q(r.a1), rNum(Math.min(r.af, 1 - r.af)), rNum(r.beta), rNum(r.se), pFromLog10(r.log10p, 15, rNum)].join(
      ',',
    ) + '\n'
  );
}

export class RmvpWriter implements ResultWriter {
  private readonly out: AtomicWriter;
  private started = false;
  constructor(
    readonly path: string,
    private readonly ctx: WriterContext,
  ) {
    this.out = new AtomicWriter(path);
  }
  async write(r: ResultRow): Promise<void> {
    if (!this.started) {
      this.started = true;
      await this.out.write(rmvpHeader(this.ctx));
    }
    await this.out.write(rmvpLine(r));
  }
  async commit(): Promise<void> {
    if (!this.started) await this.out.write(rmvpHeader(this.ctx));
    await this.out.commit();
  }
  abort(): Promise<void> {
    return this.out.abort();
  }
}
