/** Plot options with their named defaults (parsed once at the CLI edge, see coordinator/plot-command.ts). */
export interface PlotOptions {
  /** Title at the top left of both plots (none when empty). */
  title: string;
  /** Manhattan plot width in SVG units (= PNG pixels at scale 1). */
  width: number;
  /** Height of both plots; the QQ plot is square (height × height). */
  height: number;
  /** Family-wise error rate of the genome-wide (Bonferroni) line alpha / m. */
  alpha: number;
  /** p-value of the suggestive line; 0 hides it. */
  suggestive: number;
  /** At most this many peaks are labelled with their SNP id. */
  maxLabels: number;
  /** Significant SNPs closer than this (bp, same chromosome) belong to one peak and get one label. */
  peakWindow: number;
  /** PNG pixels per SVG unit. */
  scale: number;
  /** Point radius (SVG units). */
  pointRadius: number;
  /** Which files to write. */
  formats: ReadonlyArray<'svg' | 'png'>;
}

export const PLOT_DEFAULTS: PlotOptions = {
  title: '',
  width: 1200,
  height: 480,
  alpha: 0.05,
  suggestive: 1e-5,
  maxLabels: 10,
  peakWindow: 1_000_000,
  scale: 2,
  pointRadius: 2.2,
  formats: ['svg', 'png'],
};

/**
 * Points at or above this −log10 p are always drawn; below it, points that fall in the same cell of half a
 * point radius (per chromosome colour) as a point already drawn are dropped (see manhattan.ts).
 */
export const THIN_BELOW_NLP = 2;
