/**
 * The plot font: the bundled DejaVu Sans subset (fonts/README.md), for two uses —
 *   - text metrics, so labels are laid out without overlaps: advance widths read from the font's `cmap`
 *     (format 4) and `hmtx` tables. DejaVu Sans is wider than Helvetica/Arial/Liberation Sans, so boxes
 *     measured with it are conservative for the generic `sans-serif` an SVG viewer substitutes;
 *   - PNG rendering: resvg loads fonts only from files, so the embedded bytes are written once to a
 *     content-named file in the OS temp directory and that path is handed to it.
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fontBase64 } from './font-bytes.js';

export const FONT_FAMILY = 'DejaVu Sans';

interface Metrics {
  unitsPerEm: number;
  /** Advance width (font units) by code point, for the code points the font maps. */
  advance: Map<number, number>;
  /** Advance of the missing-glyph (.notdef) box, used for unmapped characters. */
  fallback: number;
}

let bytes: Buffer | null = null;
let metrics: Metrics | null = null;
let filePath: string | null = null;

function fontBytes(): Buffer {
  bytes ??= Buffer.from(fontBase64, 'base64');
  return bytes;
}

function tableOffsets(b: Buffer): Map<string, number> {
  const n = b.readUInt16BE(4);
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const rec = 12 + 16 * i;
    out.set(b.toString('latin1', rec, rec + 4), b.readUInt32BE(rec + 8));
  }
  return out;
}

/** Parses unitsPerEm (`head`), the horizontal metrics (`hhea`, `hmtx`) and the Unicode BMP `cmap` (format 4). */
function parseMetrics(b: Buffer): Metrics {
  const t = tableOffsets(b);
  const need = (tag: string) => {
    const o = t.get(tag);
    if (o === undefined) throw new Error(`bundled font lacks the ${tag} table`);
    return o;
  };
  const unitsPerEm = b.readUInt16BE(need('head') + 18);
  const numHMetrics = b.readUInt16BE(need('hhea') + 34);
  const hmtx = need('hmtx');
  const adv = (glyph: number) => b.readUInt16BE(hmtx + 4 * Math.min(glyph, numHMetrics - 1));
  const cmap = need('cmap');
  const nSub = b.readUInt16BE(cmap + 2);
  let sub = -1;
  for (let i = 0; i < nSub; i++) {
    const platform = b.readUInt16BE(cmap + 4 + 8 * i);
    const encoding = b.readUInt16BE(cmap + 6 + 8 * i);
    const off = cmap + b.readUInt32BE(cmap + 8 + 8 * i);
    if (b.readUInt16BE(off) === 4 && ((platform === 3 && encoding === 1) || platform === 0)) sub = off;
  }
  if (sub < 0) throw new Error('bundled font has no format-4 Unicode cmap');
  const segX2 = b.readUInt16BE(sub + 6);
  const ends = sub + 14;
  const starts = ends + segX2 + 2;
  const deltas = starts + segX2;
  const ranges = deltas + segX2;
  const advance = new Map<number, number>();
  for (let s = 0; s < segX2; s += 2) {
    const end = b.readUInt16BE(ends + s);
    const start = b.readUInt16BE(starts + s);
    const delta = b.readInt16BE(deltas + s);
    const rangeOff = b.readUInt16BE(ranges + s);
    for (let c = start; c <= end && c !== 0xffff; c++) {
      let g: number;
      if (rangeOff === 0) g = (c + delta) & 0xffff;
      else {
        const at = ranges + s + rangeOff + 2 * (c - start);
        g = b.readUInt16BE(at);
        if (g !== 0) g = (g + delta) & 0xffff;
      }
      if (g !== 0) advance.set(c, adv(g));
    }
  }
  return { unitsPerEm, advance, fallback: adv(0) };
}

function fontMetrics(): Metrics {
  metrics ??= parseMetrics(fontBytes());
  return metrics;
}

/** Width of `text` set in the plot font at `size` (user units = px), without kerning (slightly conservative). */
export function textWidth(text: string, size: number): number {
  const m = fontMetrics();
  let w = 0;
  for (const ch of text) w += m.advance.get(ch.codePointAt(0)!) ?? m.fallback;
  return (w * size) / m.unitsPerEm;
}

/** Path of the bundled font as a file (written once per content hash into the OS temp directory). */
export function fontFile(): string {
  if (filePath && existsSync(filePath)) return filePath;
  const b = fontBytes();
  const hash = createHash('sha256').update(b).digest('hex').slice(0, 16);
  const path = join(tmpdir(), `gwasgrid-font-${hash}.ttf`);
  if (!existsSync(path)) {
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, b);
    renameSync(tmp, path);
  }
  filePath = path;
  return path;
}
