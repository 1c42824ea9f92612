/**
 * A view of a genotype source restricted to chosen SNPs, in a chosen order (`--snps FILE`, SNP exclusions).
 * Index i of the view is SNP `indices[i]` of the source. Blocks are produced in view order: each chunk of view
 * SNPs is read from the source in one forward pass over the source range it spans, then re-ordered in memory.
 */
import { BlockCollector } from './blocks.js';
import { InputError } from '../errors.js';
import { readText, splitLines, wsTokens } from '../io/lines.js';
import type { BlockOptions, GenoBlock, GenotypeSource, SnpMeta } from './types.js';

export class SnpSubsetSource implements GenotypeSource {
  readonly format: GenotypeSource['format'];
  readonly label: string;
  readonly nSamples: number;
  readonly sampleIds: GenotypeSource['sampleIds'];
  readonly snps: SnpMeta[];

  constructor(
    readonly source: GenotypeSource,
    /** Source SNP index of each view SNP. */
    readonly indices: Int32Array,
    /** View SNPs read per source pass (default: as many as fit in 256 MB of float64 rows). */
    private readonly chunk = Math.max(1024, Math.floor(2 ** 28 / (8 * Math.max(1, source.nSamples)))),
  ) {
    this.format = source.format;
    this.label = source.label;
    this.nSamples = source.nSamples;
    this.sampleIds = source.sampleIds;
    this.snps = Array.from(indices, (i) => source.snps[i]);
  }

  async *blocks(opts: BlockOptions): AsyncGenerator<GenoBlock> {
    const b = new BlockCollector(opts, this.snps.length, this.nSamples);
    const { start, end, keep, n } = b;
    for (let c0 = start; c0 < end; c0 += this.chunk) {
      const c1 = Math.min(end, c0 + this.chunk);
      const wanted: number[] = [];
      let lo = Infinity;
      let hi = -1;
      for (let v = c0; v < c1; v++) {
        if (!b.wants(v)) continue;
        const s = this.indices[v];
        wanted.push(v);
        if (s < lo) lo = s;
        if (s > hi) hi = s;
      }
      if (wanted.length === 0) continue;
      const mask = new Uint8Array(hi + 1);
      for (const v of wanted) mask[this.indices[v]] = 1;
      const rows = new Map<number, Float64Array>();
      for await (const src of this.source.blocks({ keep, snpMask: mask, start: lo, end: hi + 1, blockSize: 512 })) {
        for (let r = 0; r < src.count; r++) rows.set(src.indices[r], src.data.slice(r * n, (r + 1) * n));
      }
      for (const v of wanted) {
        const row = rows.get(this.indices[v]);
        if (!row) throw new InputError('INPUT_FORMAT', `SNP ${this.snps[v].rs} could not be read`, { file: this.label });
        b.data.set(row, b.offset);
        const full = b.add(v);
        if (full) yield full;
      }
    }
    const last = b.flush();
    if (last) yield last;
  }

  close(): Promise<void> {
    return this.source.close();
  }
}

/**
 * Reads a SNP list (first whitespace-separated token per line; blank lines and `#` comments ignored) and
 * returns the source indices in the list's order. Unknown and repeated names are refused with the line.
 */
export async function readSnpList(path: string, snps: SnpMeta[]): Promise<Int32Array> {
  const byName = new Map<string, number>();
  snps.forEach((s, i) => {
    if (!byName.has(s.rs)) byName.set(s.rs, i);
  });
  const lines = splitLines(await readText(path));
  const out: number[] = [];
  const seen = new Set<string>();
  lines.forEach((line, i) => {
    const t = wsTokens(line);
    if (t.length === 0 || t[0].startsWith('#')) return;
    const name = t[0];
    const idx = byName.get(name);
    if (idx === undefined) {
      throw new InputError('INPUT_MISMATCH', `SNP "${name}" is not in the genotype data`, { file: path, line: i + 1 }, 'list SNP names as they appear in the .bim / map / BIMBAM file');
    }
    if (seen.has(name)) throw new InputError('INPUT_FORMAT', `SNP "${name}" is listed twice`, { file: path, line: i + 1 });
    seen.add(name);
    out.push(idx);
  });
  if (out.length === 0) throw new InputError('NO_DATA', 'the SNP list is empty', { file: path });
  return Int32Array.from(out);
}
