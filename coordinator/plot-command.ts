/**
 * `gwasgrid plot`: Manhattan and QQ plots (SVG and PNG) of a results file, and the `--plot` flag analysis
 * commands offer. Flags are parsed once here into PlotOptions; the work is shared/results/plot's writePlots.
 */
import type { Argv, CommandModule } from 'yargs';
import { createLogger } from '../shared/log.js';
import { UsageError } from '../shared/errors.js';
import { PLOT_DEFAULTS, writePlots, type PlotOptions } from '../shared/results/plot/index.js';

interface PlotArgs {
  in: string;
  'p-col'?: string;
  out?: string;
  title?: string;
  width: number;
  height: number;
  format: string;
  alpha: number;
  suggestive: number;
  'max-labels': number;
  'peak-window': number;
  scale: number;
  'log-format'?: 'text' | 'json';
}

/** The output prefix a results file implies: its path without the results suffixes. */
export function defaultPlotPrefix(file: string): string {
  return file
    .replace(/\.gz$/i, '')
    .replace(/(\.assoc\.txt|\.glm\.(linear|logistic(\.hybrid)?)|\.csv|\.tsv|\.txt)$/i, '');
}

function parseFormats(s: string): Array<'svg' | 'png'> {
  const parts = s
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter((x) => x);
  for (const p of parts)
    if (p !== 'svg' && p !== 'png')
      throw new UsageError(`--format ${s}: unknown format "${p}"`, 'use svg, png or svg,png');
  if (parts.length === 0) throw new UsageError('--format is empty', 'use svg, png or svg,png');
  return [...new Set(parts)] as Array<'svg' | 'png'>;
}

/** Typed plot options of parsed flags (validated). */
export function plotOptions(a: PlotArgs): PlotOptions {
  const pos = (name: string, v: number, min: number, max = Infinity) => {
    if (!(Number.isFinite(v) && v >= min && v <= max))
      throw new UsageError(`--${name} must be a number in [${min}, ${max}]`);
    return v;
  };
  const bad = (msg: string): never => {
    throw new UsageError(msg);
  };
  return {
    title: a.title ?? '',
    width: pos('width', a.width, 300, 20000),
    height: pos('height', a.height, 200, 20000),
    alpha: a.alpha > 0 && a.alpha < 1 ? a.alpha : bad('--alpha must be in (0, 1)'),
    suggestive: pos('suggestive', a.suggestive, 0, 1),
    maxLabels: Math.floor(pos('max-labels', a['max-labels'], 0)),
    peakWindow: pos('peak-window', a['peak-window'], 0),
    scale: pos('scale', a.scale, 0.25, 10),
    pointRadius: PLOT_DEFAULTS.pointRadius,
    formats: parseFormats(a.format),
  };
}

/** The appearance flags (also offered by analysis commands next to --plot). */
export function plotAppearanceOptions<T>(y: Argv<T>) {
  const g = 'Plot:';
  return y
    .option('title', { type: 'string', describe: 'title printed at the top left of both plots', group: g })
    .option('width', {
      type: 'number',
      default: PLOT_DEFAULTS.width,
      describe: 'Manhattan plot width (SVG units; PNG pixels = width × scale)',
      group: g,
    })
    .option('height', {
      type: 'number',
      default: PLOT_DEFAULTS.height,
      describe: 'height of both plots; the QQ plot is height × height',
      group: g,
    })
    .option('format', {
      type: 'string',
      default: 'svg,png',
      describe: 'files to write: svg, png or svg,png',
      group: g,
    })
    .option('alpha', {
      type: 'number',
      default: PLOT_DEFAULTS.alpha,
      describe: 'genome-wide line at alpha / m (Bonferroni; m = SNPs with a p-value)',
      group: g,
    })
    .option('suggestive', {
      type: 'number',
      default: PLOT_DEFAULTS.suggestive,
      describe: 'p-value of the suggestive line (0 hides it)',
      group: g,
    })
    .option('max-labels', {
      type: 'number',
      default: PLOT_DEFAULTS.maxLabels,
      describe: 'label at most this many peaks with the SNP id of their lead SNP',
      group: g,
    })
    .option('peak-window', {
      type: 'number',
      default: PLOT_DEFAULTS.peakWindow,
      describe: 'significant SNPs closer than this many bp on one chromosome form one peak (one label)',
      group: g,
    })
    .option('scale', {
      type: 'number',
      default: PLOT_DEFAULTS.scale,
      describe: 'PNG pixels per SVG unit (2 → 2400 × 960 px by default)',
      group: g,
    });
}

export const plotCommand: CommandModule<object, PlotArgs> = {
  command: 'plot',
  describe:
    'Manhattan and QQ plots (SVG + PNG) of a results file: GEMMA .assoc.txt, plink2 .glm.linear, GAPIT or rMVP CSV',
  builder: (y) =>
    plotAppearanceOptions(
      y
        .option('in', {
          type: 'string',
          demandOption: true,
          describe: 'results file (plain or .gz); the format is recognised from its header',
          group: 'Input:',
        })
        .option('p-col', {
          type: 'string',
          describe:
            'p-value column (default: p_wald, p_lrt or p_score, whichever comes first in a GEMMA file; P in plink2; P.value in GAPIT; the last column in rMVP)',
          group: 'Input:',
        })
        .option('out', {
          type: 'string',
          describe:
            'output prefix: writes PREFIX.manhattan.svg/.png and PREFIX.qq.svg/.png (default: the input path without its suffix)',
          group: 'Output:',
        })
        .option('log-format', {
          choices: ['text', 'json'] as const,
          describe: 'log lines on stderr (default: text on a terminal, json otherwise)',
          group: 'Run:',
        }),
    )
      .example(
        '$0 plot --in out/cd8.assoc.txt',
        'out/cd8.manhattan.svg/.png and out/cd8.qq.svg/.png from p_wald',
      )
      .example(
        '$0 plot --in out/cd8.assoc.txt --p-col p_lrt --title "CD8 (LRT)" --out fig/cd8_lrt',
        'another test, a title and a prefix',
      )
      .example(
        '$0 plot --in GAPIT.Association.GWAS_Results.FarmCPU.EarHT.csv --format png --suggestive 0',
        'GAPIT results, PNG only, no suggestive line',
      )
      .example(
        '$0 plot --in run.CD8.glm.linear --alpha 0.01 --width 1800 --scale 3',
        'plink2 results, stricter line, wider, 5400 px PNG',
      )
      .epilog(
        'Manhattan: chromosomes in genome order with alternating colours; lines at alpha/m (Bonferroni) and at --suggestive; ' +
          'the lead SNP of each peak above the genome-wide line (else above the suggestive line) is labelled. ' +
          'QQ: observed vs expected −log10 p, y = x, pointwise 95 % band (Beta order statistics), λGC = median χ²₁ / 0.4549. ' +
          'NA p-values are skipped and counted; SNPs without a position are in the QQ plot but not on the Manhattan plot. ' +
          'Large files are thinned where points overlap (all points with p < 0.01 are kept).',
      ) as unknown as Argv<PlotArgs>,
  handler: async (a) => {
    const log = createLogger({ json: a['log-format'] ? a['log-format'] === 'json' : undefined });
    const o = plotOptions(a);
    const prefix = a.out ?? defaultPlotPrefix(a.in);
    await writePlots(a.in, prefix, { ...o, pCol: a['p-col'], log });
  },
};
