/**
 * Issue #6 "must show", maize: the original HapMap read by our reader gives the same association results as
 * maize_mdp.bed (made from it by shared/data/tools/hapmap_to_plink.py): byte-identical .assoc.txt, and both
 * match GEMMA 0.98.5 (`gemma -bfile maize_mdp -p maize_mdp.pheno.txt -k $K -lmm 4 -n 2`, maize README) with the
 * golden tolerances of golden-mlm.ts. `convert` of the HapMap reproduces the .bed and .bim bytes. A numeric 0/1/2
 * matrix (GAPIT layout + map) written from the bed in the test gives the bed run's bytes too.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bfilePath, dataPath, runGoldenMlm, tempDir } from '../helpers/data.js';
import { compareWithGemma } from './golden-mlm.js';
import { HapmapFile } from '../../shared/genotype/hapmap.js';
import { writePlink } from '../../shared/genotype/plink-write.js';
import { BedFile } from '../../shared/genotype/plink.js';

const M = (f: string) => dataPath('maize_mdp', f);
const R = (f: string) => dataPath('maize_mdp', 'reference', f);
const HMP = () => dataPath('maize_mdp', 'original', 'mdp_genotype_test.hmp.txt');

describe('HapMap = bed: maize_mdp', () => {
  it('dpoll, -k cXX: HapMap run byte-identical to the bed run, and both match GEMMA', async () => {
    const common = { pheno: M('maize_mdp.pheno.txt'), phenoCol: 2, kinship: R('maize_mdp.cXX.txt') };
    const bed = await runGoldenMlm('maize-bed-dpoll', {
      bfile: bfilePath('maize_mdp', 'maize_mdp'),
      ...common,
    });
    const hmp = await runGoldenMlm('maize-hmp-dpoll', { hapmap: HMP(), ...common });
    expect(readFileSync(hmp.assocPath).equals(readFileSync(bed.assocPath))).toBe(true);
    compareWithGemma(
      hmp,
      R('maize_mdp.dpoll.lmm4.assoc.txt'),
      R('maize_mdp.dpoll.lmm4.log.txt'),
      'maize HapMap dpoll',
    );
  });

  it('EarHT with the kinship computed from the HapMap: byte-identical to the bed run', async () => {
    const common = { pheno: M('maize_mdp.pheno.txt'), phenoCol: 1, lmm: 1 as const };
    const bed = await runGoldenMlm('maize-bed-earht', {
      bfile: bfilePath('maize_mdp', 'maize_mdp'),
      ...common,
    });
    const hmp = await runGoldenMlm('maize-hmp-earht', { hapmap: HMP(), ...common });
    const a = readFileSync(hmp.assocPath, 'utf8');
    expect(a.split('\n').length).toBe(2042); // header + 2040 SNPs (maize README) + final newline
    expect(a).toBe(readFileSync(bed.assocPath, 'utf8'));
  });

  it('convert: HapMap → bed/bim equal to maize_mdp.bed/.bim byte for byte', async () => {
    const out = join(tempDir('convert-hmp'), 'maize');
    const h = await HapmapFile.open(HMP());
    const r = await writePlink(out, h);
    expect(r).toMatchObject({ samples: 281, snps: 3093, missing: 31438, hardCalled: 0, setMissing: 0 });
    expect(readFileSync(`${out}.bed`).equals(readFileSync(M('maize_mdp.bed')))).toBe(true);
    expect(readFileSync(`${out}.bim`, 'utf8')).toBe(readFileSync(M('maize_mdp.bim'), 'utf8'));
    const famIds = (p: string) =>
      readFileSync(p, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(0, 2).join(' '));
    expect(famIds(`${out}.fam`)).toEqual(famIds(M('maize_mdp.fam')));
  });
});

describe('numeric matrix = bed: maize_mdp', () => {
  /** Writes maize_mdp.bed as a GAPIT-layout numeric matrix (NA for missing calls) and a map with REF/ALT = a0/a1. */
  async function writeNumeric(dir: string): Promise<{ numeric: string; map: string }> {
    const bed = await BedFile.open(bfilePath('maize_mdp', 'maize_mdp'));
    const n = bed.nSamples;
    const m = bed.snps.length;
    const X = new Float64Array(m * n);
    for await (const b of bed.blocks({ blockSize: 256 })) {
      for (let r = 0; r < b.count; r++) X.set(b.data.subarray(r * n, (r + 1) * n), b.indices[r] * n);
    }
    const rows = [['taxa', ...bed.snps.map((s) => s.rs)].join('\t')];
    for (let i = 0; i < n; i++) {
      const cells = [bed.fam[i].iid];
      for (let j = 0; j < m; j++) cells.push(Number.isNaN(X[j * n + i]) ? 'NA' : String(X[j * n + i]));
      rows.push(cells.join('\t'));
    }
    const numeric = join(dir, 'maize.numeric.txt');
    const map = join(dir, 'maize.map.txt');
    writeFileSync(numeric, rows.join('\n') + '\n');
    writeFileSync(
      map,
      [
        'SNP\tChromosome\tPosition\tREF\tALT',
        ...bed.snps.map((s) => `${s.rs}\t${s.chr}\t${s.pos}\t${s.a0}\t${s.a1}`),
      ].join('\n') + '\n',
    );
    await bed.close();
    return { numeric, map };
  }

  it('EarHT, kinship computed: the numeric matrix written from the bed gives the bed run byte for byte', async () => {
    const { numeric, map } = await writeNumeric(tempDir('numeric-maize'));
    // The numeric file names taxa only: the phenotypes join by taxon (PLINK-style file, IID = taxon).
    const common = { pheno: M('maize_mdp.pheno.plink.txt'), phenoName: 'EarHT', lmm: 1 as const };
    const bed = await runGoldenMlm('maize-bed-num', {
      bfile: bfilePath('maize_mdp', 'maize_mdp'),
      ...common,
    });
    const num = await runGoldenMlm('maize-num', { numeric, map, ...common });
    expect(readFileSync(num.assocPath, 'utf8')).toBe(readFileSync(bed.assocPath, 'utf8'));
  });
});
