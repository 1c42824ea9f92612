/**
 * `gwasgrid farmcpu` in one process: inputs (fem-inputs.ts) → in-process round bus over P partitions →
 * runFarmCpu (run.ts) → PREFIX.assoc.txt and PREFIX.farmcpu.iterations.tsv. A distributed run replaces only
 * the bus.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { LinalgBackend } from '../../linalg/backend.js';
import type { Logger } from '../../log.js';
import type { SnpMeta } from '../../genotype/types.js';
import { AtomicWriter, writeFileAtomic } from '../../io/atomic.js';
import { femAssocHeader, femAssocLine } from '../../results/fem-assoc.js';
import { prepareFemInputs, type FemInputSpec } from '../fem-inputs.js';
import { InProcessBus, type BusFactory } from './bus.js';
import { positionKeys } from './bins.js';
import { runFarmCpu, type FarmCpuResult, type FarmCpuSettings, type IterationRecord } from './run.js';

export interface FarmCpuConfig extends Omit<FemInputSpec, 'requirePositions'> {
  settings: FarmCpuSettings;
  out: string;
  backend: LinalgBackend;
  log: Logger;
  /** In-process partitions (results do not depend on it). */
  partitions?: number;
  /** Another round bus (distributed runs); default: in-process over `partitions`. */
  bus?: BusFactory;
}

export interface FarmCpuRun extends FarmCpuResult {
  assocPath: string;
  iterationsPath: string;
  snps: SnpMeta[];
  n: number;
  seconds: number;
}

/** The iterations table: one row per iteration, pseudo-QTNs in model order (names and 1-based indices). */
export function iterationsTsv(iterations: readonly IterationRecord[], snps: readonly SnpMeta[]): string {
  const lines = ['iteration\tbin_size\tn_bins\tn_bin_candidates\tn_pseudoQTN\tpseudoQTN_snp\tpseudoQTN_idx1\tseconds'];
  for (const it of iterations) {
    lines.push(
      [
        it.iteration,
        Number.isNaN(it.binSize) ? 'NA' : String(it.binSize),
        Number.isNaN(it.binCount) ? 'NA' : String(it.binCount),
        it.binCandidates.length,
        it.qtns.length,
        it.qtns.map((i) => snps[i].rs).join(','),
        it.qtns.map((i) => i + 1).join(','),
        it.seconds.toFixed(3),
      ].join('\t'),
    );
  }
  return lines.join('\n') + '\n';
}

export async function runFarmCpuPipeline(cfg: FarmCpuConfig): Promise<FarmCpuRun> {
  const t0 = performance.now();
  const { log, backend } = cfg;
  await fsp.mkdir(dirname(cfg.out) || '.', { recursive: true });
  const inputs = await prepareFemInputs({ ...cfg, requirePositions: true }, backend, log);
  try {
    const snps = inputs.geno.snps;
    const keys = positionKeys(snps, inputs.raw.label);
    const shared = { n: inputs.n, y: inputs.y, cv: inputs.cv, cvCols: inputs.cvCols, genotypes: inputs.genotypes, keys, backend };
    const bus = cfg.bus ? await cfg.bus(inputs, shared) : new InProcessBus(shared, cfg.partitions ?? 1);
    log.info(`covariates: intercept${inputs.cvNames.map((c) => `, ${c}`).join('')}; missing genotypes: ${cfg.impute}; ${bus.partitions} partition(s)`);
    const res = await runFarmCpu({ n: inputs.n, y: inputs.y, cv: inputs.cv, cvCols: inputs.cvCols, snps }, cfg.settings, bus, log);
    const assocPath = `${cfg.out}.assoc.txt`;
    const iterationsPath = `${cfg.out}.farmcpu.iterations.tsv`;
    const w = new AtomicWriter(assocPath);
    try {
      await w.write(femAssocHeader());
      const r = res.rows;
      for (let i = 0; i < snps.length; i++) await w.write(femAssocLine(snps[i], r.nMiss[i], r.af[i], r.effect[i], r.se[i], r.p[i], r.log10p[i]));
      await w.commit();
    } catch (e) {
      await w.abort();
      throw e;
    }
    await writeFileAtomic(iterationsPath, iterationsTsv(res.iterations, snps));
    const seconds = (performance.now() - t0) / 1000;
    log.info(`wrote ${assocPath} and ${iterationsPath} in ${seconds.toFixed(1)} s`);
    return { ...res, assocPath, iterationsPath, snps, n: inputs.n, seconds };
  } finally {
    await inputs.raw.close();
  }
}
