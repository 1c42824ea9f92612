/**
 * SVG → PNG with resvg (`@resvg/resvg-js`: a Rust renderer shipped as prebuilt N-API binaries, no install
 * scripts, no system libraries) and the bundled font (font.ts), so PNGs look the same on every machine and need
 * no R, Python, Cairo or system fonts.
 */
import { Resvg } from '@resvg/resvg-js';
import { FONT_FAMILY, fontFile } from './font.js';

/** Renders an SVG document to PNG bytes at `scale` pixels per SVG unit. */
export function svgToPng(svg: string, scale: number): Buffer {
  const resvg = new Resvg(svg, {
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
  return resvg.render().asPng();
}
