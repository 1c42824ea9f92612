/**
 * Small helpers for hand-written SVG: escaping, compact number output, axis ticks, a label placer that keeps
 * text boxes apart, and the shared look (fonts, colours, sizes) of the Manhattan and QQ plots.
 */
import { textWidth } from './font.js';

/** Shared style. Sizes are in SVG user units (= CSS px at 1×). */
export const STYLE = {
  font: 'sans-serif',
  titleSize: 19,
  axisTitleSize: 16,
  tickSize: 15,
  labelSize: 13,
  legendSize: 14,
  text: '#222222',
  axis: '#444444',
  grid: '#e6e6e6',
  genomeWide: '#c62828',
  suggestive: '#1565c0',
  /** Alternating chromosome colours (dark and light slate blue; distinguishable in greyscale). */
  chromosomes: ['#27408b', '#8aa4cc'] as [string, string],
  point: '#27408b',
  band: '#d6d6d6',
  diagonal: '#c62828',
};

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A coordinate with at most one decimal (0.1 px is finer than any output resolution we render). */
export function n1(x: number): string {
  const r = Math.round(x * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
}

/** Tick values for [lo, hi]: steps of 1, 2 or 5 × 10^k giving about `target` ticks. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.round(v / step) * step);
  }
  return out;
}

/** Tick label text: integers plainly, otherwise up to 3 significant decimals without trailing zeros. */
export function tickText(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(3)));
}

/** `1234567` → `1,234,567`. */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

const SUPERSCRIPT: Record<string, string> = {
  '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹', '-': '⁻',
};

/** A p-value as `4.6×10⁻⁶` (two significant digits; `1×10⁻⁵` when the mantissa is 1). */
export function pText(p: number): string {
  if (!(p > 0)) return String(p);
  const e = Math.floor(Math.log10(p) + 1e-12);
  let m = Number((p / 10 ** e).toPrecision(2));
  let ee = e;
  if (m >= 10) {
    m /= 10;
    ee += 1;
  }
  if (ee >= -2 && ee <= 0) return String(Number(p.toPrecision(2)));
  const exp = String(ee)
    .split('')
    .map((c) => SUPERSCRIPT[c])
    .join('');
  return `${m === 1 ? '1' : String(m)}×10${exp}`;
}

/**
 * `−log₁₀(p)` as SVG text content with a real subscript (tspan shifted by dy and back), which renders the
 * same in browsers and resvg (unlike `baseline-shift`). `prefix` is prepended (e.g. "Observed ").
 */
export function negLog10Label(prefix: string, size: number): string {
  const sub = Math.round(size * 0.72);
  const d = n1(size * 0.3);
  return `${esc(prefix)}−log<tspan font-size="${sub}" dy="${d}">10</tspan><tspan dy="-${d}">(p)</tspan>`;
}

/** Width of a {@link negLog10Label} (for centring and layout). */
export function negLog10LabelWidth(prefix: string, size: number): number {
  return textWidth(`${prefix}−log`, size) + textWidth('10', Math.round(size * 0.72)) + textWidth('(p)', size);
}

/**
 * `text` fitted into `avail` units: at the style's size, or smaller (down to 60 % of it), and cut with an
 * ellipsis if even that is too long.
 */
export function fitText(text: string, size: number, avail: number): { text: string; size: number; width: number } {
  const w = textWidth(text, size);
  if (w <= avail) return { text, size, width: w };
  const small = Math.max(Math.floor((size * avail) / w), Math.ceil(size * 0.6));
  let t = text;
  while (t.length > 1 && textWidth(t === text ? t : `${t}…`, small) > avail) t = t.slice(0, -1).trimEnd();
  const out = t === text ? t : `${t}…`;
  return { text: out, size: small, width: textWidth(out, small) };
}

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function overlaps(a: Box, b: Box, pad = 0): boolean {
  return a.x0 < b.x1 + pad && b.x0 < a.x1 + pad && a.y0 < b.y1 + pad && b.y0 < a.y1 + pad;
}

/** Collects an SVG document as lines. */
export class SvgDoc {
  private readonly parts: string[] = [];

  constructor(
    readonly width: number,
    readonly height: number,
    title: string,
    desc: string,
  ) {
    this.parts.push(
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
        `font-family="${STYLE.font}" fill="${STYLE.text}">`,
      `<title>${esc(title)}</title>`,
      `<desc>${esc(desc)}</desc>`,
      `<rect class="background" x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    );
  }

  raw(s: string): void {
    this.parts.push(s);
  }

  /** A text element; `content` is escaped unless `markup` is set. */
  text(
    x: number,
    y: number,
    content: string,
    attrs: { size: number; anchor?: 'start' | 'middle' | 'end'; cls?: string; fill?: string; transform?: string; markup?: boolean },
  ): void {
    const a = [
      attrs.cls ? `class="${attrs.cls}"` : '',
      `x="${n1(x)}"`,
      `y="${n1(y)}"`,
      `font-size="${attrs.size}"`,
      attrs.anchor && attrs.anchor !== 'start' ? `text-anchor="${attrs.anchor}"` : '',
      attrs.fill ? `fill="${attrs.fill}"` : '',
      attrs.transform ? `transform="${attrs.transform}"` : '',
    ]
      .filter((s) => s)
      .join(' ');
    this.parts.push(`<text ${a}>${attrs.markup ? content : esc(content)}</text>`);
  }

  line(x1: number, y1: number, x2: number, y2: number, attrs: string): void {
    this.parts.push(`<line x1="${n1(x1)}" y1="${n1(y1)}" x2="${n1(x2)}" y2="${n1(y2)}" ${attrs}/>`);
  }

  toString(): string {
    return this.parts.join('\n') + '\n</svg>\n';
  }
}
