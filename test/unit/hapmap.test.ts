/**
 * HapMap reader: the coding rules of shared/data/tools/hapmap_to_plink.py on small files written here (IUPAC
 * heterozygotes, allele pair from observed calls, third allele → missing, minor allele counted, tie rules,
 * monomorphic SNPs), and the whole maize HapMap against maize_mdp.bed (made by that converter): every SNP,
 * every taxon, alleles, positions and taxon names, exactly.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HapmapFile } from '../../shared/genotype/hapmap.js';
import { BedFile } from '../../shared/genotype/plink.js';
import type { GenotypeSource } from '../../shared/genotype/types.js';
import { bfilePath, dataPath, tempDir } from '../helpers/data.js';

const LEAD = 'rs#\talleles\tchrom\tpos\tstrand\tassembly#\tcenter\tprotLSID\tassayLSID\tpanelLSID\tQCcode';

function hmp(taxa: string[], rows: Array<[string, string, string[]]>): string {
  const path = join(tempDir('hmp'), 'g.hmp.txt');
  const lines = [`${LEAD}\t${taxa.join('\t')}`];
  rows.forEach(([rs, alleles, calls], i) => lines.push([rs, alleles, '1', String(100 + i), '+', 'NA', 'NA', 'NA', 'NA', 'NA', 'NA', ...calls].join('\t')));
  writeFileSync(path, lines.join('\r\n') + '\r\n');
  return path;
}

async function allRows(g: GenotypeSource): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of g.blocks({ blockSize: 7 })) for (let r = 0; r < b.count; r++) out.push([...b.data.subarray(r * b.n, (r + 1) * b.n)]);
  return out;
}

describe('HapMap reader: coding rules', () => {
  it('two-letter, one-letter, IUPAC and slash calls; the minor allele is counted', async () => {
    const p = hmp(['t1', 't2', 't3', 't4', 't5'], [
      ['s1', 'A/G', ['AA', 'AG', 'GG', 'GG', 'NN']], // A minor (3 vs 5): count A
      ['s2', 'C/T', ['C', 'Y', 'T', 't', 'N']], // one-letter, IUPAC Y = CT, lowercase
      ['s3', 'A/G', ['R', 'GA', 'A/A', 'G|G', '--']], // R = AG, order irrelevant; A:4 G:4 tie → listed first (A)
    ]);
    const g = await HapmapFile.open(p);
    expect(g.sampleIds.map((s) => s.iid)).toEqual(['t1', 't2', 't3', 't4', 't5']);
    expect(g.snps.map((s) => [s.rs, s.chr, s.pos, s.a1, s.a0])).toEqual([
      ['s1', '1', 100, 'A', 'G'],
      ['s2', '1', 101, 'C', 'T'],
      ['s3', '1', 102, 'A', 'G'],
    ]);
    expect(await allRows(g)).toEqual([
      [2, 1, 0, 0, NaN],
      [2, 1, 0, 0, NaN],
      [1, 1, 2, 0, NaN],
    ]);
  });

  it('the allele pair comes from the observed calls; a third allele is missing; ties follow the alleles column', async () => {
    const p = hmp(['a', 'b', 'c', 'd', 'e', 'f'], [
      // alleles column says C/T but the calls are C and G (like PZA03533.1): pair C,G; C minor.
      ['wrongcol', 'C/T', ['CC', 'GG', 'GG', 'GG', 'CG', 'NN']],
      // three alleles: A 6, G 4, T 2 → pair A,G; the TT call is missing; G minor.
      ['third', 'A/G/T', ['AA', 'AA', 'GG', 'GG', 'TT', 'AA']],
      // tie 6:6 not listed → alphabetical (C before T): count C.
      ['tie', '-/-', ['CC', 'TT', 'CC', 'TT', 'CC', 'TT']],
      // tie 6:6, listed T first → count T.
      ['tie2', 'T/C', ['CC', 'TT', 'CC', 'TT', 'CC', 'TT']],
      // monomorphic: A1 is the unobserved allele of the alleles column.
      ['mono', 'G/A', ['GG', 'GG', 'NN', 'GG', 'GG', 'GG']],
      // monomorphic and no other listed allele: A1 = 0.
      ['mono0', 'G', ['GG', 'GG', 'GG', 'GG', 'GG', 'GG']],
      // all missing: pair from the alleles column.
      ['allmiss', 'T/A', ['NN', 'N', '--', '-', '00', '?']],
      // half calls and indel codes are missing.
      ['half', 'A/C', ['AN', '+', '+-', 'AC', 'AA', 'NA']],
    ]);
    const g = await HapmapFile.open(p);
    expect(g.snps.map((s) => `${s.rs}:${s.a1}/${s.a0}`)).toEqual([
      'wrongcol:C/G',
      'third:G/A',
      'tie:C/T',
      'tie2:T/C',
      'mono:A/G',
      'mono0:0/G',
      'allmiss:T/A',
      'half:C/A',
    ]);
    expect(await allRows(g)).toEqual([
      [2, 0, 0, 0, 1, NaN],
      [0, 0, 2, 2, NaN, 0],
      [2, 0, 2, 0, 2, 0],
      [0, 2, 0, 2, 0, 2],
      [0, 0, NaN, 0, 0, 0],
      [0, 0, 0, 0, 0, 0],
      [NaN, NaN, NaN, NaN, NaN, NaN],
      [NaN, NaN, NaN, 1, 0, NaN],
    ]);
    expect(g.notes.join('\n')).toMatch(/1 calls with a third allele set to missing/);
    expect(g.notes.join('\n')).toMatch(/3 half-missing or indel calls/);
  });
});

describe('HapMap reader: maize_mdp', () => {
  it('gives exactly the dosages, alleles and positions of maize_mdp.bed (every SNP, every taxon)', async () => {
    const h = await HapmapFile.open(dataPath('maize_mdp', 'original', 'mdp_genotype_test.hmp.txt'));
    const bed = await BedFile.open(bfilePath('maize_mdp', 'maize_mdp'));
    expect(h.nSamples).toBe(281);
    expect(h.sampleIds.map((s) => [s.fid, s.iid])).toEqual(bed.fam.map((f) => [f.fid, f.iid]));
    expect(h.snps.length).toBe(3093);
    expect(h.snps.map((s) => [s.chr, s.rs, s.pos, s.a1, s.a0])).toEqual(bed.snps.map((s) => [s.chr, s.rs, s.pos, s.a1, s.a0]));
    const a = await allRows(h);
    const b = await allRows(bed);
    let mismatches = 0;
    let missing = 0;
    for (let s = 0; s < b.length; s++) {
      for (let i = 0; i < 281; i++) {
        if (!Object.is(a[s][i], b[s][i])) mismatches++;
        if (Number.isNaN(b[s][i])) missing++;
      }
    }
    expect(mismatches).toBe(0);
    // README: 31,438 missing genotypes in the bed = 31,411 missing calls + 27 third-allele calls (PZB00063.1),
    // as in reference/hapmap_conversion_report.tsv.
    expect(missing).toBe(31438);
    expect(h.notes.join('\n')).toMatch(/27 calls with a third allele/);
    expect(h.notes.join('\n')).toMatch(/31411 missing calls/);
    await bed.close();
  });
});
