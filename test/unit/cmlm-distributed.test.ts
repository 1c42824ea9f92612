/**
 * The pieces of a distributed CMLM that the integration test (test/integration/cmlm-distributed.test.ts) cannot
 * reach cheaply: the CMLM job spec (round trip, id, refusals), the exactness of the shard line's extra values
 * (the GAPIT CSV needs the doubles, not the 7 digits of the `.assoc.txt`), and the coordinator's merge refusing a
 * shard that is not the CMLM result of its SNPs (nothing written).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pb } from '../../shared/protocol/rpc.js';
import { toJobSpec, fromJobSpec, jobId, type JobDescription } from '../../shared/protocol/job.js';
import { CMLM_MODEL_FORMAT, CMLM_MODEL_VERSION } from '../../shared/protocol/cmlm-model-codec.js';
import { cmlmShardLine, parseCmlmShardLine, cmlmAssocLine, CMLM_COLUMNS, type SnpFilter } from '../../shared/methods/cmlm.js';
import type { GenotypeSource } from '../../shared/genotype/types.js';
import type { AlignedSamples } from '../../shared/samples/align.js';
import { mergeCmlm } from '../../coordinator/cmlm-job.js';
import { ShardStore } from '../../coordinator/shard-store.js';
import { planShards } from '../../coordinator/scheduler.js';
import { tempDir } from '../helpers/data.js';

const cmlmJob: JobDescription = {
  method: 'cmlm',
  input: { numeric: '/data/mdp_numeric.txt', map: '/data/mdp_SNP_information.txt', pheno: '/data/traits.txt', phenoName: 'Sim50' },
  qc: { maf: 0, miss: 1, r2: 0 },
  lmm: 1,
  backend: 'auto',
  blockSize: 0,
  totalSnps: 3093,
  analysedSamples: 281,
  samplesSha256: 'ab'.repeat(32),
  totalSamples: 281,
  nullModel: { sha256: 'cd'.repeat(32), sizeBytes: 297_000, formatVersion: CMLM_MODEL_FORMAT, modelVersion: CMLM_MODEL_VERSION },
  shardSize: 194,
  cmlm: { extract: '/data/snps.txt', groupCount: 131, rank: 131, kinshipMethod: 'zhang' },
};

describe('CMLM job spec', () => {
  it('round-trips through the message, has its own id, and is refused when incomplete or of another model format', () => {
    const spec = pb.JobSpec.decode(pb.JobSpec.encode(toJobSpec(cmlmJob)).finish());
    expect(spec.method).toBe('cmlm');
    expect(fromJobSpec(spec)).toEqual({ id: jobId(cmlmJob), job: cmlmJob });
    expect(jobId({ ...cmlmJob, method: 'mlm', cmlm: undefined })).not.toBe(jobId(cmlmJob));
    expect(jobId({ ...cmlmJob, cmlm: { ...cmlmJob.cmlm!, extract: undefined } })).not.toBe(jobId(cmlmJob));
    expect(() => fromJobSpec({ ...spec, cmlm: undefined })).toThrow(/incomplete CMLM job/);
    expect(() => fromJobSpec({ ...spec, cmlm: { ...spec.cmlm!, kinshipMethod: 'ibs' } })).toThrow(/incomplete CMLM job/);
    // Another encoding or meaning of the scan model (the bytes themselves start with their own magic, "GGCM").
    expect(() => fromJobSpec({ ...spec, nullModel: { ...spec.nullModel!, formatVersion: CMLM_MODEL_FORMAT + 1 } })).toThrow(/CMLM scan model format 2\/version 1, this build reads 1\/1/);
    expect(() => fromJobSpec({ ...spec, nullModel: { ...spec.nullModel!, modelVersion: CMLM_MODEL_VERSION + 1 } })).toThrow(/CMLM scan model format/);
    expect(() => fromJobSpec({ ...spec, nullModel: undefined })).toThrow(/incomplete/);
  });
});

const geno = {
  snps: [
    { chr: '1', rs: 'a', pos: 10, cm: 0, a1: 'A', a0: 'C' },
    { chr: '1', rs: 'b', pos: 20, cm: 0, a1: 'G', a0: 'T' },
    { chr: '2', rs: 'c', pos: 5, cm: 0, a1: 'A', a0: 'G' },
  ],
} as unknown as GenotypeSource;
const filter: SnpFilter = { mask: Uint8Array.from([1, 0, 1]), nMiss: Int32Array.from([0, 3, 1]), af: Float64Array.from([0.25, 0.5, 0.125]), kept: 2 };

describe('CMLM shard lines', () => {
  it('carry the .assoc.txt line and the exact MAF, log10 p and effect', () => {
    const cases = [
      { beta: -0.29250292401221123, se: 0.1, log10p: Math.log10(0.426589753407516), maf: 0.2402135231316726 },
      { beta: 1e-300, se: 2, log10p: -412.123456789, maf: 1 / 3 },
      { beta: NaN, se: NaN, log10p: 0, maf: 0 },
    ];
    for (const r of cases) {
      const line = cmlmShardLine(geno, filter, 2, r, r.maf);
      expect(line.endsWith('\n')).toBe(true);
      const back = parseCmlmShardLine(line.slice(0, -1))!;
      expect(back.assoc).toBe(cmlmAssocLine(geno, filter, 2, r));
      expect(back.rs).toBe('c');
      expect(Object.is(back.beta, r.beta) && Object.is(back.log10p, r.log10p) && Object.is(back.maf, r.maf)).toBe(true);
    }
    expect(parseCmlmShardLine(cmlmAssocLine(geno, filter, 0, cases[0]).slice(0, -1))).toBeNull();
  });

  it('are merged into the .assoc.txt in SNP order; a shard of other SNPs or the wrong count is refused and nothing is written', async () => {
    const dir = tempDir('cmlm-merge');
    const shards = planShards(3, 2, filter.mask);
    const samples = { analysed: Int32Array.from([0, 1, 2, 3]) } as unknown as AlignedSamples;
    const r = { beta: 0.5, se: 0.25, log10p: -2, maf: 0.25 };
    const write = async (store: ShardStore, lines: string[][]) => {
      for (const s of shards) {
        const data = Buffer.from(lines[s.index].join(''));
        await store.write(s, data, createHash('sha256').update(data).digest('hex'));
      }
    };
    const good = new ShardStore(join(dir, 'good'));
    await good.open({ jobId: 'j', method: 'cmlm', totalSnps: 3, shardSize: 2, shards: 2 });
    await write(good, [[cmlmShardLine(geno, filter, 0, r, 0.25)], [cmlmShardLine(geno, filter, 2, r, 0.125)]]);
    const rows = await mergeCmlm(good, shards, { geno, samples, snps: filter }, join(dir, 'good.assoc.txt'));
    expect(readFileSync(join(dir, 'good.assoc.txt'), 'utf8')).toBe(
      CMLM_COLUMNS.join('\t') + '\n' + cmlmAssocLine(geno, filter, 0, r) + cmlmAssocLine(geno, filter, 2, r),
    );
    expect(rows.map((x) => [x.snp, x.p, x.maf, x.nobs, x.effect])).toEqual([
      ['a', 0.01, 0.25, 4, 0.5],
      ['c', 0.01, 0.125, 4, 0.5],
    ]);

    const bad = new ShardStore(join(dir, 'bad'));
    await bad.open({ jobId: 'j', method: 'cmlm', totalSnps: 3, shardSize: 2, shards: 2 });
    await write(bad, [[cmlmShardLine(geno, filter, 1, r, 0.25)], [cmlmShardLine(geno, filter, 2, r, 0.125)]]);
    await expect(mergeCmlm(bad, shards, { geno, samples, snps: filter }, join(dir, 'bad.assoc.txt'))).rejects.toThrow(
      /shard-00000 line 1 is not the CMLM result of SNP a/,
    );
    await write(bad, [[], [cmlmShardLine(geno, filter, 2, r, 0.125)]]);
    await expect(mergeCmlm(bad, shards, { geno, samples, snps: filter }, join(dir, 'bad.assoc.txt'))).rejects.toThrow(/has 0 lines, expected 1/);
    expect(existsSync(join(dir, 'bad.assoc.txt'))).toBe(false);
  });
});
