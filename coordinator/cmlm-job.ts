/**
 * A distributed CMLM (`gwasgrid coordinator --method cmlm`, `gwasgrid cmlm --workers N`), coordinator side, with
 * the single-process stage functions of shared/methods/cmlm.ts:
 * 1. {@link prepareCmlmJob}: genotypes, samples, the SNP filter and the kinship of all genotyped individuals in one
 *    pass (`filterAndKinship`: the kinship stays on the coordinator; for CMLM it is one cheap pass, and the
 *    compression search needs the whole matrix), the compression search and GAPIT's choice (`fitCmlm`), the scan
 *    model encoded and hashed (`encodeCmlmModel`: the n × rank basis of the chosen level, rank ≤ g, instead of
 *    MLM's n × n eigenvectors), the SNP shards, the job spec (method "cmlm") and `PREFIX.shards/job.json`; on a
 *    restart with the same `--out` the same inputs give the same model bytes, hence the same job id, and verified
 *    shards are skipped (shard-store.ts).
 * 2. {@link serveCmlmJob}: serves the shards (the same leases, heartbeats, SubmitShard, ShardStore as MLM) until
 *    every one is done and verified, then {@link mergeCmlm}: `PREFIX.assoc.txt` (header CMLM_COLUMNS, the shards'
 *    `.assoc.txt` columns in genome order) and the GAPIT CSV from the exact values each shard line carries
 *    (`cmlmShardLine`), then `PREFIX.cmlm.compression.tsv` and `PREFIX.log.txt`: the files `gwasgrid cmlm` writes,
 *    byte for byte (but the log's date and timings).
 * run.ts calls these at its method switch; listening, stopping and telling the workers are run.ts's.
 */
import { promises as fsp } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  filterAndKinship,
  fitCmlm,
  clusteringOrder,
  compressionTsv,
  cmlmLogText,
  cmlmGapitRow,
  parseCmlmShardLine,
  CMLM_COLUMNS,
  type CmlmConfig,
  type CmlmModel,
  type SnpFilter,
} from '../shared/methods/cmlm.js';
import { openGenotypes, loadSamples } from '../shared/methods/inputs.js';
import type { GenotypeSource } from '../shared/genotype/types.js';
import type { AlignedSamples } from '../shared/samples/align.js';
import { AtomicWriter, writeFileAtomic } from '../shared/io/atomic.js';
import { gapitCsv, type GapitRow } from '../shared/results/gapit-csv.js';
import { InputError, type GwasError } from '../shared/errors.js';
import { encodeCmlmModel, CMLM_MODEL_FORMAT, CMLM_MODEL_VERSION } from '../shared/protocol/cmlm-model-codec.js';
import { hashEncoded } from '../shared/protocol/null-model-codec.js';
import { absoluteInputs, samplesFingerprint, toJobSpec } from '../shared/protocol/job.js';
import { planShards, type ShardSpec } from './scheduler.js';
import { ShardStore } from './shard-store.js';
import { scanProgress, untilVerified } from './serve-loop.js';
import { defaultShardSize, openPhase, type CoordinatorConfig, type PhaseJob } from './job.js';
import type { GenotypeFeed, ServiceContext, Transfer } from './server.js';
import type { CoordinatorSummary } from './run.js';

/** A distributed CMLM: the analysis exactly as `gwasgrid cmlm` would run it, plus the coordinator's settings. */
export type CmlmCoordinatorConfig = Omit<CoordinatorConfig, 'mlm'> & { cmlm: CmlmConfig };

export interface PreparedCmlmJob extends PhaseJob {
  /** Open until the run ends (run.ts closes it): FetchGenotypes serves from it. */
  geno: GenotypeSource;
  samples: AlignedSamples;
  /** The SNP filter of the whole file (its mask gives each shard's line count). */
  snps: SnpFilter;
  model: CmlmModel;
  /** The encoded scan model and its sha256 (what FetchNullModel streams). */
  bytes: Buffer;
  sha256: string;
  shardSize: number;
  /** What `--genotypes-from-coordinator` workers receive: the CMLM filter's mask, af and n_miss per SNP. */
  feed: GenotypeFeed;
  timings: Record<string, number>;
}

/**
 * Stage 1 (everything before the scan): inputs, filter + kinship, compression search and choice, the encoded
 * model, the shards and the job. The caller closes `geno` (also when this throws after opening it: it does not).
 */
export async function prepareCmlmJob(cfg: CmlmCoordinatorConfig): Promise<PreparedCmlmJob> {
  const { cmlm } = cfg;
  const log = cmlm.log;
  const timings: Record<string, number> = {};
  await fsp.mkdir(dirname(cmlm.out) || '.', { recursive: true });
  const geno = await openGenotypes(cmlm);
  try {
    log.info(`genotypes: ${geno.label} (${geno.format}), ${geno.nSamples} samples × ${geno.snps.length} SNPs`);
    const samples = await loadSamples(geno, cmlm, log);
    let t = performance.now();
    const { snps, K, kinshipSnps } = await filterAndKinship(geno, samples, cmlm);
    timings.filterAndKinship = (performance.now() - t) / 1000;
    log.info(
      `${snps.kept} SNPs analysed; ${cmlm.kinshipMethod} kinship of ${geno.nSamples} individuals from ${kinshipSnps} SNPs (on the coordinator)`,
    );
    const model = await fitCmlm(K, geno.nSamples, clusteringOrder(geno), samples, cmlm, timings);

    t = performance.now();
    const { n, rank } = model.basis;
    const bytes = encodeCmlmModel({ ...model, g: model.chosen.g });
    const sha256 = hashEncoded(bytes);
    timings.encodeModel = (performance.now() - t) / 1000;
    log.info(
      `CMLM scan model encoded: basis ${n} × ${rank} (g = ${model.chosen.g}; the MLM null model would carry ${n} × ${n}), ` +
        `${(bytes.length / 1e6).toFixed(2)} MB (format ${CMLM_MODEL_FORMAT}), sha256 ${sha256}`,
      { event: 'cmlm-model', n, rank, g: model.chosen.g, bytes: bytes.length, sha256 },
    );

    const total = geno.snps.length;
    const shardSize = cfg.shardSize ?? defaultShardSize(total, cfg.workersHint);
    const shards = planShards(total, shardSize, snps.mask);
    const spec = toJobSpec({
      method: 'cmlm',
      input: absoluteInputs(cmlm),
      // The CMLM filter's thresholds (GAPIT's rules, snpFilterRange); r2 is not used.
      qc: { maf: cmlm.maf, miss: cmlm.miss, r2: 0 },
      lmm: 1,
      backend: cfg.backendPreference,
      blockSize: cmlm.blockSize ?? 0,
      totalSnps: total,
      analysedSamples: samples.analysed.length,
      samplesSha256: samplesFingerprint(samples.analysed),
      totalSamples: geno.nSamples,
      nullModel: { sha256, sizeBytes: bytes.length, formatVersion: CMLM_MODEL_FORMAT, modelVersion: CMLM_MODEL_VERSION },
      shardSize,
      cmlm: {
        extract: cmlm.extract === undefined ? undefined : resolve(cmlm.extract),
        groupCount: model.chosen.g,
        rank,
        kinshipMethod: cmlm.kinshipMethod,
      },
    });
    const job = await openPhase(cfg, spec, shards, new ShardStore(cmlm.out), { totalSnps: total, shardSize, nullModelSha256: sha256 }, 'job');
    log.info(`job ${job.jobId.slice(0, 12)}…: ${shards.length} shards of ${shardSize} SNP indices, ${snps.kept} SNPs to test`, {
      event: 'job',
      jobId: job.jobId,
      shards: shards.length,
    });
    const feed: GenotypeFeed = { geno, qc: snps, analysed: samples.analysed };
    return { ...job, geno, samples, snps, model, bytes, sha256, shardSize, feed, timings };
  } catch (e) {
    await geno.close();
    throw e;
  }
}

/** Serves until every shard is done and verified, then merges and writes every output file. */
export async function serveCmlmJob(
  cfg: CmlmCoordinatorConfig,
  job: PreparedCmlmJob,
  ctx: ServiceContext,
  t0: number,
  aborted: () => GwasError | Error | null,
): Promise<CoordinatorSummary> {
  const { cmlm } = cfg;
  const { log } = ctx;
  const { scheduler: sched, store, shards, timings } = job;
  const tScan = performance.now();
  await untilVerified(job, {
    log,
    leaseTimeoutMs: cfg.leaseTimeoutMs,
    aborted,
    report: scanProgress(sched, log, 'distributed CMLM scan (shards)', job.snps.kept),
  });
  sched.finish();
  timings.scan = (performance.now() - tScan) / 1000;

  let t = performance.now();
  const assocPath = `${cmlm.out}.assoc.txt`;
  const gapitRows = await mergeCmlm(store, shards, job, assocPath);
  const compressionPath = `${cmlm.out}.cmlm.compression.tsv`;
  await writeFileAtomic(compressionPath, compressionTsv(job.model));
  const gapitPath = `${cmlm.out}.gapit.csv`;
  await writeFileAtomic(gapitPath, gapitCsv(gapitRows));
  timings.merge = (performance.now() - t) / 1000;
  timings.total = (performance.now() - t0) / 1000;

  const sent = (list: Transfer[]) => {
    const mb = list.reduce((a, b) => a + b.bytes, 0) / 1e6;
    const secs = list.reduce((a, b) => a + b.seconds, 0);
    return `${list.length} times${secs > 0 ? ` at ${(mb / secs).toFixed(1)} MB/s` : ''}`;
  };
  const genotypes = ctx.genotypeTransfers ?? [];
  const { n, rank } = job.model.basis;
  const extra = [
    `## Distributed = ${shards.length} shards of ${job.shardSize} SNP indices (${job.skipped} resumed from ${store.dir}), job ${job.jobId}`,
    `## Scan model = basis ${n} x ${rank} (g = ${job.model.chosen.g}), ${(job.bytes.length / 1e6).toFixed(2)} MB, sha256 ${job.sha256}, sent ${sent(ctx.broadcasts)}`,
    '## Kinship and compression search = on the coordinator',
    ...(genotypes.length
      ? [`## Genotypes served = ${genotypes.length} ranges, ${(genotypes.reduce((a, b) => a + b.bytes, 0) / 1e6).toFixed(1)} MB (--genotypes-from-coordinator workers)`]
      : []),
    ...(cfg.logLines ?? []),
  ];
  const logPath = `${cmlm.out}.log.txt`;
  await writeFileAtomic(logPath, cmlmLogText(cmlm, job.geno, job.samples, job.snps, job.model, timings, extra));
  if (!cfg.keepShards) await store.removeAll();
  t = timings.total;
  log.info(`wrote ${assocPath}, ${compressionPath}, ${gapitPath} and ${logPath} (${job.snps.kept} SNPs) in ${t.toFixed(1)} s`);
  const trait = {
    trait: job.samples.traitName,
    assocPath,
    outputs: [assocPath, compressionPath, gapitPath],
    logPath,
    // CMLM reports no genomic inflation (gwasgrid cmlm does not either).
    lambdaGc: NaN,
    shards: shards.length,
    skipped: job.skipped,
    scanSeconds: timings.scan,
  };
  return { ...trait, traits: [trait], broadcasts: ctx.broadcasts, kinship: null };
}

/**
 * `PREFIX.assoc.txt` from the verified shards in index order (atomically; nothing is written when a shard is
 * missing, damaged or does not match the coordinator's filter), and the GAPIT CSV rows of every line.
 */
export async function mergeCmlm(
  store: ShardStore,
  shards: readonly ShardSpec[],
  job: Pick<PreparedCmlmJob, 'geno' | 'samples' | 'snps'>,
  assocPath: string,
): Promise<GapitRow[]> {
  const { geno, samples, snps } = job;
  const nobs = samples.analysed.length;
  const rows: GapitRow[] = [];
  const writer = new AtomicWriter(assocPath);
  try {
    await writer.write(CMLM_COLUMNS.join('\t') + '\n');
    for (const s of shards) {
      const data = await store.read(s);
      const damaged = (why: string) =>
        new InputError('INPUT_FORMAT', `merge refused: ${s.name} ${why}`, { file: store.tsvPath(s) }, 'run the coordinator again with the same --out to recompute it');
      if (!data) throw damaged('is missing or does not match its checksum');
      const lines = data.toString('utf8').split('\n');
      if (lines.pop() !== '' || lines.length !== s.expected) throw damaged(`has ${lines.length} lines, expected ${s.expected}`);
      let out = '';
      let snp = s.start;
      for (let i = 0; i < lines.length; i++) {
        while (snp < s.end && !snps.mask[snp]) snp++;
        const f = parseCmlmShardLine(lines[i]);
        if (!f || snp >= s.end || f.rs !== geno.snps[snp].rs) {
          throw damaged(`line ${i + 1} is not the CMLM result of SNP ${snp < s.end ? geno.snps[snp].rs : '(none left)'}`);
        }
        out += f.assoc;
        rows.push(cmlmGapitRow(geno, snp, f.log10p, f.maf, nobs, f.beta));
        snp++;
      }
      await writer.write(out);
    }
    await writer.commit();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return rows;
}
