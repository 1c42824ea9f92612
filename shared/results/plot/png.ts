/**
 * SVG → PNG with resvg (`@resvg/resvg-js`: a Rust renderer shipped as prebuilt N-API binaries, no install
 * scripts, no system libraries) and the bundled font (font.ts), so PNGs look the same on every machine and need
 * no R, Python, Cairo or system fonts. resvg is loaded on first use, so a platform without a prebuilt binary
 * still runs everything else (and gets SVGs with `--format svg`).
 */
import { UsageError } from '../../errors.js';
import { FONT_FAMILY, fontFile } from './font.js';

type ResvgModule = typeof import('@resvg/resvg-js');
let resvg: Promise<ResvgModule> | null = null;

async function loadResvg(): Promise<ResvgModule> {
  resvg ??= import('@resvg/resvg-js').catch((e: unknown) => {
    resvg = null;
    throw new UsageError(
      `PNG output needs @resvg/resvg-js, which has no working binary here (${process.platform}-${process.arch}): ${(e as Error).message}`,
      'reinstall with `npm ci` (optional dependencies included), or write SVG only with --format svg',
    );
  });
  return resvg;
}

/** Renders an SVG document to PNG bytes at `scale` pixels per SVG unit. */
export async function svgToPng(svg: string, scale: number): Promise<Buffer> {
  const { Resvg } = await loadResvg();
  const r = new Resvg(svg, {
    font: {
      loadSystemFonts: false,
      fontFiles: [fontFile()],
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
    },
    fitTo: { mode: 'zoom', value: scale },
    background: '#ffffff',
    shapeRendering: 2,
    textRendering: 1,
    logLevel: 'off',
  });
  return r.render().asPng();
}
