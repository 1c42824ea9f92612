/**
 * FarmCPU benchmark: gwasgrid farmcpu (in-process, static bins, rMVP defaults) on mouse_hs1940 CD8 (BIMBAM
 * dosages, the reference SNP list) and sim_large (bed, n = 1956, m = 50,000), next to rMVP 1.4.6's recorded
 * wall times (reference/farmcpu_rmvp_summary.tsv). Prints wall and CPU seconds for input loading and for every
 * round, the total, and rMVP's time divided by ours. `npm run bench:farmcpu` (set GWASGRID_DATA to move the
 * data; GWASGRID_BENCH_PARTITIONS to split rounds).
 */
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend } from '../shared/linalg/select.js';
import { memoryLogger } from '../shared/log.js';
import { prepareFemInputs, type FemInputSpec } from '../shared/methods/fem-inputs.js';
import { InProcessBus } from '../shared/methods/farmcpu/bus.js';
import { positionKeys } from '../shared/methods/farmcpu/bins.js';
import { DEFAULT_SETTINGS, runFarmCpu } from '../shared/methods/farmcpu/run.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const data = resolve(process.env.GWASGRID_DATA ?? join(repo, '../shared/data'));
const partitions = Number(process.env.GWASGRID_BENCH_PARTITIONS ?? 1);

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** rMVP's FarmCPU seconds from a summary table (the row whose method column names FarmCPU, static). */
function rmvpSeconds(path: string): number {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const h = lines[0].split('\t');
  const mi = h.indexOf('method');
  const si = h.indexOf('seconds');
  const row = lines
    .slice(1)
    .map((l) => l.split('\t'))
    .find((r) => /^farmcpu$/i.test(r[mi]) && (h[0] !== 'trait' || r[0] === 'CD8'));
  if (!row) throw new Error(`${path}: no FarmCPU row`);
  return Number(row[si]);
}

async function bench(label: string, spec: Omit<FemInputSpec, 'impute' | 'npc' | 'maf' | 'miss' | 'requirePositions'>, rmvp: number): Promise<void> {
  const { backend } = await selectBackend('auto');
  const log = memoryLogger();
  const w0 = performance.now();
  const c0 = cpu();
  const inputs = await prepareFemInputs({ ...spec, impute: 'major', npc: 0, maf: 0, miss: 1, requirePositions: true }, backend, log);
  const loadWall = (performance.now() - w0) / 1000;
  const loadCpu = cpu() - c0;
  const bus = new InProcessBus(
    { n: inputs.n, y: inputs.y, cv: inputs.cv, cvCols: inputs.cvCols, genotypes: inputs.genotypes, keys: positionKeys(inputs.geno.snps), backend },
    partitions,
  );
  const r0 = performance.now();
  const rc = cpu();
  const res = await runFarmCpu({ n: inputs.n, y: inputs.y, cv: inputs.cv, cvCols: inputs.cvCols, snps: inputs.geno.snps }, DEFAULT_SETTINGS, bus, log);
  const runWall = (performance.now() - r0) / 1000;
  const runCpu = cpu() - rc;
  await inputs.raw.close();
  const total = loadWall + runWall;
  console.log(`\n${label}: n = ${inputs.n}, m = ${inputs.geno.snps.length}, ${partitions} partition(s), backend ${backend.name}`);
  console.log(`  load genotypes      ${loadWall.toFixed(2)} s wall, ${loadCpu.toFixed(2)} s CPU`);
  for (const it of res.iterations) {
    console.log(`  iteration ${String(it.iteration).padStart(2)}        ${it.seconds.toFixed(2)} s wall (${it.qtns.length} pseudo-QTNs, scan ${it.scanSeconds.toFixed(2)} s)`);
  }
  console.log(`  rounds              ${runWall.toFixed(2)} s wall, ${runCpu.toFixed(2)} s CPU, ${(runWall / res.iterations.length).toFixed(2)} s per round`);
  console.log(`  total               ${total.toFixed(2)} s wall, ${(loadCpu + runCpu).toFixed(2)} s CPU`);
  console.log(`  rMVP 1.4.6 recorded ${rmvp.toFixed(2)} s wall for MVP(method = "FarmCPU") on genotypes already in memory`);
  console.log(`    rMVP / gwasgrid rounds: ${(rmvp / runWall).toFixed(2)}× (our wall), ${(rmvp / runCpu).toFixed(2)}× (our CPU seconds)`);
  console.log(`    rMVP / gwasgrid incl. reading the genotype file: ${(rmvp / total).toFixed(2)}× (wall), ${(rmvp / (loadCpu + runCpu)).toFixed(2)}× (CPU)`);
  console.log(`  load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} (wall times on a busy machine are inflated)`);
}

async function main(): Promise<void> {
  console.log(`FarmCPU benchmark (in-process round bus); data: ${data}`);
  const mouse = join(data, 'mouse_hs1940');
  await bench(
    'mouse_hs1940 CD8 (BIMBAM dosages)',
    {
      geno: join(mouse, 'mouse_hs1940.geno.txt.gz'),
      anno: join(mouse, 'mouse_hs1940.anno.txt'),
      pheno: join(mouse, 'mouse_hs1940.pheno.txt'),
      phenoCol: 1,
      snpsFile: join(mouse, 'reference/farmcpu_snps_used_CD8.txt'),
    },
    rmvpSeconds(join(mouse, 'reference/farmcpu_rmvp_summary.tsv')),
  );
  const sim = join(data, 'sim_large');
  await bench(
    'sim_large y (bed)',
    { bfile: join(sim, 'sim_n2000_m50000'), pheno: join(sim, 'sim_n2000_m50000.pheno.plink.txt'), phenoName: 'y' },
    rmvpSeconds(join(sim, 'reference/farmcpu_rmvp_summary.tsv')),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
