/**
 * The numeric-matrix reader (GAPIT and rMVP layouts) on GAPIT's maize tutorial files, checked against the
 * PLINK conversion of the same panel's HapMap: on every call the bed has, mdp_numeric.txt holds the same dosage
 * or its complement 2 − d (the two count different alleles, see maize_mdp/README.md), consistently per SNP —
 * except for the few SNPs whose GAPIT coding the README calls exceptions (the `alleles` column disagreeing with
 * the calls, a third allele): those are counted, and must stay few.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NumericFile, readNumericMap } from '../../shared/genotype/numeric.js';
import { BedFile } from '../../shared/genotype/plink.js';
import { readTable } from '../../shared/samples/table.js';
import { InputError } from '../../shared/errors.js';
import { dataPath, bfilePath, tempDir } from '../helpers/data.js';

const numericPath = () => dataPath('maize_mdp', 'original', 'mdp_numeric.txt');
const mapPath = () => dataPath('maize_mdp', 'original', 'mdp_SNP_information.txt');

async function matrix(src: {
  nSamples: number;
  snps: unknown[];
  blocks: NumericFile['blocks'];
}): Promise<Float64Array> {
  const out = new Float64Array(src.snps.length * src.nSamples);
  for await (const b of src.blocks({ blockSize: 97 })) {
    for (let r = 0; r < b.count; r++) out.set(b.data.subarray(r * b.n, (r + 1) * b.n), b.indices[r] * b.n);
  }
  return out;
}

describe('numeric genotype matrix', () => {
  it('reads GAPIT mdp_numeric.txt consistently with the bed of the same panel', async () => {
    const num = await NumericFile.open(numericPath(), mapPath());
    expect(num.nSamples).toBe(281);
    expect(num.snps.length).toBe(3093);
    expect(num.snps[0]).toMatchObject({ rs: 'PZB00859.1', chr: '1', pos: 157104 });
    const bed = await BedFile.open(bfilePath('maize_mdp', 'maize_mdp'));
    const bedIndex = new Map(bed.fam.map((f, i) => [f.iid, i]));
    const colOfNum = num.sampleIds.map((id) => bedIndex.get(id.iid));
    expect(colOfNum.every((c) => c !== undefined)).toBe(true);
    const X = await matrix(num);
    const B = await matrix(bed);
    const n = 281;
    let compared = 0;
    let agreeing = 0;
    let exceptions = 0;
    for (let j = 0; j < 3093; j++) {
      expect(num.snps[j].rs).toBe(bed.snps[j].rs);
      let same = 0;
      let flipped = 0;
      let called = 0;
      for (let i = 0; i < n; i++) {
        const b = B[j * n + colOfNum[i]!];
        if (Number.isNaN(b)) continue;
        const x = X[j * n + i];
        called++;
        if (x === b) same++;
        if (x === 2 - b) flipped++;
      }
      // Heterozygous calls agree either way; a SNP agrees when every call does under one orientation.
      if (Math.max(same, flipped) !== called) exceptions++;
      compared += called;
      agreeing += Math.max(same, flipped);
    }
    expect(compared).toBeGreaterThan(0.95 * 281 * 3093);
    // Measured: 42 SNPs, 99.85 % of calls; the README names 47 SNPs whose `alleles` column disagrees + 1 with a third allele.
    expect(exceptions).toBeLessThanOrEqual(48);
    expect(agreeing / compared).toBeGreaterThan(0.995);
    await bed.close();
  });

  it('reads the rMVP layout (a row per SNP) to the same matrix, with individual names', async () => {
    const num = await NumericFile.open(numericPath(), mapPath());
    const X = await matrix(num);
    const dir = tempDir('numeric');
    const rows: string[] = [];
    for (let j = 0; j < 50; j++)
      rows.push(
        Array.from(X.subarray(j * 281, (j + 1) * 281), (v) => (Number.isNaN(v) ? 'NA' : String(v))).join(
          '\t',
        ),
      );
    writeFileSync(join(dir, 'g.txt'), rows.join('\n') + '\n');
    const mapLines = [
      'SNP\tCHROM\tPOS\tREF\tALT',
      ...num.snps.slice(0, 50).map((s) => `${s.rs}\t${s.chr}\t${s.pos}\tA\tG`),
    ];
    writeFileSync(join(dir, 'g.map'), mapLines.join('\n') + '\n');
    writeFileSync(join(dir, 'g.ind'), num.sampleIds.map((s) => s.iid).join('\n') + '\n');
    const r = await NumericFile.open(join(dir, 'g.txt'), join(dir, 'g.map'), { indPath: join(dir, 'g.ind') });
    expect(r.sampleIds).toEqual(num.sampleIds);
    expect(r.snps[3]).toMatchObject({ rs: num.snps[3].rs, a1: 'G', a0: 'A' });
    const keep = Int32Array.from([5, 0, 280]);
    for await (const b of r.blocks({ blockSize: 16, keep, start: 10, end: 20 })) {
      for (let k = 0; k < b.count; k++) {
        const j = b.indices[k];
        expect(Array.from(b.data.subarray(k * 3, k * 3 + 3))).toEqual([
          X[j * 281 + 5],
          X[j * 281],
          X[j * 281 + 280],
        ]);
      }
    }
  });

  it('refuses a map that does not match, and a bad genotype, naming file and line', async () => {
    const dir = tempDir('numeric-bad');
    writeFileSync(join(dir, 'map.txt'), 'SNP Chromosome Position\ns1 1 100\ns2 1 200\n');
    writeFileSync(join(dir, 'g1.txt'), 'taxa s1 s3\nA 0 2\n');
    await expect(NumericFile.open(join(dir, 'g1.txt'), join(dir, 'map.txt'))).rejects.toThrow(
      /SNP column 2 is "s3" but map row 2 is "s2"/,
    );
    writeFileSync(join(dir, 'g2.txt'), 'taxa s1 s2\nA 0 2\nB 1 3\n');
    const err = await NumericFile.open(join(dir, 'g2.txt'), join(dir, 'map.txt')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).describe()).toMatch(/g2\.txt:3: /);
    writeFileSync(join(dir, 'g3.txt'), 'taxa s1 s2\nA 0 2\nA 1 1\n');
    await expect(NumericFile.open(join(dir, 'g3.txt'), join(dir, 'map.txt'))).rejects.toThrow(
      /duplicate individual "A"/,
    );
    expect((await readNumericMap(join(dir, 'map.txt'))).length).toBe(2);
  });

  it('joins GAPIT trait files (Taxa header, NaN missing) by taxon', async () => {
    const t = await readTable(dataPath('maize_mdp', 'original', 'mdp_traits.txt'), {
      missing: ['-9'],
      what: 'phenotype',
    });
    expect(t.names).toEqual(['EarHT', 'dpoll', 'EarDia']);
    expect(t.iidOnly).toBe(true);
    expect(Array.from(t.columns[0]).filter((v) => !Number.isNaN(v)).length).toBeGreaterThanOrEqual(279);
  });
});
