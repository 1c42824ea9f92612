/**
 * `writePlots(resultsFile, prefix, opts)`: reads a results file once (streaming) and writes
 * PREFIX.manhattan.{svg,png} and PREFIX.qq.{svg,png}, each atomically (temp file + rename). Used by
 * `gwasgrid plot` and by analysis commands' `--plot`.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { InputError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { manhattanSvg, type ManhattanSummary } from './manhattan.js';
import { PLOT_DEFAULTS, type PlotOptions } from './options.js';
import { svgToPng } from './png.js';
import { qqSvg, type QqSummary } from './qq.js';
import { FORMAT_NAMES, readResults, type ResultsTable } from './read.js';
import { bonferroniNegLog10, sortDescending } from './stats.js';
import { pText, thousands } from './svg.js';

export { PLOT_DEFAULTS, type PlotOptions } from './options.js';
export { readResults, type ResultsTable } from './read.js';
export { lambdaGC } from './stats.js';

export interface PlotResult {
  table: Omit<ResultsTable, 'chr' | 'pos' | 'nlp' | 'ids'>;
  manhattan: ManhattanSummary;
  qq: QqSummary;
  /** Files written. */
  files: string[];
}

/** Renders both plots of an in-memory table; returns the SVG texts and summaries (no files). */
export function renderPlots(t: ResultsTable, o: PlotOptions) {
  const man = manhattanSvg(t, o);
  const qq = qqSvg(t, o, sortDescending(t.nlp));
  return { manhattan: man, qq };
}

/**
 * Reads `resultsFile` (any format readResults knows; `pCol` picks the p-value column) and writes the plots
 * under `prefix`. Options not given take {@link PLOT_DEFAULTS}. Logs what was read, skipped and drawn.
 */
export async function writePlots(
  resultsFile: string,
  prefix: string,
  opts: Partial<PlotOptions> & { pCol?: string; log?: Logger } = {},
): Promise<PlotResult> {
  const o: PlotOptions = { ...PLOT_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  const log = opts.log;
  const t0 = performance.now();
  const sugNlp = o.suggestive > 0 ? -Math.log10(o.suggestive) : Infinity;
  // keep ids only of rows that can be labelled: at or above the suggestive line or the Bonferroni line of the
  // rows read so far (m only grows, so alpha/m_final ≤ alpha/m_so_far)
  const t = await readResults(resultsFile, {
    pCol: opts.pCol,
    keepId: (nlp, before) => nlp >= Math.min(sugNlp, bonferroniNegLog10(o.alpha, before + 1)),
  });
  if (t.n === 0) {
    throw new InputError('NO_DATA', `has no p-values to plot (${thousands(t.nNa)} rows are NA)`, { file: resultsFile }, 'check that the analysis finished and that --p-col names a p-value column');
  }
  log?.info(
    `plot: ${resultsFile} read as ${FORMAT_NAMES[t.format]}, p from ${t.pColumn}: ${thousands(t.n)} SNPs with a p-value` +
      (t.nNa ? `, ${thousands(t.nNa)} NA skipped` : '') +
      (t.nNoPosition ? `, ${thousands(t.nNoPosition)} without a position (in the QQ plot and λGC, not on the Manhattan plot)` : '') +
      (t.nZero ? `, ${thousands(t.nZero)} with p = 0 (not drawn)` : ''),
  );
  const { manhattan, qq } = renderPlots(t, o);
  // render everything before writing anything, so a failure leaves no partial set of plots
  const outputs: [string, string | Buffer][] = [];
  for (const [name, svg] of [
    ['manhattan', manhattan.svg],
    ['qq', qq.svg],
  ] as const) {
    if (o.formats.includes('svg')) outputs.push([`${prefix}.${name}.svg`, svg]);
    if (o.formats.includes('png')) outputs.push([`${prefix}.${name}.png`, await svgToPng(svg, o.scale)]);
  }
  await fsp.mkdir(dirname(prefix) || '.', { recursive: true });
  const files: string[] = [];
  for (const [path, data] of outputs) {
    await writeFileAtomic(path, data);
    files.push(path);
  }
  const ms = manhattan.summary;
  log?.info(
    `plot: Manhattan ${thousands(ms.drawn)} points drawn (${thousands(ms.thinned)} overlapping points thinned), ` +
      `genome-wide line ${pText(o.alpha / ms.m)}, ${ms.labels.length} peak${ms.labels.length === 1 ? '' : 's'} labelled` +
      (ms.labels.length ? ` (${ms.labels.join(', ')})` : '') +
      (ms.labelsDropped ? `, ${ms.labelsDropped} peak label${ms.labelsDropped === 1 ? '' : 's'} found no free place` : '') +
      `; QQ λGC = ${qq.summary.lambdaText}; ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  );
  for (const f of files) log?.info(`wrote ${f}`);
  const { chr: _c, pos: _p, nlp: _n, ids: _i, ...table } = t;
  return { table, manhattan: ms, qq: qq.summary, files };
}
