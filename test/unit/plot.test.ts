/**
 * Plots: results reading (formats by header, NA/0/log-space p-values, bad rows), λGC against an independent
 * computation (own χ²₁ quantile by bisection on an erf series) on GEMMA's mouse CD8 reference, the SVG structure of
 * a tiny fixture (points, threshold line on the axis' own scale, labels, λGC text, well-formed XML), the PNG
 * (signature, IHDR size, decoded pixels where the points are), thinning of a large scan, and writePlots' files.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, dataPath, tempDir } from '../helpers/data.js';
import { decodePng, pixel, PNG_SIGNATURE } from '../helpers/png.js';
import { chromosomeOrder, parseNegLog10P, readResults, type ResultsTable } from '../../shared/results/plot/read.js';
import { lambdaGC, qqBand } from '../../shared/results/plot/stats.js';
import { manhattanSvg } from '../../shared/results/plot/manhattan.js';
import { qqSvg } from '../../shared/results/plot/qq.js';
import { PLOT_DEFAULTS } from '../../shared/results/plot/options.js';
import { svgToPng } from '../../shared/results/plot/png.js';
import { writePlots } from '../../shared/results/plot/index.js';
import { fontBase64 } from '../../shared/results/plot/font-bytes.js';
import { textWidth } from '../../shared/results/plot/font.js';
import { GwasError } from '../../shared/errors.js';

const TINY = join(REPO, 'test', 'fixtures', 'plot', 'tiny.assoc.txt');

// ---- independent χ²₁ quantile: x = z² with P(|Z| > z) = p, erf by its Taylor series, z by bisection ----
function erfSeries(x: number): number {
  let term = x;
  let sum = x;
  for (let k = 1; k < 200; k++) {
    term *= (-x * x) / k;
    const add = term / (2 * k + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
function chisq1Upper(p: number): number {
  // P(|Z| > z) = 1 − erf(z/√2); decreasing in z; valid for moderate p (series accurate for z ≲ 4)
  let lo = 0;
  let hi = 6;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (1 - erfSeries(mid / Math.SQRT2) > p) lo = mid;
    else hi = mid;
  }
  const z = (lo + hi) / 2;
  return z * z;
}
function independentLambda(ps: number[]): number {
  const chi = ps.map(chisq1Upper).sort((a, b) => a - b);
  const n = chi.length;
  const med = n % 2 ? chi[(n - 1) / 2] : (chi[n / 2 - 1] + chi[n / 2]) / 2;
  return med / chisq1Upper(0.5);
}

/** A tiny XML well-formedness check: balanced tags, quoted attributes, escaped text. */
function checkXml(svg: string): void {
  const stack: string[] = [];
  const re = /<[^>]*>|[^<]+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(svg))) {
    const tok = m[0];
    if (!tok.startsWith('<')) {
      expect(tok, 'text must not hold raw & or >').not.toMatch(/&(?!(amp|lt|gt|quot|#\d+);)|>/);
      continue;
    }
    if (tok.startsWith('<?')) continue;
    if (tok.startsWith('</')) {
      expect(stack.pop()).toBe(tok.slice(2, -1));
      continue;
    }
    expect(tok, tok).toMatch(/^<[\w:-]+(\s+[\w:-]+="[^"<]*")*\s*\/?>$/);
    if (!tok.endsWith('/>')) stack.push(/^<([\w:-]+)/.exec(tok)![1]);
  }
  expect(stack).toEqual([]);
}

const circles = (svg: string) => [...svg.matchAll(/<circle cx="([-\d.]+)" cy="([-\d.]+)" r="[\d.]+"\/>/g)].map((c) => ({ x: Number(c[1]), y: Number(c[2]) }));

/** The y axis as drawn: value → y from the first and last tick labels. */
function yAxis(svg: string): (v: number) => number {
  const g = /<g class="y-axis">([\s\S]*?)<\/g>/.exec(svg)![1];
  const ticks = [...g.matchAll(/<text x="[\d.]+" y="([\d.]+)" font-size="(\d+)" text-anchor="end">([\d.]+)<\/text>/g)].map((t) => ({
    y: Number(t[1]) - 0.35 * Number(t[2]),
    v: Number(t[3]),
  }));
  expect(ticks.length).toBeGreaterThanOrEqual(3);
  const a = ticks[0];
  const b = ticks[ticks.length - 1];
  return (v) => a.y + ((v - a.v) * (b.y - a.y)) / (b.v - a.v);
}

describe('results reader', () => {
  it('parses p-values to −log10 p, exactly below the double range', () => {
    expect(parseNegLog10P('1')).toBe(0);
    expect(parseNegLog10P('1e-5')).toBeCloseTo(5, 14);
    expect(parseNegLog10P('3.162278e-1235')! - 1234.5).toBeLessThan(1e-7);
    expect(parseNegLog10P('0')).toBe(Infinity);
    expect(parseNegLog10P('NA')).toBeNaN();
    expect(parseNegLog10P('-nan')).toBeNaN();
    expect(parseNegLog10P('')).toBeNaN();
    expect(parseNegLog10P('abc')).toBeNull();
  });

  it('orders chromosomes as a genome', () => {
    expect(['X', '10', 'Un', '2', 'chr1', 'MT', 'Y', '3'].sort(chromosomeOrder)).toEqual(['chr1', '2', '3', '10', 'X', 'Y', 'MT', 'Un']);
  });

  it('reads the tiny GEMMA file: NA skipped, unpositioned kept, chromosomes in genome order', async () => {
    const t = await readResults(TINY);
    expect(t.format).toBe('gemma');
    expect(t.pColumn).toBe('p_wald');
    expect(t.n).toBe(11);
    expect(t.nNa).toBe(1);
    expect(t.nNoPosition).toBe(1);
    expect(t.chrNames).toEqual(['1', '2', '3', '10', 'X']);
    expect(t.nlp[1]).toBeCloseTo(9, 12);
    const lrt = await readResults(TINY, { pCol: 'p_lrt' });
    expect(lrt.pColumn).toBe('p_lrt');
  });

  it('recognises plink2, GAPIT, rMVP and plain tables by their headers', async () => {
    const dir = tempDir('plot-read');
    const f = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const plink = await readResults(
      f('a.glm.linear', '#CHROM\tPOS\tID\tREF\tALT\tA1\tTEST\tOBS_CT\tBETA\tSE\tT_STAT\tP\n1\t100\trsA\tG\tA\tA\tADD\t10\t0.1\t0.1\t1\t0.01\n1\t100\trsA\tG\tA\tA\tsex\t10\t0.1\t0.1\t1\t1e-20\n1\t200\trsB\tG\tA\tA\tADD\t10\tNA\tNA\tNA\tNA\n'),
    );
    expect([plink.format, plink.pColumn, plink.n, plink.nNa]).toEqual(['plink2', 'P', 1, 1]);
    expect(plink.nlp[0]).toBeCloseTo(2, 12);
    const log10 = await readResults(f('b.glm.linear', '#CHROM\tPOS\tID\tREF\tALT\tA1\tOBS_CT\tBETA\tSE\tT_STAT\tNEG_LOG10_P\n1\t100\trsA\tG\tA\tA\t10\t0.1\t0.1\t1\t1234.5\n'));
    expect([log10.format, log10.pColumn, log10.nlp[0]]).toEqual(['plink2', 'NEG_LOG10_P', 1234.5]);
    const gapit = await readResults(f('g.csv', 'SNP,Chr,Pos,P.value,MAF,nobs,H&B.P.Value,Effect\nm1,1,157104,0.001,0.2,281,0.5,1.2\nm2,2,5000,0.5,0.3,281,0.9,0.1\n'));
    expect([gapit.format, gapit.pColumn, gapit.n, gapit.chrNames]).toEqual(['gapit', 'P.value', 2, ['1', '2']]);
    expect(gapit.nlp[0]).toBeCloseTo(3, 12);
    const rmvp = await readResults(
      f('EarHT.FarmCPU.csv', '"SNP","CHROM","POS","A1","A2","MAF","Effect","SE","EarHT.FarmCPU"\n"m1",1,157104,"A","G",0.2,1.2,0.3,1e-4\n"m2","2",5000,"A","G",0.3,NA,NA,NA\n'),
    );
    expect([rmvp.format, rmvp.pColumn, rmvp.n, rmvp.nNa]).toEqual(['rmvp', 'EarHT.FarmCPU', 1, 1]);
    expect(rmvp.nlp[0]).toBeCloseTo(4, 12);
    // FarmCPU as gwasgrid writes it: the .assoc.txt leading columns with beta, se, p_wald
    const farm = await readResults(f('earht.farmcpu.assoc.txt', 'chr\trs\tps\tn_miss\tallele1\tallele0\taf\tbeta\tse\tp_wald\n1\tm1\t157104\t0\tA\tG\t0.242\t1.2\t0.3\t2.5e-07\n'));
    expect([farm.format, farm.pColumn, farm.n]).toEqual(['gemma', 'p_wald', 1]);
    const plain = await readResults(dataPath('maize_mdp', 'reference', 'farmcpu_gapit_farmcpu_EarHT.tsv'));
    expect([plain.format, plain.pColumn, plain.n, plain.chrNames.length]).toEqual(['table', 'p', 3093, 10]);
  });

  it('refuses malformed files with the file and line', async () => {
    const dir = tempDir('plot-bad');
    const header = readFileSync(TINY, 'utf8').split('\n')[0];
    const cases: [string, RegExp, string][] = [
      [`${header}\n1\trs1\t100\t0\tA\tG\n`, /has 6 fields but the header has 15/, 'INPUT_FORMAT'],
      [`${header}\n1\trs1\t100\t0\tA\tG\t0.3\t0\t0\t0\t0\t0\t1.5\t0.1\t0.1\n`, /not a p-value/, 'INPUT_FORMAT'],
      [`${header}\n1\trs1\t100\t0\tA\tG\t0.3\t0\t0\t0\t0\t0\tzero\t0.1\t0.1\n`, /"zero" is not a number/, 'INPUT_FORMAT'],
      ['a\tb\tc\n1\t2\t3\n', /no SNP id, chromosome, position, p-value column/, 'INPUT_FORMAT'],
      ['', /empty/, 'NO_DATA'],
    ];
    for (const [i, [text, msg, code]] of cases.entries()) {
      const file = join(dir, `bad${i}.txt`);
      writeFileSync(file, text);
      const err = (await readResults(file).catch((e: unknown) => e)) as GwasError;
      expect(err, text).toBeInstanceOf(GwasError);
      expect(err.code).toBe(code);
      expect(err.describe()).toMatch(msg);
      expect(err.location.file).toBe(file);
      if (i < 3) expect(err.location.line).toBe(2);
    }
    const e = (await readResults(TINY, { pCol: 'P' }).catch((x: unknown) => x)) as GwasError;
    expect(e.code).toBe('USAGE');
    expect(e.describe()).toMatch(/p_wald, p_lrt, p_score/);
  });
});

describe('λGC and the QQ band', () => {
  it('matches an independent computation on GEMMA mouse CD8 (-lmm 4, p_wald)', async () => {
    const file = dataPath('mouse_hs1940', 'reference', 'mouse_hs1940.CD8.lmm4.assoc.txt');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const col = lines[0].split('\t').indexOf('p_wald');
    const ps = lines.slice(1).map((l) => Number(l.split('\t')[col]));
    const want = independentLambda(ps);
    const t = await readResults(file);
    const got = lambdaGC(t.nlp);
    const rel = Math.abs(got - want) / want;
    console.log(`λGC mouse CD8 p_wald: ${got} (independent ${want}, relative deviation ${rel.toExponential(2)})`);
    expect(rel).toBeLessThan(1e-9);
    expect(want).toBeCloseTo(0.7984, 4); // sanity: a deflated LMM scan on this data
    const { summary } = qqSvg(t, PLOT_DEFAULTS);
    expect(summary.lambdaText).toBe(want.toFixed(3));
  });

  it('the band holds 95 % of each order statistic: I_x(i, n−i+1) at its edges is 0.025 and 0.975', () => {
    const n = 1000;
    const band = qqBand(n);
    expect(band[0].rank).toBe(1);
    expect(band[band.length - 1].rank).toBe(n);
    // rank 1: P(min ≤ x) = 1 − (1 − x)^n, closed form
    const lo = 10 ** -band[0].upper;
    const hi = 10 ** -band[0].lower;
    expect(1 - (1 - lo) ** n).toBeCloseTo(0.025, 10);
    expect(1 - (1 - hi) ** n).toBeCloseTo(0.975, 10);
    // rank n: P(max ≤ x) = x^n
    const last = band[band.length - 1];
    expect((10 ** -last.upper) ** n).toBeCloseTo(0.025, 10);
    expect((10 ** -last.lower) ** n).toBeCloseTo(0.975, 10);
  });
});

describe('SVG structure (tiny fixture)', () => {
  const opts = { ...PLOT_DEFAULTS, title: 'Tiny <test> & co' };

  it('Manhattan: one circle per positioned SNP, lines on the axis scale, one label per peak, genome order', async () => {
    const t = await readResults(TINY);
    const { svg, summary } = manhattanSvg(t, opts);
    checkXml(svg);
    expect(svg).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 1200 480"/);
    expect(svg).toContain('font-family="sans-serif"');
    expect(svg).toContain('Tiny &lt;test&gt; &amp; co');
    const pts = circles(svg);
    expect(pts.length).toBe(10); // 12 rows − 1 NA − 1 without position
    expect(summary).toMatchObject({ drawn: 10, thinned: 0, m: 11, labels: ['rs2', 'rs10'], labelsDropped: 0 });
    // chromosome groups and x labels in genome order
    expect([...svg.matchAll(/data-chr="([^"]+)"/g)].map((x) => x[1])).toEqual(['1', '2', '3', '10', 'X']);
    expect([...svg.matchAll(/class="chromosome-label"[^>]*>([^<]+)</g)].map((x) => x[1])).toEqual(['1', '2', '3', '10', 'X']);
    // the genome-wide line sits at −log10(0.05/11) on the drawn axis; the suggestive line at 5
    const Y = yAxis(svg);
    const gwY = Number(/<line x1="[\d.]+" y1="([\d.]+)" x2="[\d.]+" y2="[\d.]+" class="threshold genome-wide"/.exec(svg)![1]);
    expect(Math.abs(gwY - Y(-Math.log10(0.05 / 11)))).toBeLessThan(0.15);
    const sugY = Number(/<line x1="[\d.]+" y1="([\d.]+)" x2="[\d.]+" y2="[\d.]+" class="threshold suggestive"/.exec(svg)![1]);
    expect(Math.abs(sugY - Y(5))).toBeLessThan(0.15);
    // each point at its −log10 p on that axis (rows in file order within chromosome groups 1, 2, 3, 10, X)
    const expectedNlp = [0.5, 1e-9, 1e-7, 0.03, 0.2, 0.8, 0.07, 0.4, 3e-6, 0.6].map((p) => -Math.log10(p));
    pts.forEach((p, k) => expect(Math.abs(p.y - Y(expectedNlp[k]))).toBeLessThan(0.15));
    // x increases along the genome
    for (let k = 1; k < pts.length; k++) expect(pts[k].x).toBeGreaterThan(pts[k - 1].x);
    // labels: text of the lead SNPs, not overlapping (their boxes from the font metrics)
    const labels = [...svg.matchAll(/<text class="label" x="([\d.]+)" y="([\d.]+)" font-size="(\d+)"[^>]*>([^<]+)<\/text>/g)];
    expect(labels.map((l) => l[4])).toEqual(['rs2', 'rs10']);
    // the label of rs2 sits straight above its point
    expect(Number(labels[0][1])).toBeCloseTo(pts[1].x, 1);
    expect(Number(labels[0][2])).toBeLessThan(pts[1].y);
    expect(svg).toContain('Bonferroni 0.05/11 = 4.5×10⁻³');
  });

  it('QQ: every SNP with a p-value, y = x, band, λGC text', async () => {
    const t = await readResults(TINY);
    const { svg, summary } = qqSvg(t, opts);
    checkXml(svg);
    expect(svg).toContain('viewBox="0 0 480 480"');
    expect(circles(svg).length).toBe(11);
    expect(summary.n).toBe(11);
    const ps = [0.5, 1e-9, 1e-7, 0.03, 0.2, 1e-12, 0.8, 0.4, 3e-6, 0.6, 0.07];
    const lam = independentLambda(ps);
    expect(summary.lambda).toBeCloseTo(lam, 9);
    expect(svg).toMatch(new RegExp(`<text class="lambda"[^>]*>λ<tspan[^>]*>GC</tspan><tspan[^>]*> = ${lam.toFixed(3)}</tspan></text>`));
    expect(svg).toMatch(/<polygon class="band" clip-path="url\(#qq-area\)"/);
    expect(svg).toMatch(/<line [^>]*class="diagonal"/);
    expect(svg).toContain('n = 11 SNPs');
  });
});

describe('PNG', () => {
  it('decodes to the SVG size × scale with the points drawn where the SVG puts them', async () => {
    const t = await readResults(TINY);
    const { svg } = manhattanSvg(t, PLOT_DEFAULTS);
    const png = await svgToPng(svg, 2);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.toString('latin1', 12, 16)).toBe('IHDR');
    const img = decodePng(png);
    expect([img.width, img.height]).toEqual([2400, 960]);
    const pts = circles(svg);
    const hex = (c: string) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
    // chromosome 1 points in the first colour, chromosome 2 in the second
    const col = [hex('#27408b'), hex('#27408b'), hex('#27408b'), hex('#27408b'), hex('#8aa4cc')];
    for (let k = 0; k < 5; k++) {
      const px = pixel(img, pts[k].x * 2, pts[k].y * 2);
      for (let c = 0; c < 3; c++) expect(Math.abs(px[c] - col[k][c]), `point ${k} channel ${c}`).toBeLessThanOrEqual(2);
    }
    // white background away from everything; some dark text pixels in the y-axis title region
    expect(pixel(img, 1000, 300)).toEqual([255, 255, 255, 255]);
    let dark = 0;
    for (let y = 300; y < 700; y++) for (let x = 10; x < 50; x++) if (pixel(img, x, y)[0] < 128) dark++;
    expect(dark).toBeGreaterThan(50);
  });

  it('the embedded font is the committed file and its metrics are sane', () => {
    const ttf = readFileSync(join(REPO, 'shared', 'results', 'plot', 'fonts', 'DejaVuSans-subset.ttf'));
    expect(Buffer.from(fontBase64, 'base64').equals(ttf)).toBe(true);
    // DejaVu Sans: "0" advances 1303/2048 em; a space 651/2048
    expect(textWidth('0', 2048)).toBe(1303);
    expect(textWidth(' ', 2048)).toBe(651);
  });
});

describe('large scans and files', () => {
  it('thins overlapping points below −log10 p = 2 and keeps every point above it', () => {
    const n = 300_000;
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
    const chr = new Int32Array(n);
    const pos = new Float64Array(n);
    const nlp = new Float64Array(n);
    let above = 0;
    for (let i = 0; i < n; i++) {
      chr[i] = Math.floor((i / n) * 10);
      pos[i] = 1 + (i % (n / 10)) * 1000;
      nlp[i] = -Math.log10(rnd());
      if (nlp[i] >= 2) above++;
    }
    const t: ResultsTable = {
      file: 'synthetic', format: 'gemma', pColumn: 'p_wald', chrNames: Array.from({ length: 10 }, (_, k) => String(k + 1)),
      chr, pos, nlp, n, nNa: 0, nNoPosition: 0, nZero: 0, ids: new Map(),
    };
    const t0 = performance.now();
    const { svg, summary } = manhattanSvg(t, PLOT_DEFAULTS);
    const ms = performance.now() - t0;
    expect(summary.drawn + summary.thinned).toBe(n);
    expect(summary.drawn).toBeLessThan(n / 3);
    expect(circles(svg).length).toBe(summary.drawn);
    // every point with −log10 p ≥ 2 is drawn: only points below 2 are thinned, and the circles at or above the y
    // of 2 on the drawn axis (0.1 = the coordinate rounding) are at least as many as those points
    expect(summary.thinned).toBeLessThanOrEqual(n - above);
    const Y = yAxis(svg);
    expect(circles(svg).filter((c) => c.y <= Y(2) + 0.1).length).toBeGreaterThanOrEqual(above);
    const q = qqSvg(t, PLOT_DEFAULTS);
    expect(q.summary.drawn).toBeLessThan(3000);
    console.log(`${n} SNPs: Manhattan ${summary.drawn} points drawn in ${ms.toFixed(0)} ms; QQ ${q.summary.drawn} points`);
  });

  it('writePlots writes the four files atomically, and nothing for a bad file', async () => {
    const dir = tempDir('plot-write');
    const r = await writePlots(TINY, join(dir, 'sub', 'tiny'), { title: 'Tiny' });
    expect(r.files.map((f) => f.slice(dir.length + 1))).toEqual(['sub/tiny.manhattan.svg', 'sub/tiny.manhattan.png', 'sub/tiny.qq.svg', 'sub/tiny.qq.png']);
    expect(readdirSync(join(dir, 'sub')).sort()).toEqual(['tiny.manhattan.png', 'tiny.manhattan.svg', 'tiny.qq.png', 'tiny.qq.svg']);
    const bad = join(dir, 'bad.assoc.txt');
    writeFileSync(bad, readFileSync(TINY, 'utf8') + '1\trsX\t5\n');
    await expect(writePlots(bad, join(dir, 'bad'))).rejects.toThrow(/has 3 fields/);
    expect(existsSync(join(dir, 'bad.manhattan.svg'))).toBe(false);
    const svgOnly = await writePlots(TINY, join(dir, 'only'), { formats: ['svg'] });
    expect(svgOnly.files.length).toBe(2);
  });
});
