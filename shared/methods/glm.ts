/**
 * GLM: per-SNP ordinary least squares y = [1, PCs, covariates]·b + x·a + e with a t-test on a, as rMVP 1.4.6
 * `MVP.GLM` (`glm_c`) and plink2 `--glm` (on SNPs without missing calls) compute it. The scan is the FEM
 * kernel (shared/fem/scan.ts) run as one final FarmCPU round without pseudo-QTNs, through the same round bus,
 * so a distributed GLM needs nothing beyond the FarmCPU transport.
 *
 * Outputs: PREFIX.assoc.txt (GEMMA leading columns, then beta se p_wald) and PREFIX.glm.linear (plink2's
 * columns, see shared/results/glm-linear.ts).
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { LinalgBackend } from '../linalg/backend.js';
import type { Logger } from '../log.js';
import { AtomicWriter } from '../io/atomic.js';
import { femAssocHeader, femAssocLine } from '../results/fem-assoc.js';
import { GLM_LINEAR_HEADER, glmLinearLine } from '../results/glm-linear.js';
import type { SnpMeta } from '../genotype/types.js';
import { prepareFemInputs, type FemInputSpec } from './fem-inputs.js';
import { InProcessBus, type BusFactory, type RoundBus } from './farmcpu/bus.js';
import type { FinalRows, RoundRequest } from './farmcpu/protocol.js';
import { mergeReplies } from './farmcpu/rounds.js';
import { positionKeys } from './farmcpu/bins.js';

export interface GlmConfig extends Omit<FemInputSpec, 'requirePositions'> {
  out: string;
  backend: LinalgBackend;
  log: Logger;
  /** In-process partitions (results do not depend on it). */
  partitions?: number;
  /** Another round bus (distributed runs); default: in-process over `partitions`. */
  bus?: BusFactory;
}

export interface GlmResult {
  assocPath: string;
  linearPath: string;
  rows: FinalRows;
  snps: SnpMeta[];
  n: number;
  seconds: number;
}

/** The GLM scan over a round bus: one final round without pseudo-QTNs. */
export async function glmScan(bus: RoundBus): Promise<FinalRows> {
  const req: RoundRequest = { round: 1, qtns: [], binSizes: [], leadsWithGenotypes: 0, genotypeMaxP: 0, final: true };
  return mergeReplies(req, await bus.scan(req), bus.m).rows!;
}

/** Writes PREFIX.assoc.txt and PREFIX.glm.linear atomically. */
export async function writeGlmOutputs(out: string, snps: readonly SnpMeta[], rows: FinalRows, n: number): Promise<{ assocPath: string; linearPath: string }> {
  const assocPath = `${out}.assoc.txt`;
  const linearPath = `${out}.glm.linear`;
  const a = new AtomicWriter(assocPath);
  const l = new AtomicWriter(linearPath);
  try {
    await a.write(femAssocHeader());
    await l.write(GLM_LINEAR_HEADER);
    for (let i = 0; i < snps.length; i++) {
      await a.write(femAssocLine(snps[i], rows.nMiss[i], rows.af[i], rows.effect[i], rows.se[i], rows.p[i], rows.log10p[i]));
      await l.write(
        glmLinearLine({
          snp: snps[i],
          afAll: rows.afAll[i],
          a1Sum: rows.a1Sum[i],
          observed: n - rows.nMiss[i],
          nObs: n,
          beta: rows.effect[i],
          se: rows.se[i],
          p: rows.p[i],
          log10p: rows.log10p[i],
        }),
      );
    }
    await a.commit();
    await l.commit();
  } catch (e) {
    await a.abort();
    await l.abort();
    throw e;
  }
  return { assocPath, linearPath };
}

export async function runGlm(cfg: GlmConfig): Promise<GlmResult> {
  const t0 = performance.now();
  const { log, backend } = cfg;
  await fsp.mkdir(dirname(cfg.out) || '.', { recursive: true });
  const inputs = await prepareFemInputs({ ...cfg, requirePositions: false }, backend, log);
  try {
    const snps = inputs.geno.snps;
    const keys = snps.every((s) => s.pos >= 0) ? positionKeys(snps) : new Float64Array(snps.length);
    const shared = { n: inputs.n, y: inputs.y, cv: inputs.cv, cvCols: inputs.cvCols, genotypes: inputs.genotypes, keys, backend };
    const bus = cfg.bus ? await cfg.bus(inputs, shared) : new InProcessBus(shared, cfg.partitions ?? 1);
    log.info(`GLM: ${inputs.n} samples, ${snps.length} SNPs, covariates: intercept${inputs.cvNames.map((c) => `, ${c}`).join('')}; missing genotypes: ${cfg.impute}`);
    const rows = await glmScan(bus);
    const { assocPath, linearPath } = await writeGlmOutputs(cfg.out, snps, rows, inputs.n);
    const seconds = (performance.now() - t0) / 1000;
    log.info(`wrote ${assocPath} and ${linearPath} (${snps.length} SNPs) in ${seconds.toFixed(1)} s`);
    return { assocPath, linearPath, rows, snps, n: inputs.n, seconds };
  } finally {
    await inputs.raw.close();
  }
}
