/**
 * The CMLM scan split as a distributed run would split it: the coordinator's stages (filter + kinship,
 * compression search, chosen basis) encoded with the CMLM model codec, decoded as a worker would, and SNP shards
 * of odd sizes scanned independently (each recomputing its own SNP filter). Their lines, concatenated in shard
 * order, must be the single-process `.assoc.txt` byte for byte (maize Sim50, the compressed case g = 131).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  runCmlm,
  filterAndKinship,
  fitCmlm,
  clusteringOrder,
  snpFilterRange,
  scanCmlm,
  cmlmAssocLine,
  CMLM_COLUMNS,
} from '../../shared/methods/cmlm.js';
import { encodeCmlmModel, decodeCmlmModel } from '../../shared/protocol/cmlm-model-codec.js';
import { hashEncoded } from '../../shared/protocol/null-model-codec.js';
import { openGenotypes, loadSamples } from '../../shared/methods/inputs.js';
import { memoryLogger } from '../../shared/log.js';
import { DistributedError } from '../../shared/errors.js';
import { dataPath, testBackend, tempDir } from '../helpers/data.js';

const O = (f: string) => dataPath('maize_mdp', 'original', f);
const input = { numeric: O('mdp_numeric.txt'), map: O('mdp_SNP_information.txt'), pheno: O('mdp_traits_validation.txt'), phenoName: 'Sim50' };
const model = { kinshipMethod: 'zhang', groupFrom: 1, groupTo: Infinity, groupBy: 50, linkage: 'average', groupKinship: 'Mean', maf: 0, miss: 1 } as const;

describe('CMLM shards (distributed split) equal the single-process output', () => {
  it('maize Sim50: coordinator stages → codec → 4 worker shards → same bytes', async () => {
    const backend = await testBackend();
    const single = await runCmlm({ ...input, ...model, out: join(tempDir('cmlm-single'), 'sim50'), backend, log: memoryLogger() });
    const expected = readFileSync(single.assocPath, 'utf8');

    // Coordinator.
    const geno = await openGenotypes(input);
    try {
      const log = memoryLogger();
      const samples = await loadSamples(geno, input, log);
      const { K } = await filterAndKinship(geno, samples, { ...model, backend, log });
      const fitted = await fitCmlm(K, geno.nSamples, clusteringOrder(geno), samples, { ...model, backend, log });
      expect(fitted.chosen.g).toBe(131);
      const bytes = encodeCmlmModel({ ...fitted, g: fitted.chosen.g });
      // The broadcast carries an n × 131 basis, not n × n.
      expect(bytes.length).toBeLessThan(8 * (281 * 131 + 281 * 3 + 200));
      expect(hashEncoded(encodeCmlmModel({ ...fitted, g: fitted.chosen.g }))).toBe(hashEncoded(bytes));

      // Workers.
      const received = decodeCmlmModel(Uint8Array.from(bytes));
      expect(received.g).toBe(131);
      const bounds = [0, 777, 1500, 2222, geno.snps.length];
      let text = CMLM_COLUMNS.join('\t') + '\n';
      for (let s = 0; s + 1 < bounds.length; s++) {
        const filter = await snpFilterRange(geno, samples, model, bounds[s], bounds[s + 1]);
        const parts: string[] = [];
        await scanCmlm(geno, samples, filter, received, backend, { start: bounds[s], end: bounds[s + 1] }, (snp, r) => {
          parts.push(cmlmAssocLine(geno, filter, snp, r));
        });
        expect(parts.length).toBe(bounds[s + 1] - bounds[s]);
        text += parts.join('');
      }
      expect(text).toBe(expected);
    } finally {
      await geno.close();
    }
  }, 120_000);

  it('the codec refuses a foreign or truncated encoding', () => {
    const m = {
      g: 2,
      delta: 0.5,
      scale: 2,
      design: { n: 3, q: 1, X: Float64Array.from([1, 1, 1]), y: Float64Array.from([1, 2, 4]) },
      basis: { n: 3, rank: 2, E: Float64Array.from([1, 0, 0, 1, 0, 0]), mu: Float64Array.from([2, 1]) },
    };
    const bytes = encodeCmlmModel(m);
    const back = decodeCmlmModel(bytes);
    expect(Array.from(back.basis.E)).toEqual([1, 0, 0, 1, 0, 0]);
    expect(Array.from(back.design.y)).toEqual([1, 2, 4]);
    expect([back.delta, back.scale, back.g]).toEqual([0.5, 2, 2]);
    const wrong = Buffer.from(bytes);
    wrong[0] ^= 0xff;
    expect(() => decodeCmlmModel(wrong)).toThrow(DistributedError);
    expect(() => decodeCmlmModel(bytes.subarray(0, bytes.length - 8))).toThrow(/bytes, expected/);
  });
});
