/**
 * VCF reader on small files written here: GT (phased, unphased, missing, half-missing, haploid records),
 * DS (decimal dosages kept exactly, multi-allelic values), multi-allelic skip/split, ID '.', gzip, and the
 * block contract (keep, mask, start/end) that every genotype source follows. Also the dosage store's three
 * encodings round-trip exactly.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { VcfFile } from '../../shared/genotype/vcf.js';
import { DosageStore } from '../../shared/genotype/store.js';
import type { GenotypeSource } from '../../shared/genotype/types.js';
import { tempDir } from '../helpers/data.js';

const HEAD = '##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT';

function vcf(samples: string[], records: string[][], opts: { gz?: boolean; name?: string } = {}): string {
  const path = join(tempDir('vcf'), opts.name ?? (opts.gz ? 'x.vcf.gz' : 'x.vcf'));
  const text = [`${HEAD}\t${samples.join('\t')}`, ...records.map((r) => r.join('\t'))].join('\n') + '\n';
  writeFileSync(path, opts.gz ? gzipSync(text) : text);
  return path;
}
const rec = (chr: string, pos: number, id: string, ref: string, alt: string, format: string, calls: string[]) => [chr, String(pos), id, ref, alt, '.', 'PASS', '.', format, ...calls];

async function allRows(g: GenotypeSource, opts: { keep?: Int32Array; snpMask?: Uint8Array; start?: number; end?: number } = {}) {
  const out: Array<[number, number[]]> = [];
  for await (const b of g.blocks({ blockSize: 2, ...opts })) for (let r = 0; r < b.count; r++) out.push([b.indices[r], [...b.data.subarray(r * b.n, (r + 1) * b.n)]]);
  return out;
}

describe('VCF reader: GT', () => {
  it('counts ALT copies; phased and unphased; ./. and half calls missing; ID "." named chr:pos:ref:alt', async () => {
    const p = vcf(['s1', 's2', 's3', 's4'], [
      rec('1', 10, 'rs1', 'A', 'G', 'GT', ['0/0', '0|1', '1/1', './.']),
      rec('1', 20, '.', 'C', 'T', 'GT:DP', ['1|0:3', '0/.:1', '1|1:9', '0/0:.']),
      rec('2', 5, 'rs3', 'G', 'A', 'DP:GT', ['3:0/1', '3:1/1', '4:0/0', '2']),
    ]);
    const g = await VcfFile.open(p);
    expect(g.format).toBe('vcf');
    expect(g.sampleIds).toEqual(['s1', 's2', 's3', 's4'].map((s) => ({ fid: s, iid: s })));
    expect(g.snps).toEqual([
      { chr: '1', rs: 'rs1', pos: 10, cm: -9, a1: 'G', a0: 'A' },
      { chr: '1', rs: '1:20:C:T', pos: 20, cm: -9, a1: 'T', a0: 'C' },
      { chr: '2', rs: 'rs3', pos: 5, cm: -9, a1: 'A', a0: 'G' },
    ]);
    expect(await allRows(g)).toEqual([
      [0, [0, 1, 2, NaN]],
      [1, [1, NaN, 2, 0]],
      [2, [1, 2, 0, NaN]], // the last column has no GT sub-field: missing
    ]);
    // keep, mask and a range, as a worker reads its shard.
    expect(await allRows(g, { keep: Int32Array.from([1, 2]), snpMask: Uint8Array.from([1, 0, 1]), start: 0, end: 3 })).toEqual([
      [0, [1, 2]],
      [2, [2, 0]],
    ]);
    expect(await allRows(g, { start: 1, end: 2 })).toEqual([[1, [1, NaN, 2, 0]]]);
  });

  it('haploid-only records are homozygous calls; "." is missing of either ploidy', async () => {
    const g = await VcfFile.open(vcf(['a', 'b', 'c'], [rec('Y', 1, 'y1', 'A', 'C', 'GT', ['0', '1', '.']), rec('1', 2, 'd', 'A', 'C', 'GT', ['0/1', '.', '1/1'])]));
    expect((await allRows(g)).map((r) => r[1])).toEqual([
      [0, 2, NaN],
      [1, NaN, 2],
    ]);
    expect(g.notes.join('\n')).toMatch(/1 records with haploid calls only/);
  });

  it('multi-allelic records: skipped by default (counted), or split one SNP per ALT allele', async () => {
    const records = [
      rec('1', 1, 'm', 'A', 'C,G', 'GT', ['0/1', '1/2', '2/2', '0/0']),
      rec('1', 2, 'b', 'A', 'T', 'GT', ['0/1', '1/1', '0/0', '0/0']),
    ];
    const skip = await VcfFile.open(vcf(['a', 'b', 'c', 'd'], records));
    expect(skip.snps.map((s) => s.rs)).toEqual(['b']);
    expect(skip.notes.join('\n')).toMatch(/skipped 1 multi-allelic records/);
    const split = await VcfFile.open(vcf(['a', 'b', 'c', 'd'], records), { multiallelic: 'split' });
    expect(split.snps.map((s) => `${s.rs}:${s.a1}/${s.a0}`)).toEqual(['m:C/A', 'm:G/A', 'b:T/A']);
    expect((await allRows(split)).map((r) => r[1])).toEqual([
      [1, 1, 0, 0],
      [0, 1, 2, 0],
      [1, 2, 0, 0],
    ]);
  });

  it('reads .vcf.gz the same as .vcf, and the byte stream handles lines longer than a read chunk', async () => {
    const n = 300_000; // a 1.2 MB line, longer than the 1 MB read and gunzip chunks
    const samples = Array.from({ length: n }, (_, i) => `s${i}`);
    const calls = samples.map((_, i) => ['0/0', '0/1', '1/1', './.'][i % 4]);
    const records = [rec('1', 1, 'a', 'A', 'G', 'GT', calls), rec('1', 2, 'b', 'A', 'G', 'GT', [...calls].reverse())];
    const plain = await VcfFile.open(vcf(samples, records));
    const gz = await VcfFile.open(vcf(samples, records, { gz: true }));
    const a = await allRows(plain);
    const b = await allRows(gz);
    expect(b).toEqual(a);
    expect(a[0][1].slice(0, 5)).toEqual([0, 1, 2, NaN, 0]);
    expect(a[1][1].slice(-5)).toEqual([0, NaN, 2, 1, 0]);
  });
});

describe('VCF reader: DS', () => {
  it('reads decimal dosages exactly as Number() parses them; "." is missing; multi-allelic split takes the k-th value', async () => {
    const ds = ['0', '1.5', '0.731', '.', '2', '1e-3', '0.33333333333333331'];
    const p = vcf(['a', 'b', 'c', 'd', 'e', 'f', 'g'], [
      rec('1', 1, 'r1', 'A', 'G', 'GT:DS', ds.map((d) => `0/1:${d}`)),
      rec('1', 2, 'r2', 'A', 'G', 'DS', ['0', '1', '2', '.', '1', '1', '0']),
      rec('1', 3, 'r3', 'A', 'G,T', 'DS', ['0.1,0.9', '.', '1,1', '0,0', '2,0', '0.25,1.75', '.,.']),
    ]);
    const g = await VcfFile.open(p, { field: 'DS', multiallelic: 'split' });
    const rows = (await allRows(g)).map((r) => r[1]);
    expect(rows[0]).toEqual(ds.map((d) => (d === '.' ? NaN : Number(d))));
    expect(rows[1]).toEqual([0, 1, 2, NaN, 1, 1, 0]);
    expect(rows[2]).toEqual([0.1, NaN, 1, 0, 2, 0.25, NaN]);
    expect(rows[3]).toEqual([0.9, NaN, 1, 0, 0, 1.75, NaN]);
    expect(g.snps.map((s) => s.a1)).toEqual(['G', 'G', 'G', 'T']);
  });
});

describe('DosageStore encodings', () => {
  it('hard calls pack into 2 bits, decimals (≤ 4 places, ≤ 6.5534) into 16 bits, the rest stays float64 — all exact', () => {
    const n = 5;
    const st = new DosageStore(n);
    const rows = [
      [0, 1, 2, NaN, 2],
      [0.1, 0.25, 1.999, NaN, 2],
      [0.5, 1 / 3, 0, 0, 0],
      [3.5, 0, 0, 0, 0.0001],
    ];
    st.append(Float64Array.from(rows[0]), 0);
    st.append(Float64Array.from(rows[1]), 3);
    st.append(Float64Array.from(rows[2]), -1);
    st.append(Float64Array.from(rows[3]), 4);
    expect(st.memoryBytes).toBe(2 + 2 * n * 2 + 8 * n);
    const got: number[][] = [];
    // The block buffer is reused: copy each block before asking for the next.
    for (const b of st.blocks({ blockSize: 3 })) for (let r = 0; r < b.count; r++) got.push([...b.data.subarray(r * n, (r + 1) * n)]);
    expect(got).toEqual(rows);
    const kept = st.blocks({ blockSize: 8, keep: Int32Array.from([1, 4]) }).next().value!;
    expect([...kept.data]).toEqual([1, 2, 0.25, 2, 1 / 3, 0, 0, 0.0001]);
  });
});
