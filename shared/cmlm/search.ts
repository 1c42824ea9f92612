/**
 * GAPIT's search over compression levels and its choice of one (`GAPIT.Main`; FARMCPU_CMLM.md §2.4).
 *
 * Levels: group.to and group.from are capped at the number of genotyped individuals; the levels are
 * group.to, group.to − by, … down to ≥ group.from (R `seq`). A level below q + 1 (q = fixed-effect columns)
 * becomes 1 (no kinship: GAPIT's GLM) and the search stops after it.
 *
 * Choice (rows in search order; row 1 is the largest g): c = the row with the smallest −2LL. If c = 1 → row 1.
 * If c is also the row with the largest σ²_a → c. Otherwise j = position of the smallest −2LL in the vector with
 * row c removed; if c − j < 2 → c, else row 1 ("the difference of compression is not enough"). GAPIT holds the
 * table as text, so values are compared after rounding to 15 significant digits (R `as.character`); rows whose
 * fit failed (NaN) are ignored like R's NA.
 */

export interface LevelOptions {
  /** Number of genotyped individuals (kinship size). */
  nGenotyped: number;
  /** Fixed-effect columns q (intercept included). */
  q: number;
  groupFrom: number;
  groupTo: number;
  groupBy: number;
}

/** The group counts GAPIT evaluates, in search order. */
export function groupLevels(o: LevelOptions): number[] {
  const to = Math.min(o.groupTo, o.nGenotyped);
  const from = Math.min(o.groupFrom, o.nGenotyped);
  const levels: number[] = [];
  const count = Math.floor((to - from) / o.groupBy + 1e-10) + 1;
  for (let k = 0; k < count; k++) {
    let g = to - k * o.groupBy;
    if (g < o.q + 1) g = 1;
    levels.push(g);
    if (g === 1) break;
  }
  return levels;
}

const asText = (x: number) => (x === x ? Number(x.toPrecision(15)) : NaN);

function whichMin(v: number[]): number {
  let best = -1;
  for (let i = 0; i < v.length; i++) if (v[i] === v[i] && (best < 0 || v[i] < v[best])) best = i;
  return best;
}

function whichMax(v: number[]): number {
  let best = -1;
  for (let i = 0; i < v.length; i++) if (v[i] === v[i] && (best < 0 || v[i] > v[best])) best = i;
  return best;
}

export interface Choice {
  /** 0-based row index chosen. */
  index: number;
  /** Why: 'min' (smallest −2LL), 'first' (smallest is row 1), 'guard' (fell back to row 1). */
  reason: 'first' | 'min' | 'guard';
}

/** GAPIT's selection rule over rows in search order. */
export function chooseLevel(m2ll: number[], vg: number[]): Choice {
  const reml = m2ll.map(asText);
  const va = vg.map(asText);
  const c = whichMin(reml);
  if (c < 0) return { index: 0, reason: 'first' };
  if (c === 0) return { index: 0, reason: 'first' };
  if (c === whichMax(va)) return { index: c, reason: 'min' };
  const rest = reml.filter((_, i) => i !== c);
  const j = whichMin(rest);
  // R positions are 1-based on both sides; the difference is the same 0-based.
  if (c - j < 2) return { index: c, reason: 'min' };
  return { index: 0, reason: 'guard' };
}
