/**
 * Genome positions as FarmCPU bins them (rMVP 1.4.6 `MVP.FarmCPU` / `FarmCPU.Specify`; spec
 * ../shared/docs/FARMCPU_CMLM.md §1.1, §1.5): each SNP gets the key chr·1e10 + pos and, for bin size b, the bin
 * id floor(key / b). Chromosome labels that are numbers keep their value; other labels (X, Y, MT, …) become
 * max numeric + 1, + 2, … in order of first appearance. 1e10 is a multiple of every default bin size, so bins
 * never straddle chromosomes. Keys are exact in float64 for chromosome codes below 9e5.
 */
import type { SnpMeta } from '../../genotype/types.js';
import { InputError } from '../../errors.js';

/** Numeric chromosome code of every SNP. */
export function chromosomeCodes(snps: readonly SnpMeta[]): Float64Array {
  const codes = new Float64Array(snps.length);
  let max = 0;
  for (const s of snps) {
    const v = Number(s.chr);
    if (s.chr.trim() !== '' && Number.isFinite(v) && v > max) max = v;
  }
  const extra = new Map<string, number>();
  snps.forEach((s, i) => {
    const v = Number(s.chr);
    if (s.chr.trim() !== '' && Number.isFinite(v)) codes[i] = v;
    else {
      let c = extra.get(s.chr);
      if (c === undefined) {
        c = max + extra.size + 1;
        extra.set(s.chr, c);
      }
      codes[i] = c;
    }
  });
  return codes;
}

/** Position keys chr·1e10 + pos; refuses SNPs without a position (FarmCPU bins need one). */
export function positionKeys(snps: readonly SnpMeta[], label = 'genotypes'): Float64Array {
  const chr = chromosomeCodes(snps);
  const keys = new Float64Array(snps.length);
  snps.forEach((s, i) => {
    if (!(s.pos >= 0)) {
      throw new InputError('INPUT_FORMAT', `SNP ${s.rs} has no position`, { file: label }, 'FarmCPU bins SNPs by position: give a map/annotation with positions or leave such SNPs out');
    }
    keys[i] = chr[i] * 1e10 + s.pos;
  });
  return keys;
}

/** Bin id of a key for bin size b (R: floor(ID / bin.size)). */
export function binOf(key: number, binSize: number): number {
  return Math.floor(key / binSize);
}
