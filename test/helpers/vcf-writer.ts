/**
 * A small VCF writer for tests: turns any genotype source (in practice a PLINK fileset) into a VCF whose ALT
 * is the source's allele1 (so the ALT count equals the source's dosage) and whose sample names are the IIDs.
 * GT (`0/0`, `0/1`, `1/1`, `./.`) or DS (the dosage as printed by JS, `.` when missing); plain or gzip.
 */
import { closeSync, openSync, writeSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { GenotypeSource } from '../../shared/genotype/types.js';

export async function writeTestVcf(geno: GenotypeSource, path: string, opts: { field: 'GT' | 'DS'; gzip?: boolean }): Promise<void> {
  const names = geno.sampleIds!.map((s) => s.iid);
  const head =
    '##fileformat=VCFv4.2\n' +
    (opts.field === 'GT' ? '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n' : '##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">\n') +
    `#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t${names.join('\t')}\n`;
  const chunks: Buffer[] = [];
  const fd = opts.gzip ? -1 : openSync(path, 'w');
  const emit = (s: string) => (opts.gzip ? chunks.push(Buffer.from(s)) : writeSync(fd, s));
  emit(head);
  const gt = ['0/0', '0/1', '1/1'];
  const tok = new Array<string>(geno.nSamples);
  for await (const b of geno.blocks({ blockSize: 512 })) {
    const lines: string[] = [];
    for (let r = 0; r < b.count; r++) {
      const s = geno.snps[b.indices[r]];
      for (let i = 0; i < b.n; i++) {
        const v = b.data[r * b.n + i];
        tok[i] = v !== v ? (opts.field === 'GT' ? './.' : '.') : opts.field === 'GT' ? gt[v] : String(v);
      }
      lines.push(`${s.chr}\t${s.pos}\t${s.rs}\t${s.a0}\t${s.a1}\t.\tPASS\t.\t${opts.field}\t${tok.join('\t')}\n`);
    }
    emit(lines.join(''));
  }
  if (opts.gzip) writeFileSync(path, gzipSync(Buffer.concat(chunks), { level: 1 }));
  else closeSync(fd);
}
