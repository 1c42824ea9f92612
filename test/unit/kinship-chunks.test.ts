/**
 * The chunked kinship (shared/kinship/kinship.ts): the single-process pass (qcPass) and the map-reduce path
 * (one partial per KINSHIP_CHUNK_SNPS chunk, computed by whichever worker, packed as an upper triangle, added in
 * chunk order) give the same bits. Checked on mouse_hs1940 (12,226 SNPs = 2 chunks), exactly (no tolerance:
 * the claim is bit equality). The GEMMA agreement of the result is test/golden/kinship.test.ts.
 */
import { bfilePath, testBackend } from '../helpers/data.js';
import { memoryLogger } from '../../shared/log.js';
import { GEMMA_QC } from '../../shared/genotype/qc.js';
import { openGenotypes, loadSamples, qcPass, kinshipChunk, kinshipChunkFromMask, sampleQcPass, keptSamples } from '../../shared/methods/inputs.js';
import { KINSHIP_CHUNK_SNPS, KinshipAccumulator, KinshipSum, packUpper, upperLength } from '../../shared/kinship/kinship.js';
import { rng } from '../helpers/random.js';

const sameBits = (a: Float64Array, b: Float64Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('KinshipSum', () => {
  it('adding a full partial or its packed upper triangle is the same; finish() is symmetric and scaled by 1/m', () => {
    const n = 7;
    const rnd = rng(11);
    const parts = [0, 1, 2].map(() => Float64Array.from({ length: n * n }, () => rnd() - 0.5));
    const a = new KinshipSum(n);
    const b = new KinshipSum(n);
    parts.forEach((p, i) => {
      a.addFull(p, i + 1);
      b.addPacked(packUpper(p, n), i + 1);
    });
    expect(a.snps).toBe(6);
    expect(a.chunks).toBe(3);
    expect(sameBits(a.upper, b.upper)).toBe(true);
    const K = a.finish();
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        expect(K[i * n + j]).toBe(K[j * n + i]);
        if (j >= i) expect(K[i * n + j]).toBe((((parts[0][i * n + j] + parts[1][i * n + j]) + parts[2][i * n + j]) * (1 / 6)));
      }
    }
    expect(upperLength(n)).toBe(28);
    expect(() => b.addPacked(new Float64Array(3), 1)).toThrow(/28/);
  });

  it('an accumulator reset without SNPs gives a zero partial', async () => {
    const backend = await testBackend();
    const kin = new KinshipAccumulator(3, 1, backend, 2);
    await kin.add(Float64Array.from([0, 1, 2]), 0);
    expect((await kin.partial()).some((v) => v !== 0)).toBe(true);
    kin.reset();
    expect(kin.snps).toBe(0);
    expect(Array.from(await kin.partial())).toEqual(new Array(9).fill(0));
  });
});

describe('chunked kinship on mouse_hs1940', () => {
  it('qcPass equals the chunk partials folded in order, from files or from a given mask, bit for bit', async () => {
    const backend = await testBackend();
    const log = memoryLogger();
    const spec = { bfile: bfilePath('mouse_hs1940', 'mouse_hs1940'), phenoCol: 1 };
    const geno = await openGenotypes(spec);
    try {
      const samples = await loadSamples(geno, spec, log);
      const pass = await qcPass(geno, samples, { qc: GEMMA_QC, kinship: 1, backend, log });
      const n = geno.nSamples;
      const total = geno.snps.length;
      expect(Math.ceil(total / KINSHIP_CHUNK_SNPS)).toBe(2);
      const kin = new KinshipAccumulator(n, 1, backend);
      const sum = new KinshipSum(n);
      for (let start = 0; start < total; start += KINSHIP_CHUNK_SNPS) {
        const end = Math.min(total, start + KINSHIP_CHUNK_SNPS);
        const fromFiles = await kinshipChunk(geno, samples, GEMMA_QC, kin, start, end);
        for (let j = start; j < end; j++) expect(fromFiles.qc.mask[j]).toBe(pass.qc.mask[j]);
        const packed = packUpper(fromFiles.partial, n);
        const fromMask = await kinshipChunkFromMask(geno, pass.qc.mask, kin, start, end);
        expect(fromMask.snps).toBe(fromFiles.snps);
        expect(sameBits(packUpper(fromMask.partial, n), packed)).toBe(true);
        sum.addPacked(packed, fromFiles.snps);
      }
      expect(sum.snps).toBe(pass.kinshipSnps);
      expect(sameBits(sum.finish(), pass.K!)).toBe(true);
      await expect(kinshipChunk(geno, samples, GEMMA_QC, kin, 100, 200)).rejects.toThrow(/not a kinship chunk/);
    } finally {
      await geno.close();
    }
  });
});

describe('chunked kinship over the samples kept by --mind (maize_mdp, --mind 0.03)', () => {
  it('qcPass over kinSamples equals the chunk partial from files and from a mask over the same samples, bit for bit', async () => {
    const backend = await testBackend();
    const log = memoryLogger();
    const spec = { bfile: bfilePath('maize_mdp', 'maize_mdp'), phenoCol: 1 };
    const geno = await openGenotypes(spec);
    try {
      const removed = (await sampleQcPass(geno, 0.03, log)).removed;
      const kinSamples = keptSamples(geno.nSamples, removed)!;
      expect(kinSamples.length).toBe(202);
      const samples = await loadSamples(geno, spec, log, removed);
      const pass = await qcPass(geno, samples, { qc: GEMMA_QC, kinship: 1, backend, log, kinSamples });
      const n = kinSamples.length;
      const total = geno.snps.length;
      expect(total).toBeLessThan(KINSHIP_CHUNK_SNPS);
      const kin = new KinshipAccumulator(n, 1, backend);
      const fromFiles = await kinshipChunk(geno, samples, GEMMA_QC, kin, 0, total, kinSamples);
      const packed = packUpper(fromFiles.partial, n);
      const fromMask = await kinshipChunkFromMask(geno, pass.qc.mask, kin, 0, total, kinSamples);
      expect(sameBits(packUpper(fromMask.partial, n), packed)).toBe(true);
      const sum = new KinshipSum(n);
      sum.addPacked(packed, fromFiles.snps);
      expect(sameBits(sum.finish(), pass.K!)).toBe(true);
    } finally {
      await geno.close();
    }
  });
});
