/**
 * A worker's view of a job with --mind (worker/job.ts): it removes the samples the coordinator's sample QC
 * removed (the job spec's excluded samples), so its analysed samples match the coordinator's fingerprint and its
 * kinship partials have the kept samples' size; a worker whose files or spec lead to other analysed samples is
 * refused with the reason. Data: maize_mdp, --mind 0.03 (79 of 281 removed).
 */
import { bfilePath, dataPath } from '../helpers/data.js';
import { memoryLogger } from '../../shared/log.js';
import { GEMMA_QC } from '../../shared/genotype/qc.js';
import { openGenotypes, loadSamples, sampleQcPass } from '../../shared/methods/inputs.js';
import { absoluteInputs, samplesFingerprint, type JobDescription } from '../../shared/protocol/job.js';
import { KINSHIP_CHUNK_SNPS } from '../../shared/kinship/kinship.js';
import { WorkerJob } from '../../worker/job.js';

describe('WorkerJob with samples removed by --mind', () => {
  it('removes the excluded samples, checks the fingerprint, and sizes kinship partials to the kept samples', async () => {
    const log = memoryLogger();
    const input = { bfile: bfilePath('maize_mdp', 'maize_mdp'), pheno: dataPath('maize_mdp', 'maize_mdp.pheno.txt'), phenoCol: 3 };
    // The coordinator's side: sample QC, then the trait's analysed samples.
    const geno = await openGenotypes(input);
    const qc = await sampleQcPass(geno, 0.03, log);
    const analysed = (await loadSamples(geno, input, log, qc.removed)).analysed;
    const nSamples = geno.nSamples;
    await geno.close();
    expect(qc.removedIdx).toHaveLength(79);
    const spec: JobDescription = {
      method: 'mlm',
      input: absoluteInputs(input),
      qc: GEMMA_QC,
      lmm: 4,
      backend: 'ts',
      blockSize: 0,
      totalSnps: 3093,
      analysedSamples: analysed.length,
      samplesSha256: samplesFingerprint(analysed),
      totalSamples: nSamples,
      excludedSamples: qc.removedIdx,
      shardSize: KINSHIP_CHUNK_SNPS,
      kinship: { mode: 1, chunkSize: KINSHIP_CHUNK_SNPS, maskSha256: '' },
    };
    const job = await WorkerJob.open('job', spec, log, { remote: false });
    try {
      expect(job.kinshipN).toBe(202);
      expect(Array.from(job.kinSamples!).some((i) => qc.removed[i])).toBe(false);
    } finally {
      await job.close();
    }
    // A spec without the exclusion (or a worker reading another phenotype) gives other analysed samples: refused.
    await expect(WorkerJob.open('job', { ...spec, excludedSamples: undefined }, log, { remote: false })).rejects.toThrow(
      /analysed samples differ from the coordinator's \(\d+ here, 182 there\)/,
    );
    await expect(
      WorkerJob.open('job', { ...spec, input: absoluteInputs({ ...input, phenoCol: 2 }) }, log, { remote: false }),
    ).rejects.toThrow(/analysed samples differ/);
  });
});
