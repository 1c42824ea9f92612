/**
 * Readers on small files written by the test: the bed decoder against known bit patterns, byte-range reads,
 * and refusal of bad input (wrong magic, sample-major, truncated, count mismatch, duplicate IDs), each naming
 * the file and the fix. Phenotype/covariate style detection and joins by ID.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BedFile, decodeBed } from '../../shared/genotype/plink.js';
import { alignSamples } from '../../shared/samples/align.js';
import { InputError, GwasError } from '../../shared/errors.js';
import { tempDir } from '../helpers/data.js';

function writeFileset(dir: string, opts: { magic?: number[]; snps?: number; samples?: number; truncate?: number } = {}) {
  const n = opts.samples ?? 5;
  const m = opts.snps ?? 3;
  const prefix = join(dir, 'x');
  writeFileSync(`${prefix}.fam`, Array.from({ length: n }, (_, i) => `F${i} I${i} 0 0 1 ${i === 2 ? -9 : i}`).join('\n') + '\n');
  writeFileSync(`${prefix}.bim`, Array.from({ length: m }, (_, s) => `1\trs${s}\t0\t${100 + s}\tA\tG`).join('\n') + '\n');
  const bps = Math.ceil(n / 4);
  // SNP s: sample i has code (i + s) % 4 → dosages 2, NaN, 1, 0 cycling.
  const body = new Uint8Array(m * bps);
  for (let s = 0; s < m; s++) for (let i = 0; i < n; i++) body[s * bps + (i >> 2)] |= ((i + s) % 4) << ((i & 3) * 2);
  const bytes = new Uint8Array([...(opts.magic ?? [0x6c, 0x1b, 0x01]), ...body]);
  writeFileSync(`${prefix}.bed`, bytes.subarray(0, bytes.length - (opts.truncate ?? 0)));
  return prefix;
}

async function expectInputError(p: Promise<unknown>, pattern: RegExp, file: RegExp) {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(GwasError);
  const g = e as GwasError;
  expect(g.describe()).toMatch(pattern);
  expect(g.location.file ?? '').toMatch(file);
}

describe('PLINK bed reader', () => {
  it('decodes 2-bit codes to A1 dosages (00→2, 01→NA, 10→1, 11→0), all and kept samples', async () => {
    const prefix = writeFileset(tempDir('bed'), { samples: 6, snps: 3 });
    const bed = await BedFile.open(prefix);
    const blocks = [];
    for await (const b of bed.blocks({ blockSize: 2 })) blocks.push({ idx: [...b.indices], data: [...b.data] });
    expect(blocks.map((b) => b.idx)).toEqual([[0, 1], [2]]);
    expect(blocks[0].data.slice(0, 6)).toEqual([2, NaN, 1, 0, 2, NaN]);
    expect(blocks[0].data.slice(6, 12)).toEqual([NaN, 1, 0, 2, NaN, 1]);
    const kept = [];
    for await (const b of bed.blocks({ blockSize: 8, keep: Int32Array.from([1, 5]), snpMask: Uint8Array.from([0, 1, 1]) }))
      kept.push([...b.indices], [...b.data]);
    expect(kept).toEqual([[1, 2], [1, 1, 0, 0]]);
    // A byte range in the middle (a worker's partition).
    const part = [];
    for await (const b of bed.blocks({ blockSize: 8, start: 1, end: 2 })) part.push([...b.indices]);
    expect(part).toEqual([[1]]);
    await bed.close();
  });

  it('decodeBed handles n not a multiple of 4', () => {
    const out = new Float64Array(5);
    decodeBed(Uint8Array.from([0b11100100, 0b00000011]), 2, 1, 5, null, out);
    expect([...out]).toEqual([2, NaN, 1, 0, 0]);
  });

  it('refuses a wrong magic number', async () => {
    const p = writeFileset(tempDir('bed'), { magic: [0x00, 0x00, 0x01] });
    await expectInputError(BedFile.open(p), /not a PLINK 1 \.bed file.*\n {2}fix: regenerate/s, /x\.bed$/);
  });
  it('refuses a sample-major bed', async () => {
    const p = writeFileset(tempDir('bed'), { magic: [0x6c, 0x1b, 0x00] });
    await expectInputError(BedFile.open(p), /sample-major.*plink --bfile/s, /x\.bed$/);
  });
  it('refuses a truncated bed', async () => {
    const p = writeFileset(tempDir('bed'), { truncate: 1 });
    await expectInputError(BedFile.open(p), /need \d+ \(truncated\?\)/, /x\.bed$/);
  });
  it('refuses duplicate sample IDs in the .fam, naming the line', async () => {
    const dir = tempDir('bed');
    const p = writeFileset(dir);
    writeFileSync(`${p}.fam`, 'F0 I0 0 0 1 1\nF0 I0 0 0 1 2\nF2 I2 0 0 1 1\nF3 I3 0 0 1 1\nF4 I4 0 0 1 1\n');
    await expectInputError(BedFile.open(p), /x\.fam:2, sample I0: duplicate sample ID "F0 I0" \(first on line 1\)/, /x\.fam$/);
  });
});

describe('phenotype and covariate alignment', () => {
  const geno = {
    label: 'g',
    nSamples: 4,
    ids: [0, 1, 2, 3].map((i) => ({ fid: `F${i}`, iid: `I${i}` })),
    famPhenos: [['1'], ['-9'], ['NA'], ['2.5']],
    famPath: 'g.fam',
  };
  it('uses the .fam column with NA and -9 missing', async () => {
    const a = await alignSamples(geno, {});
    expect([...a.analysed]).toEqual([0, 3]);
    expect([...a.y]).toEqual([1, 2.5]);
    expect(a.c).toBe(1);
  });
  it('joins a PLINK-style file by FID/IID and reports unknown IDs', async () => {
    const dir = tempDir('ph');
    const f = join(dir, 'p.txt');
    writeFileSync(f, 'FID IID a b\nF3 I3 7 NA\nF1 I1 5 6\nZZ ZZ 1 1\n');
    const a = await alignSamples(geno, { phenoFile: f, phenoName: 'a' });
    expect([...a.analysed]).toEqual([1, 3]);
    expect([...a.y]).toEqual([5, 7]);
    expect(a.summary.join('\n')).toMatch(/1 not in the genotype data and ignored \(first: ZZ ZZ \(line 4\)\)/);
  });
  it('GEMMA-style covariates keep their intercept; PLINK-style get one added', async () => {
    const dir = tempDir('cv');
    const g = join(dir, 'c.txt');
    writeFileSync(g, '1 0\n1 1\n1 NA\n1 1\n');
    const a = await alignSamples(geno, { covarFile: g });
    expect(a.c).toBe(2);
    expect([...a.W]).toEqual([1, 0, 1, 1]);
    const p = join(dir, 'c2.txt');
    writeFileSync(p, 'FID IID sex\nF0 I0 1\nF1 I1 2\nF2 I2 1\nF3 I3 2\n');
    const b = await alignSamples(geno, { covarFile: p });
    expect(b.covNames).toEqual(['intercept', 'sex']);
    expect([...b.W]).toEqual([1, 1, 1, 2]);
  });
  it('rejects a headerless file with the wrong number of rows, and non-numeric values', async () => {
    const dir = tempDir('ph');
    const f = join(dir, 'p.txt');
    writeFileSync(f, '1\n2\n3\n');
    await expectInputError(alignSamples(geno, { phenoFile: f }), /has 3 rows but the genotype data have 4 samples/, /p\.txt$/);
    writeFileSync(f, '1\n2\nabc\n4\n');
    await expectInputError(alignSamples(geno, { phenoFile: f }), /p\.txt:3: column 1 has non-numeric value "abc"/, /p\.txt$/);
  });
  it('rejects an all-missing trait', async () => {
    const dir = tempDir('ph');
    const f = join(dir, 'p.txt');
    writeFileSync(f, 'NA\nNA\n-9\nNA\n');
    const e = await alignSamples(geno, { phenoFile: f }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).code).toBe('NO_DATA');
  });
});

describe('BIMBAM reader', () => {
  it('parses commas/spaces, NA and non-integer dosages, joins the annotation, keeps chosen samples', async () => {
    const { BimbamFile } = await import('../../shared/genotype/bimbam.js');
    const dir = tempDir('bb');
    writeFileSync(join(dir, 'g.txt'), 'rs1, A, G, 0, 1, 2, NA\nrs2 C T 1.5 0.25 2 0\n');
    writeFileSync(join(dir, 'a.txt'), 'rs1 100 3\nrs2 NA\n');
    const g = await BimbamFile.open(join(dir, 'g.txt'), join(dir, 'a.txt'));
    expect(g.nSamples).toBe(4);
    expect(g.snps.map((s) => [s.rs, s.a1, s.a0, s.chr, s.pos])).toEqual([
      ['rs1', 'A', 'G', '3', 100],
      ['rs2', 'C', 'T', '-9', -9],
    ]);
    const rows = [];
    for await (const b of g.blocks({ blockSize: 8, keep: Int32Array.from([0, 1, 3]) })) rows.push([...b.data]);
    expect(rows).toEqual([[0, 1, NaN, 1.5, 0.25, 0]]);
  });
  it('names the file, line and SNP of a bad dosage, and a short line', async () => {
    const { BimbamFile } = await import('../../shared/genotype/bimbam.js');
    const dir = tempDir('bb');
    const f = join(dir, 'g.txt');
    writeFileSync(f, 'rs1, A, G, 0, 1, 2\nrs2, A, G, 0, x, 2\n');
    const g = await BimbamFile.open(f);
    const drain = async () => {
      for await (const b of g.blocks({ blockSize: 8 })) void b;
    };
    await expectInputError(drain(), /g\.txt:2, SNP rs2: dosage "x" is not a number or NA/, /g\.txt$/);
    writeFileSync(f, 'rs1, A, G, 0, 1, 2\nrs2, A, G, 0, 1\n');
    await expectInputError(BimbamFile.open(f), /g\.txt:2, SNP rs2: has 2 dosages but the first line has 3/, /g\.txt$/);
  });
});
