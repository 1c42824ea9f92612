/**
 * QQ plot as hand-written SVG: observed against expected −log10 p, the line y = x, the pointwise 95 % band of
 * the uniform order statistics (stats.ts, Beta(i, n − i + 1)) and λGC printed on the plot.
 *
 * All SNPs with a p-value count (n, ranks and λGC), with or without a position; p = 0 (−log10 p = ∞) keeps
 * its rank but is not drawn. Thinning: the points lie on a monotone curve, so a point is drawn only when it
 * is at least one output pixel (1/scale units) away, horizontally or vertically, from the last point drawn —
 * at most (width + height) × scale points whatever n is. Cost O(n log n) for the sort, O(n) after it.
 */
import { basename } from 'node:path';
import { textWidth } from './font.js';
import type { PlotOptions } from './options.js';
import type { ResultsTable } from './read.js';
import { expectedNegLog10P, lambdaGCSorted, qqBand, sortDescending } from './stats.js';
import { STYLE, SvgDoc, fitText, n1, negLog10Label, negLog10LabelWidth, niceTicks, thousands, tickText } from './svg.js';

export interface QqSummary {
  /** SNPs with a p-value. */
  n: number;
  /** Points drawn (circles in the SVG). */
  drawn: number;
  /** λGC as computed (unrounded). */
  lambda: number;
  /** λGC as printed on the plot. */
  lambdaText: string;
}

/** Renders the QQ plot of `t` (or of already sorted −log10 p values, largest first, via `sorted`). */
export function qqSvg(t: ResultsTable, o: PlotOptions, sorted?: Float64Array): { svg: string; summary: QqSummary } {
  const obs = sorted ?? sortDescending(t.nlp);
  const n = obs.length;
  const lambda = lambdaGCSorted(obs);
  const lambdaText = Number.isFinite(lambda) ? lambda.toFixed(3) : 'NA';
  const S = o.height;
  const r = Math.min(o.pointRadius, 2);

  const band = qqBand(n);
  let yMaxData = 0;
  for (let i = 0; i < n; i++) {
    if (obs[i] < Infinity) {
      yMaxData = obs[i];
      break;
    }
  }
  const xMax = n > 0 ? expectedNegLog10P(1, n) : 1;
  const bandMax = band.length ? band[0].upper : 0;
  const yMax = Math.max(yMaxData, bandMax, xMax, 1);
  const xTicks = niceTicks(0, xMax * 1.03, 5);
  const yTicks = niceTicks(0, yMax * 1.05, 6);
  const tickW = Math.max(...yTicks.map((v) => textWidth(tickText(v), STYLE.tickSize)));

  const x0 = 12 + STYLE.axisTitleSize + 10 + tickW + 9;
  const x1 = S - 18;
  const y0 = o.title ? 44 : 18;
  const y1 = S - (6 + 4 + STYLE.tickSize + 10 + STYLE.axisTitleSize + 8);
  const pad = r + 3;
  const xDom = Math.max(xMax * 1.03, xTicks[xTicks.length - 1]);
  const yDom = Math.max(yMax * 1.05, yTicks[yTicks.length - 1]);
  const X = (v: number) => x0 + pad + (v / xDom) * (x1 - x0 - 2 * pad);
  const Y = (v: number) => y1 - pad - (v / yDom) * (y1 - y0 - 2 * pad);

  const doc = new SvgDoc(
    S,
    S,
    o.title || 'QQ plot',
    `QQ plot of ${basename(t.file)} (${t.pColumn}): ${thousands(n)} SNPs with a p-value, λGC = ${lambdaText}; ` +
      `grey band: pointwise 95 % interval of uniform order statistics.`,
  );
  if (o.title) {
    const ft = fitText(o.title, STYLE.titleSize, S - 20);
    doc.text(Math.max(10, Math.min(x0, S - 10 - ft.width)), 26, ft.text, { size: ft.size, cls: 'title' });
  }
  doc.raw(`<defs><clipPath id="qq-area"><rect x="${n1(x0)}" y="${n1(y0)}" width="${n1(x1 - x0)}" height="${n1(y1 - y0)}"/></clipPath></defs>`);

  // band
  if (band.length > 1) {
    const up = band.map((b) => `${n1(X(b.expected))},${n1(Y(b.upper))}`);
    const lo = band
      .slice()
      .reverse()
      .map((b) => `${n1(X(b.expected))},${n1(Y(b.lower))}`);
    // close along the x axis at expected = 0 … the last rank
    doc.raw(
      `<polygon class="band" clip-path="url(#qq-area)" fill="${STYLE.band}" stroke="none" points="${[...up, ...lo].join(' ')}"/>`,
    );
  }
  // y = x
  const d = Math.min(xDom, yDom);
  doc.line(X(0), Y(0), X(d), Y(d), `class="diagonal" stroke="${STYLE.diagonal}" stroke-width="1.2"`);

  // axes
  const axisAttr = `stroke="${STYLE.axis}" stroke-width="1"`;
  doc.raw('<g class="y-axis">');
  doc.line(x0, y0, x0, y1, axisAttr);
  for (const v of yTicks) {
    const y = Y(v);
    doc.line(x0 - 5, y, x0, y, axisAttr);
    doc.text(x0 - 8, y + STYLE.tickSize * 0.35, tickText(v), { size: STYLE.tickSize, anchor: 'end' });
  }
  const ymid = (y0 + y1) / 2;
  const yt = 12 + STYLE.axisTitleSize * 0.8;
  doc.text(yt, ymid, negLog10Label('Observed ', STYLE.axisTitleSize), {
    size: STYLE.axisTitleSize,
    anchor: 'middle',
    transform: `rotate(-90 ${n1(yt)} ${n1(ymid)})`,
    markup: true,
    cls: 'axis-title',
  });
  doc.raw('</g>');
  doc.raw('<g class="x-axis">');
  doc.line(x0, y1, x1, y1, axisAttr);
  for (const v of xTicks) {
    const x = X(v);
    doc.line(x, y1, x, y1 + 5, axisAttr);
    doc.text(x, y1 + 6 + 4 + STYLE.tickSize * 0.8, tickText(v), { size: STYLE.tickSize, anchor: 'middle' });
  }
  const xt = (x0 + x1) / 2;
  doc.text(xt - negLog10LabelWidth('Expected ', STYLE.axisTitleSize) / 2, S - 10, negLog10Label('Expected ', STYLE.axisTitleSize), {
    size: STYLE.axisTitleSize,
    markup: true,
    cls: 'axis-title',
  });
  doc.raw('</g>');

  // points (largest expected first = smallest p first; thinned to one per output pixel step)
  const cell = 1 / o.scale;
  const parts: string[] = [`<g class="points" fill="${STYLE.point}" stroke="none">`];
  let drawn = 0;
  let lx = -Infinity;
  let ly = -Infinity;
  for (let i = 0; i < n; i++) {
    if (obs[i] === Infinity) continue;
    const px = X(expectedNegLog10P(i + 1, n));
    const py = Y(obs[i]);
    if (Math.abs(px - lx) < cell && Math.abs(py - ly) < cell) continue;
    parts.push(`<circle cx="${n1(px)}" cy="${n1(py)}" r="${r}"/>`);
    lx = px;
    ly = py;
    drawn++;
  }
  parts.push('</g>');
  doc.raw(parts.join('\n'));

  // λGC and n, top left inside the plot; band legend bottom right
  const tx = x0 + 12;
  const ty = y0 + 20;
  const fs = STYLE.legendSize + 2;
  doc.raw(
    `<text class="lambda" x="${n1(tx)}" y="${n1(ty)}" font-size="${fs}">λ<tspan font-size="${Math.round(fs * 0.72)}" dy="${n1(fs * 0.3)}">GC</tspan><tspan dy="-${n1(fs * 0.3)}"> = ${lambdaText}</tspan></text>`,
  );
  doc.text(tx, ty + fs + 6, `n = ${thousands(n)} SNPs`, { size: STYLE.legendSize, cls: 'count' });
  const bandY = ty + 2 * fs + 10;
  doc.raw(`<rect class="legend band" x="${n1(tx)}" y="${n1(bandY - 9)}" width="14" height="10" fill="${STYLE.band}"/>`);
  doc.text(tx + 20, bandY, '95 % confidence band', { size: STYLE.legendSize, cls: 'legend band' });

  return { svg: doc.toString(), summary: { n, drawn, lambda, lambdaText } };
}
