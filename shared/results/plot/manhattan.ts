/**
 * Manhattan plot as hand-written SVG: chromosomes in genome order with alternating colours, x = cumulative
 * position, y = −log10 p, the genome-wide Bonferroni line at alpha/m and a suggestive line, and the lead SNP of
 * each significant peak labelled with its id, labels kept apart from each other and from drawn points.
 *
 * m (Bonferroni) is the number of SNPs with a p-value, including those without a position (they were tested).
 * Rows without a chromosome/position or with p = 0 are not drawn (counted in the summary).
 *
 * Thinning (so 10⁶–10⁷ SNPs stay fast and the SVG small): every point with −log10 p ≥ 2 is drawn. Below that,
 * the plot is a solid band of overlapping points, so a point is dropped when a point of the same colour is
 * already drawn in the same grid cell of half a point radius (0.5 × 2.2 units = 2.2 PNG pixels at the
 * default scale 2): the dropped point's disc lies within 0.35 radius of a drawn one, an invisible difference in
 * a dense band. Cost O(rows) time; the cell bitmap is (plot width × height / cell²) bytes.
 */
import type { ResultsTable } from './read.js';
import { chromosomeLabel } from './read.js';
import { basename } from 'node:path';
import { textWidth } from './font.js';
import { THIN_BELOW_NLP, type PlotOptions } from './options.js';
import { bonferroniNegLog10 } from './stats.js';
import {
  STYLE,
  SvgDoc,
  esc,
  fitText,
  n1,
  negLog10Label,
  niceTicks,
  overlaps,
  pText,
  thousands,
  tickText,
  type Box,
} from './svg.js';

export interface ManhattanSummary {
  /** Points drawn (circles in the SVG). */
  drawn: number;
  /** Points with a position that thinning left out. */
  thinned: number;
  /** SNPs with a p-value (the Bonferroni m). */
  m: number;
  /** −log10 of the genome-wide line. */
  genomeWideNlp: number;
  /** Labels drawn (SNP ids, most significant first). */
  labels: string[];
  /** Peaks that qualified for a label but found no free place. */
  labelsDropped: number;
}

interface ChromLayout {
  name: string;
  min: number;
  max: number;
  offset: number;
  length: number;
}

/**
 * Lead SNPs of peaks at or above `floor` (−log10 p): significant SNPs sorted by chromosome and position are
 * linked when closer than `window` bp (single linkage); each cluster's smallest p is its lead. Returns row
 * indices, most significant first. O(k log k) in the k significant SNPs.
 */
export function peakLeads(t: ResultsTable, floor: number, window: number): number[] {
  const hits: number[] = [];
  for (let i = 0; i < t.n; i++) if (t.chr[i] >= 0 && t.nlp[i] >= floor && t.nlp[i] < Infinity) hits.push(i);
  hits.sort((a, b) => t.chr[a] - t.chr[b] || t.pos[a] - t.pos[b]);
  const leads: number[] = [];
  let lead = -1;
  for (let k = 0; k < hits.length; k++) {
    const i = hits[k];
    const prev = k > 0 ? hits[k - 1] : -1;
    if (prev < 0 || t.chr[prev] !== t.chr[i] || t.pos[i] - t.pos[prev] > window) {
      if (lead >= 0) leads.push(lead);
      lead = i;
    } else if (t.nlp[i] > t.nlp[lead]) lead = i;
  }
  if (lead >= 0) leads.push(lead);
  return leads.sort((a, b) => t.nlp[b] - t.nlp[a]);
}

/** Renders the Manhattan plot of `t`. */
export function manhattanSvg(t: ResultsTable, o: PlotOptions): { svg: string; summary: ManhattanSummary } {
  const W = o.width;
  const H = o.height;
  const r = o.pointRadius;
  const m = t.n;
  const gw = bonferroniNegLog10(o.alpha, m);
  const sug = o.suggestive > 0 ? -Math.log10(o.suggestive) : NaN;

  // chromosome extents and cumulative offsets
  const nChr = t.chrNames.length;
  const cmin = new Float64Array(nChr).fill(Infinity);
  const cmax = new Float64Array(nChr).fill(-Infinity);
  let ymaxData = 0;
  for (let i = 0; i < t.n; i++) {
    const c = t.chr[i];
    if (c < 0) continue;
    if (t.pos[i] < cmin[c]) cmin[c] = t.pos[i];
    if (t.pos[i] > cmax[c]) cmax[c] = t.pos[i];
    if (t.nlp[i] > ymaxData && t.nlp[i] < Infinity) ymaxData = t.nlp[i];
  }
  let total = 0;
  for (let c = 0; c < nChr; c++) total += cmax[c] - cmin[c];
  const gap = total > 0 ? total * 0.01 : 1;
  const chroms: ChromLayout[] = [];
  let off = 0;
  for (let c = 0; c < nChr; c++) {
    const length = Math.max(cmax[c] - cmin[c], gap);
    chroms.push({ name: t.chrNames[c], min: cmin[c], max: cmax[c], offset: off, length });
    off += length + gap;
  }
  const xTotal = Math.max(off - gap, 1);

  // peaks to label
  let labelFloor = Infinity;
  const anyAbove = (v: number) => {
    for (let i = 0; i < t.n; i++) if (t.chr[i] >= 0 && t.nlp[i] >= v && t.nlp[i] < Infinity) return true;
    return false;
  };
  if (anyAbove(gw)) labelFloor = gw;
  else if (!Number.isNaN(sug) && anyAbove(sug)) labelFloor = sug;
  const leads = o.maxLabels > 0 && labelFloor < Infinity ? peakLeads(t, labelFloor, o.peakWindow) : [];
  // one label per visible tower: a lead within a few point widths of a more significant lead is the same peak
  // at this resolution, even when non-significant or unpositioned SNPs separate them by more than peakWindow
  const leadCandidates = leads.filter((i) => t.ids.has(i));

  // vertical layout: title + legend band, plot, chromosome labels + axis title
  const legend: { text: string; color: string; dash: string; cls: string }[] = [
    { text: `Bonferroni ${o.alpha}/${thousands(m)} = ${pText(o.alpha / Math.max(1, m))}`, color: STYLE.genomeWide, dash: '6 4', cls: 'genome-wide' },
  ];
  if (!Number.isNaN(sug)) legend.push({ text: `Suggestive ${pText(o.suggestive)}`, color: STYLE.suggestive, dash: '2 3', cls: 'suggestive' });
  const legendItemW = legend.map((l) => 26 + textWidth(l.text, STYLE.legendSize));
  const ft = fitText(o.title, STYLE.titleSize, W - 24);
  const titleW = o.title ? ft.width : 0;
  const marginRight = 16;
  const top1 = 26; // baseline of the first header row
  const yTop = Math.max(ymaxData, gw, Number.isNaN(sug) ? 0 : sug, 1);
  const yTicksGuess = niceTicks(0, yTop * 1.1);
  const tickW = Math.max(...yTicksGuess.map((v) => textWidth(tickText(v), STYLE.tickSize)));
  const x0 = 12 + STYLE.axisTitleSize + 10 + tickW + 9;
  const x1 = W - marginRight;
  // legend items right-aligned, in rows as wide as the plot; on the title's row when both fit
  const legendRows: { items: number[]; width: number }[] = [];
  legend.forEach((_, k) => {
    const row = legendRows[legendRows.length - 1];
    if (row && row.width + 18 + legendItemW[k] <= x1 - 12) {
      row.items.push(k);
      row.width += 18 + legendItemW[k];
    } else legendRows.push({ items: [k], width: legendItemW[k] });
  });
  const shareTitleRow = o.title === '' || (legendRows.length === 1 && x0 + titleW + 24 + legendRows[0].width <= x1);
  const legendY = shareTitleRow ? top1 : top1 + 22;
  const rowStep = STYLE.legendSize + 8;
  const y0 = legendY + (legendRows.length - 1) * rowStep + 16;
  const y1 = H - (6 + 4 + STYLE.tickSize + 10 + STYLE.axisTitleSize + 8);
  const padX = r + 3;
  const padB = r + 3;
  const headroom = leadCandidates.length > 0 ? STYLE.labelSize + r + 10 : r + 4;
  const plotH = y1 - padB - y0;
  const yScale = (plotH - headroom) / yTop;
  const Y = (v: number) => y1 - padB - v * yScale;
  const X = (c: number, pos: number) => {
    const ch = chroms[c];
    return x0 + padX + ((ch.offset + (pos - ch.min)) / xTotal) * (x1 - x0 - 2 * padX);
  };
  const yAxisMax = (y1 - padB - y0) / yScale;
  const leadRows: number[] = [];
  for (const i of leadCandidates) {
    if (leadRows.length >= o.maxLabels) break;
    const xi = X(t.chr[i], t.pos[i]);
    if (leadRows.some((j) => Math.abs(X(t.chr[j], t.pos[j]) - xi) < 4 * r)) continue;
    leadRows.push(i);
  }

  // select the points to draw
  const cell = r / 2;
  const cols = Math.ceil((x1 - x0) / cell) + 1;
  const rows = Math.ceil((y1 - y0) / cell) + 1;
  const seen = new Uint8Array(cols * rows);
  const byChrom: number[][] = Array.from({ length: nChr }, () => []);
  let thinned = 0;
  let positioned = 0;
  for (let i = 0; i < t.n; i++) {
    const c = t.chr[i];
    const v = t.nlp[i];
    if (c < 0 || v === Infinity) continue;
    positioned++;
    if (v < THIN_BELOW_NLP) {
      const cx = Math.floor((X(c, t.pos[i]) - x0) / cell);
      const cy = Math.floor((Y(v) - y0) / cell);
      const k = cy * cols + cx;
      const bit = 1 << (c & 1);
      if (seen[k] & bit) {
        thinned++;
        continue;
      }
      seen[k] |= bit;
    }
    byChrom[c].push(i);
  }

  const doc = new SvgDoc(
    W,
    H,
    o.title || 'Manhattan plot',
    `Manhattan plot of ${basename(t.file)} (${t.pColumn}): ${thousands(m)} SNPs with a p-value, ${thousands(positioned)} with a position; ` +
      `${thousands(positioned - thinned)} points drawn (${thousands(thinned)} overlapping points below −log10 p = ${THIN_BELOW_NLP} thinned). ` +
      `Genome-wide line: ${o.alpha}/${m}.`,
  );
  if (o.title) doc.text(Math.max(12, Math.min(x0, W - 12 - titleW)), top1, ft.text, { size: ft.size, cls: 'title' });

  // legend (right-aligned)
  legendRows.forEach((row, ri) => {
    let lx = x1 - row.width;
    const ty = legendY + ri * rowStep;
    for (const k of row.items) {
      const l = legend[k];
      const ly = ty - STYLE.legendSize * 0.35;
      doc.line(lx, ly, lx + 20, ly, `class="legend ${l.cls}" stroke="${l.color}" stroke-width="1.5" stroke-dasharray="${l.dash}"`);
      doc.text(lx + 26, ty, l.text, { size: STYLE.legendSize, cls: `legend ${l.cls}` });
      lx += legendItemW[k] + 18;
    }
  });

  // y axis
  const axisAttr = `stroke="${STYLE.axis}" stroke-width="1"`;
  doc.raw(`<g class="y-axis">`);
  doc.line(x0, y0, x0, y1, axisAttr);
  for (const v of niceTicks(0, yAxisMax)) {
    const y = Y(v);
    if (y < y0 - 0.5) continue;
    doc.line(x0 - 5, y, x0, y, axisAttr);
    doc.text(x0 - 8, y + STYLE.tickSize * 0.35, tickText(v), { size: STYLE.tickSize, anchor: 'end' });
  }
  const ymid = (y0 + y1) / 2;
  doc.text(12 + STYLE.axisTitleSize * 0.8, ymid, negLog10Label('', STYLE.axisTitleSize), {
    size: STYLE.axisTitleSize,
    anchor: 'middle',
    transform: `rotate(-90 ${n1(12 + STYLE.axisTitleSize * 0.8)} ${n1(ymid)})`,
    markup: true,
    cls: 'axis-title',
  });
  doc.raw('</g>');

  // x axis: chromosome names centred under each chromosome, skipped where they would collide
  doc.raw(`<g class="x-axis">`);
  doc.line(x0, y1, x1, y1, axisAttr);
  let lastRight = -Infinity;
  const chrY = y1 + 6 + 4 + STYLE.tickSize * 0.8;
  for (let c = 0; c < nChr; c++) {
    if (!(chroms[c].min <= chroms[c].max)) continue;
    const mid = X(c, chroms[c].min + (chroms[c].max - chroms[c].min) / 2);
    const label = chromosomeLabel(chroms[c].name);
    const w = textWidth(label, STYLE.tickSize);
    doc.line(mid, y1, mid, y1 + 4, axisAttr);
    if (mid - w / 2 < lastRight + 4) continue;
    doc.text(mid, chrY, label, { size: STYLE.tickSize, anchor: 'middle', cls: 'chromosome-label' });
    lastRight = mid + w / 2;
  }
  doc.text((x0 + x1) / 2, H - 10, 'Chromosome', { size: STYLE.axisTitleSize, anchor: 'middle', cls: 'axis-title' });
  doc.raw('</g>');

  // threshold lines (under the points)
  doc.line(x0, Y(gw), x1, Y(gw), `class="threshold genome-wide" stroke="${STYLE.genomeWide}" stroke-width="1.2" stroke-dasharray="6 4"`);
  if (!Number.isNaN(sug)) {
    doc.line(x0, Y(sug), x1, Y(sug), `class="threshold suggestive" stroke="${STYLE.suggestive}" stroke-width="1.2" stroke-dasharray="2 3"`);
  }

  // points, one group per chromosome
  let drawn = 0;
  const occCell = 2;
  const occCols = Math.ceil((x1 - x0) / occCell) + 1;
  const occRows = Math.ceil((y1 - y0) / occCell) + 1;
  const occ = new Uint8Array(occCols * occRows);
  const mark = (px: number, py: number) => {
    const a0 = Math.max(0, Math.floor((px - r - x0) / occCell));
    const a1 = Math.min(occCols - 1, Math.floor((px + r - x0) / occCell));
    const b0 = Math.max(0, Math.floor((py - r - y0) / occCell));
    const b1 = Math.min(occRows - 1, Math.floor((py + r - y0) / occCell));
    for (let b = b0; b <= b1; b++) for (let a = a0; a <= a1; a++) occ[b * occCols + a] = 1;
  };
  doc.raw(`<g class="points" stroke="none">`);
  for (let c = 0; c < nChr; c++) {
    if (byChrom[c].length === 0) continue;
    const parts: string[] = [`<g class="chromosome" data-chr="${esc(chromosomeLabel(chroms[c].name))}" fill="${STYLE.chromosomes[c & 1]}">`];
    for (const i of byChrom[c]) {
      const px = X(c, t.pos[i]);
      const py = Y(t.nlp[i]);
      parts.push(`<circle cx="${n1(px)}" cy="${n1(py)}" r="${r}"/>`);
      mark(px, py);
      drawn++;
    }
    parts.push('</g>');
    doc.raw(parts.join('\n'));
  }
  doc.raw('</g>');

  // labels: greedy placement, most significant first
  const placed: Box[] = [];
  const labels: string[] = [];
  let dropped = 0;
  const occupied = (b: Box): number => {
    let n = 0;
    const a0 = Math.max(0, Math.floor((b.x0 - x0) / occCell));
    const a1 = Math.min(occCols - 1, Math.floor((b.x1 - x0) / occCell));
    const b0 = Math.max(0, Math.floor((b.y0 - y0) / occCell));
    const b1 = Math.min(occRows - 1, Math.floor((b.y1 - y0) / occCell));
    for (let y = b0; y <= b1; y++) for (let x = a0; x <= a1; x++) n += occ[y * occCols + x];
    return n;
  };
  const fs = STYLE.labelSize;
  const labelParts: string[] = [];
  for (const i of leadRows) {
    const id = t.ids.get(i)!;
    const px = X(t.chr[i], t.pos[i]);
    const py = Y(t.nlp[i]);
    const w = textWidth(id, fs);
    // candidates in order of preference: straight above, beside (right, left), then raised with a leader line
    const cands: { cx: number; base: number; leader: boolean }[] = [
      { cx: px, base: py - r - 4, leader: false },
      { cx: px + r + 3 + w / 2, base: py + fs * 0.32, leader: false },
      { cx: px - r - 3 - w / 2, base: py + fs * 0.32, leader: false },
    ];
    for (let level = 1; level < 8; level++) {
      for (const dx of [0, -(w / 2 + r), w / 2 + r]) cands.push({ cx: px + dx, base: py - r - 4 - level * (fs + 3), leader: true });
    }
    let best: { box: Box; cx: number; base: number; leader: boolean; score: number } | null = null;
    for (let k = 0; k < cands.length; k++) {
      const { cx, base, leader } = cands[k];
      const box: Box = { x0: cx - w / 2 - 1, x1: cx + w / 2 + 1, y0: base - fs * 0.8, y1: base + fs * 0.22 };
      if (box.x0 < x0 + 2 || box.x1 > x1 || box.y0 < y0 - fs * 0.5 || box.y1 > y1) continue;
      if (placed.some((p) => overlaps(p, box, 2))) continue;
      // inset by one unit: the label's own point may touch the box edge next to it
      const inner = { x0: box.x0 + 1, x1: box.x1 - 1, y0: box.y0 + 1, y1: box.y1 - 1 };
      const score = occupied(inner) * 100 + k;
      if (!best || score < best.score) best = { box, cx, base, leader, score };
      if (score === k) break;
    }
    if (!best) {
      dropped++;
      continue;
    }
    placed.push(best.box);
    labels.push(id);
    if (best.leader) {
      labelParts.push(
        `<line class="leader" x1="${n1(px)}" y1="${n1(py - r - 0.5)}" x2="${n1(best.cx)}" y2="${n1(best.box.y1 + 0.5)}" stroke="#777777" stroke-width="0.7"/>`,
      );
    }
    labelParts.push(`<text class="label" x="${n1(best.cx)}" y="${n1(best.base)}" font-size="${fs}" text-anchor="middle">${esc(id)}</text>`);
  }
  if (labelParts.length) doc.raw(`<g class="labels">\n${labelParts.join('\n')}\n</g>`);

  return {
    svg: doc.toString(),
    summary: { drawn, thinned, m, genomeWideNlp: gw, labels, labelsDropped: dropped },
  };
}
