/**
 * GAPIT's GWAS results CSV (`GAPIT.Association.GWAS_Results.<model>.<trait>.csv`, GAPIT 4.1 column order;
 * FORMATS.md §2.2): comma-separated, unquoted, header
 * `SNP,Chr,Pos,P.value,MAF,nobs,Effect,H&B.P.Value`, rows sorted by chromosome then position. MAF is folded
 * over the analysed individuals, nobs their count, H&B.P.Value the Benjamini–Hochberg adjusted p (R
 * `p.adjust(p, "BH")` over all rows). Numbers print like R's `write.csv` (up to 15 significant digits, fixed or
 * scientific, whichever is narrower); missing values print as `NA`.
 */

export interface GapitRow {
  snp: string;
  chr: string;
  pos: number;
  p: number;
  maf: number;
  nobs: number;
  effect: number;
}

export const GAPIT_CSV_HEADER = 'SNP,Chr,Pos,P.value,MAF,nobs,Effect,H&B.P.Value';

/** R's `as.character` / `write.table` rendering of a double (15 significant digits, R's fixed-vs-sci rule). */
export function rNumber(x: number): string {
  if (x !== x) return 'NA';
  if (x === Infinity) return 'Inf';
  if (x === -Infinity) return '-Inf';
  if (x === 0) return '0';
  const neg = x < 0;
  const [mant, expStr] = Math.abs(x).toExponential(14).split('e');
  const e = Number(expStr);
  const digits = mant.replace('.', '').replace(/0+$/, '') || '0';
  const d = digits.length;
  let fixed: string;
  if (e >= 0) {
    fixed = d <= e + 1 ? digits + '0'.repeat(e + 1 - d) : `${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
  } else {
    fixed = `0.${'0'.repeat(-e - 1)}${digits}`;
  }
  const ae = Math.abs(e);
  const sci = `${digits[0]}${d > 1 ? '.' + digits.slice(1) : ''}e${e < 0 ? '-' : '+'}${ae < 10 ? '0' + ae : String(ae)}`;
  const s = fixed.length <= sci.length ? fixed : sci;
  return neg ? '-' + s : s;
}

/** R `p.adjust(p, method = "BH")`; NaN entries stay NaN and do not count. */
export function bhAdjust(p: Float64Array): Float64Array {
  const idx: number[] = [];
  for (let i = 0; i < p.length; i++) if (p[i] === p[i]) idx.push(i);
  const m = idx.length;
  const out = new Float64Array(p.length).fill(NaN);
  // Decreasing p (stable), cumulative minimum of m/i · p.
  idx.sort((a, b) => p[b] - p[a] || a - b);
  let cm = Infinity;
  for (let r = 0; r < m; r++) {
    const i = m - r; // rank from the top
    const v = (m / i) * p[idx[r]];
    if (v < cm) cm = v;
    out[idx[r]] = Math.min(1, cm);
  }
  return out;
}

function chrKey(c: string): number {
  const v = Number(c);
  return Number.isFinite(v) ? v : Infinity;
}

/** The whole CSV text. */
export function gapitCsv(rows: GapitRow[]): string {
  const order = rows.map((_, i) => i);
  order.sort((a, b) => {
    const ra = rows[a];
    const rb = rows[b];
    const ka = chrKey(ra.chr);
    const kb = chrKey(rb.chr);
    if (ka !== kb) return ka - kb;
    if (ka === Infinity && ra.chr !== rb.chr) return ra.chr < rb.chr ? -1 : 1;
    return ra.pos - rb.pos || a - b;
  });
  const fdr = bhAdjust(Float64Array.from(rows, (r) => r.p));
  const lines = [GAPIT_CSV_HEADER];
  for (const i of order) {
    const r = rows[i];
    lines.push([r.snp, r.chr, String(r.pos), rNumber(r.p), rNumber(r.maf), String(r.nobs), rNumber(r.effect), rNumber(fdr[i])].join(','));
  }
  return lines.join('\n') + '\n';
}
