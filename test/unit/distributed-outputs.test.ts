/**
 * The coordinator's result files of a distributed MLM (coordinator/outputs.ts) from shard lines with row values
 * (shared/results/row-values.ts): the values survive the text bit for bit (−0, NaN, ±∞, subnormals, p below the
 * double range); the files and λGC equal what the single-process writers make from the same LmmRows (scanAndWrite's
 * calls, repeated here); a missing or damaged shard, a line of the wrong SNP or a line without values is refused
 * and leaves no result file behind.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShardStore } from '../../coordinator/shard-store.js';
import { planShards } from '../../coordinator/scheduler.js';
import { writeTraitOutputs } from '../../coordinator/outputs.js';
import { withRowValues, splitRowValues } from '../../shared/results/row-values.js';
import { LambdaGc, mlmResultRow, mlmRowValues } from '../../shared/results/rows.js';
import { assocHeader, assocLine } from '../../shared/results/assoc.js';
import { openWriters, type OutputFormat } from '../../shared/results/writers/index.js';
import type { SnpMeta } from '../../shared/genotype/types.js';
import type { LmmMode, LmmRow } from '../../shared/lmm/scan.js';
import { InputError } from '../../shared/errors.js';
import { tempDir } from '../helpers/data.js';
import { normal, rng } from '../helpers/random.js';

const FORMATS: OutputFormat[] = ['gemma', 'plink2', 'gapit', 'rmvp'];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('row values', () => {
  it('round-trip every double exactly, and are stripped to the GEMMA line', () => {
    const r = rng(7);
    const xs = [-0, 0, NaN, Infinity, -Infinity, 5e-324, -2.2250738585072014e-308, 1.7976931348623157e308, -450.123456789, 0.1 + 0.2];
    for (let i = 0; i < 200; i++) xs.push(normal(r) * 10 ** Math.round(20 * normal(r)));
    for (let i = 0; i < xs.length; i++) {
      const v = { beta: xs[i], se: xs[(i + 1) % xs.length], log10p: xs[(i + 2) % xs.length] };
      const line = `1\trs${i}\t100\t0\tA\tG\t0.250\t1.000000e+00\tNA\n`;
      const back = splitRowValues(withRowValues(line, v))!;
      expect(back.line).toBe(line);
      for (const k of ['beta', 'se', 'log10p'] as const) expect(Object.is(back.values[k], v[k]), `${k} = ${v[k]}`).toBe(true);
    }
    expect(splitRowValues('1\trs1\t100\t0\tA\tG\t0.250\t1.000000e+00\tNA\n')).toBeNull();
    expect(splitRowValues('a\tb\n')).toBeNull();
  });

  it('carry the primary test of the mode (LRT: no effect)', () => {
    const row: LmmRow = { beta: 0.5, se: 0.1, loglH1: -1, lRemle: 2, lMle: 3, log10pWald: -3, log10pLrt: -4, log10pScore: -5 };
    expect(mlmRowValues(4, row)).toEqual({ beta: 0.5, se: 0.1, log10p: -3 });
    expect(mlmRowValues(2, row)).toEqual({ beta: NaN, se: NaN, log10p: -4 });
    expect(mlmRowValues(3, row).log10p).toBe(-5);
  });
});

/** A synthetic trait: 23 SNPs (some fail QC), seeded rows with edge cases, in 3 shards of 8 SNP indices. */
function synthetic(mode: LmmMode) {
  const r = rng(42);
  const m = 23;
  const snps: SnpMeta[] = Array.from({ length: m }, (_, j) => ({ chr: String(1 + (j % 3)), rs: `rs${j}`, pos: 1000 * (m - j), cm: 0, a1: 'A', a0: 'G' }));
  const mask = Uint8Array.from({ length: m }, (_, j) => (j % 5 === 3 ? 0 : 1));
  const af = Float64Array.from({ length: m }, () => 0.05 + 0.9 * r());
  const nMiss = Int32Array.from({ length: m }, () => Math.floor(3 * r()));
  const rows: LmmRow[] = snps.map((_, j) => {
    const beta = j === 4 ? -0 : normal(r);
    const se = 0.05 + r();
    const lp = j === 6 ? -412.3456 : Math.log10(Math.max(r(), 1e-12));
    return j === 9
      ? { beta: NaN, se: NaN, loglH1: NaN, lRemle: NaN, lMle: NaN, log10pWald: NaN, log10pLrt: NaN, log10pScore: NaN }
      : { beta, se, loglH1: -100 * r(), lRemle: 10 * r(), lMle: 10 * r(), log10pWald: lp, log10pLrt: lp - 0.01, log10pScore: lp + 0.01 };
  });
  const shards = planShards(m, 8, mask);
  const shardData = shards.map((s) => {
    let text = '';
    for (let j = s.start; j < s.end; j++) if (mask[j]) text += withRowValues(assocLine(snps[j], nMiss[j], af[j], mode, rows[j]), mlmRowValues(mode, rows[j]));
    return Buffer.from(text);
  });
  return { snps, mask, af, nMiss, rows, shards, shardData, nObs: 17 };
}

async function storeOf(prefix: string, t: ReturnType<typeof synthetic>) {
  const store = new ShardStore(prefix);
  await store.open({ jobId: 'c'.repeat(64), method: 'mlm', totalSnps: t.snps.length, shardSize: 8, shards: t.shards.length });
  for (const s of t.shards) await store.write(s, t.shardData[s.index], sha(t.shardData[s.index]));
  return store;
}

const args = (store: ShardStore, base: string, t: ReturnType<typeof synthetic>, mode: LmmMode) => ({
  store,
  shards: t.shards,
  base,
  formats: FORMATS,
  lmm: mode,
  geno: { snps: t.snps } as never,
  samples: { analysed: new Int32Array(t.nObs), traitKey: 'T' },
  qc: { mask: t.mask, nMiss: t.nMiss, af: t.af },
});

describe('writeTraitOutputs', () => {
  for (const mode of [4, 2] as LmmMode[]) {
    it(`writes the files and λGC of the single-process writers from the same rows (-lmm ${mode})`, async () => {
      const t = synthetic(mode);
      const dir = tempDir('outputs');
      const store = await storeOf(join(dir, 'dist'), t);
      const res = await writeTraitOutputs(args(store, join(dir, 'dist'), t, mode));
      // The single-process path (scanAndWrite): the GEMMA lines and the writers fed with mlmResultRow.
      const ref = join(dir, 'ref');
      const writers = openWriters(ref, FORMATS, { trait: 'T', method: 'MLM' });
      let gemma = assocHeader(mode);
      const lambda = new LambdaGc();
      for (let j = 0; j < t.snps.length; j++) {
        if (!t.mask[j]) continue;
        gemma += assocLine(t.snps[j], t.nMiss[j], t.af[j], mode, t.rows[j]);
        const rr = mlmResultRow(t.snps[j], t.nMiss[j], t.af[j], t.nObs, mode, t.rows[j]);
        lambda.add(rr.log10p);
        for (const w of writers) await w.write(rr);
      }
      for (const w of writers) await w.commit();
      writeFileSync(`${ref}.assoc.txt`, gemma);
      expect(res.outputs.map((p) => p.slice(join(dir, 'dist').length))).toEqual(['.assoc.txt', '.glm.linear', '.GWAS_Results.csv', '.MLM.csv']);
      for (const p of res.outputs) {
        const suffix = p.slice(join(dir, 'dist').length);
        expect(readFileSync(p, 'utf8'), suffix).toBe(readFileSync(ref + suffix, 'utf8'));
      }
      expect(Object.is(res.lambda.value, lambda.value())).toBe(true);
      expect(res.lambda.count).toBe(lambda.count);
    });
  }

  const refusals: Array<[string, (t: ReturnType<typeof synthetic>, store: ShardStore) => void, RegExp]> = [
    ['a damaged shard', (t, store) => writeFileSync(store.tsvPath(t.shards[2]), 'damaged\n'), /shard-00002 is missing or does not match its checksum/],
    [
      'a line of another SNP',
      (t, store) => {
        const bad = Buffer.from(t.shardData[1].toString().replace('\trs9\t', '\trs99\t'));
        writeFileSync(store.tsvPath(t.shards[1]), bad);
        writeFileSync(store.sumPath(t.shards[1]), `${sha(bad)}  shard-00001.tsv\n`);
      },
      /shard-00001 line 1: the line is not the result of SNP rs9/,
    ],
    [
      'lines without row values (another job)',
      (t, store) => {
        const bad = Buffer.from(t.shardData[1].toString().replace(/(\t[^\t\n]*){3}\n/g, '\n'));
        writeFileSync(store.tsvPath(t.shards[1]), bad);
        writeFileSync(store.sumPath(t.shards[1]), `${sha(bad)}  shard-00001.tsv\n`);
      },
      /no row values/,
    ],
    [
      'a shard with a line too many',
      (t, store) => {
        const bad = Buffer.concat([t.shardData[0], Buffer.from(t.shardData[0].toString().split('\n')[0] + '\n')]);
        writeFileSync(store.tsvPath(t.shards[0]), bad);
        writeFileSync(store.sumPath(t.shards[0]), `${sha(bad)}  shard-00000.tsv\n`);
      },
      /more lines than the 7 SNPs/,
    ],
  ];
  for (const [what, damage, message] of refusals) {
    it(`refuses ${what} and leaves no result file`, async () => {
      const t = synthetic(4);
      const dir = tempDir('outputs-bad');
      const store = await storeOf(join(dir, 'dist'), t);
      damage(t, store);
      const err = await writeTraitOutputs(args(store, join(dir, 'dist'), t, 4)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(message);
      expect(readdirSync(dir)).toEqual(['dist.shards']);
    });
  }
});
