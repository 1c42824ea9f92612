/**
 * A distributed FarmCPU or GLM run, coordinator side (`gwasgrid coordinator --method farmcpu|glm … --nats URL`):
 * 1. listen on gRPC at once: workers join there (join token, TLS as for MLM) and learn the job and its NATS
 *    subjects and credentials;
 * 2. prepare the inputs exactly as `gwasgrid farmcpu|glm` does (shared/methods/fem-inputs.ts);
 * 3. publish the job's setup on NATS and drive the rounds through a {@link NatsRoundBus} — the same
 *    `runFarmCpu`/`glmScan` as the single-process run, with only the bus swapped, so the outputs are the same;
 *    on the final round the workers send each partition's per-SNP rows back over gRPC (SubmitShard, as MLM
 *    shards) into `PREFIX.shards/final-NNNNN.rows` (coordinator/farm-results.ts), and their NATS replies only
 *    name them; every finished round's replies are checkpointed there (coordinator/farm-resume.ts), so the same
 *    command run again with the same --out replays them without the workers (resume);
 * 4. write the outputs, tell the workers the job is done, keep or delete the final rows (--keep-shards), stop.
 */
import { createHash } from 'node:crypto';
import type { Server } from '@grpc/grpc-js';
import type { NatsConnection } from 'nats';
import { DistributedError, UsageError, type GwasError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { pb, PROTOCOL_VERSION, type CoordinatorServer, parseHostPort } from '../shared/protocol/rpc.js';
import { toStatus } from '../shared/protocol/status.js';
import { serverCredentials, isTls, type TlsFlags } from '../shared/protocol/tls.js';
import { absoluteInputs } from '../shared/protocol/job.js';
import { encodeFrame } from '../shared/protocol/frames.js';
import { connectNats, RoundCoordinator, type NatsAuth } from '../shared/protocol/nats-rounds.js';
import { NatsRoundBus, type FarmSetup } from '../shared/protocol/farm-bus.js';
import { partitionRanges, type BusFactory } from '../shared/methods/farmcpu/bus.js';
import { runFarmCpuPipeline, type FarmCpuConfig } from '../shared/methods/farmcpu/pipeline.js';
import { runGlm, type GlmConfig } from '../shared/methods/glm.js';
import { serve, shutdown } from './server.js';
import { FarmResults, submitFinalRows, type FinalResultsStats } from './farm-results.js';
import { farmStoreKey } from './farm-resume.js';

export interface FarmCoordinatorConfig {
  method: 'farmcpu' | 'glm';
  /** The analysis exactly as `gwasgrid farmcpu|glm` would run it (its `partitions` = NATS partitions). */
  analysis: FarmCpuConfig | GlmConfig;
  backendPreference: string;
  listen: string;
  token: string;
  tls: TlsFlags;
  nats: { url: string; auth: NatsAuth };
  /** Partitions per round; default 4 per expected worker, at least 8. */
  partitions: number;
  leaseTimeoutMs: number;
  roundDeadlineMs: number;
  /** Keep `PREFIX.shards/final-*.rows` after a successful run (default true, as for MLM shards). */
  keepShards?: boolean;
}

export const DEFAULT_NATS_LEASE_TIMEOUT_MS = 15_000;
export const DEFAULT_ROUND_DEADLINE_MS = 3_600_000;

/**
 * The job's id: sha256 of the method, the analysis settings and the start time, so two coordinator processes
 * never share NATS subjects or gRPC results. Resuming after a restart does not need a stable id: the round
 * checkpoint in `PREFIX.shards/` is keyed by the scan inputs (coordinator/farm-resume.ts).
 */
function farmJobId(cfg: FarmCoordinatorConfig): string {
  const a = cfg.analysis;
  const desc = JSON.stringify({
    method: cfg.method,
    input: absoluteInputs(a),
    snps: a.snpsFile,
    impute: a.impute,
    npc: a.npc,
    maf: a.maf,
    miss: a.miss,
    settings: 'settings' in a ? a.settings : null,
    partitions: cfg.partitions,
    t: Date.now(),
  });
  return createHash('sha256').update(desc).digest('hex');
}

/**
 * The gRPC side of a NATS job: Join answers with the job spec, SubmitShard takes the final rows of a partition
 * (FINAL_ROWS, from a worker that joined here); everything else belongs to MLM jobs.
 */
export function natsJobService(
  spec: pb.JobSpec,
  heartbeatMs: number,
  results: FarmResults,
  log: Logger,
): CoordinatorServer {
  let joined = 0;
  const knownWorker = (id: string) => {
    const m = /^w(\d+)$/.exec(id);
    return !!m && Number(m[1]) >= 1 && Number(m[1]) <= joined;
  };
  const notHere = () =>
    new DistributedError(
      'PROTOCOL',
      `this coordinator runs a ${spec.method} job: its rounds go over NATS, not gRPC leases`,
    );
  const refuse = (_call: unknown, cb: (e: ReturnType<typeof toStatus>) => void) => cb(toStatus(notHere()));
  return {
    join: (call, cb) => {
      if (call.request.protocolVersion !== PROTOCOL_VERSION) {
        cb(
          toStatus(
            new DistributedError(
              'PROTOCOL',
              `worker speaks protocol ${call.request.protocolVersion}, this coordinator ${PROTOCOL_VERSION}`,
            ),
          ),
        );
        return;
      }
      const i = call.request.info;
      joined++;
      log.info(
        `worker joined: ${i?.name ? `${i.name}, ` : ''}${i?.host ?? '?'} pid ${i?.pid ?? '?'} from ${call.getPeer()} (${joined} so far); sent to NATS ${spec.nats?.url}`,
        {
          event: 'joined',
        },
      );
      cb(
        null,
        pb.JoinReply.create({
          workerId: `w${joined}`,
          job: spec,
          heartbeatIntervalMs: heartbeatMs,
          leaseTimeoutMs: 0,
        }),
      );
    },
    fetchNullModel: (call) => call.emit('error', toStatus(notHere())),
    lease: refuse,
    heartbeat: refuse,
    submitShard: submitFinalRows(results, knownWorker),
    reportFailure: refuse,
    submitKinship: (call, cb) => {
      call.on('data', () => {});
      call.on('error', () => {});
      cb(toStatus(notHere()));
    },
    fetchGenotypes: (call) => call.emit('error', toStatus(notHere())),
    leave: (_call, cb) => cb(null, pb.LeaveReply.create({})),
  };
}

export interface FarmCoordinatorSummary {
  assocPath: string;
  rounds: number;
  reassigned: number;
  seconds: number;
  /** The final rows received by gRPC SubmitShard. */
  finalRows: FinalResultsStats;
}

export interface RunningFarmCoordinator {
  address: string;
  port: number;
  done: Promise<FarmCoordinatorSummary>;
  abort(err: GwasError): void;
}

export async function startFarmCoordinator(cfg: FarmCoordinatorConfig): Promise<RunningFarmCoordinator> {
  const { log } = cfg.analysis;
  const t0 = performance.now();
  const jobId = farmJobId(cfg);
  const subjectJob = jobId.slice(0, 12);
  const heartbeatMs = 1000;
  const spec = pb.JobSpec.create({
    jobId,
    method: cfg.method,
    input: absoluteInputs(cfg.analysis),
    backend: cfg.backendPreference,
    nats: {
      url: cfg.nats.url,
      job: subjectJob,
      token: cfg.nats.auth.token,
      user: cfg.nats.auth.user,
      pass: cfg.nats.auth.pass,
    },
  });
  const results = new FarmResults(cfg.analysis.out, jobId, cfg.method, log);
  const service = natsJobService(spec, heartbeatMs, results, log);
  let server: Server;
  let port: number;
  try {
    ({ server, port } = await serve(() => service, cfg.listen, serverCredentials(cfg.tls), cfg.token, log));
  } catch (e) {
    throw e instanceof UsageError
      ? e
      : new UsageError(`cannot listen on ${cfg.listen}: ${(e as Error).message}`);
  }
  const address = `${parseHostPort(cfg.listen).host}:${port}`;
  log.info(
    `coordinator (${cfg.method}) listening on ${address} (${isTls(cfg.tls) ? 'TLS' : 'plaintext'}, join token required); rounds over NATS ${cfg.nats.url}, job ${subjectJob}`,
    {
      event: 'listening',
      address,
      port,
    },
  );

  let aborted: GwasError | null = null;
  let rejectAbort: (e: GwasError) => void = () => {};
  const abortPromise = new Promise<never>((_, reject) => (rejectAbort = reject));
  abortPromise.catch(() => {});
  let nc: NatsConnection | null = null;
  let coord: RoundCoordinator | null = null;
  let bus: NatsRoundBus | null = null;

  const factory: BusFactory = async (inputs, shared) => {
    nc = await connectNats(cfg.nats.url, cfg.nats.auth, `gwasgrid-coordinator-${subjectJob}`, log);
    coord = new RoundCoordinator(nc, subjectJob, log, {
      leaseTimeoutMs: cfg.leaseTimeoutMs,
      roundDeadlineMs: cfg.roundDeadlineMs,
      heartbeatMs,
    });
    const ranges = partitionRanges(inputs.geno.snps.length, cfg.partitions, shared.blockSize ?? 256);
    const setup: FarmSetup = {
      input: absoluteInputs(cfg.analysis),
      sourceIndex: inputs.sourceIndex,
      analysed: inputs.samples.analysed,
      impute: cfg.analysis.impute,
      y: inputs.y,
      cv: inputs.cv,
      cvCols: inputs.cvCols,
      keys: shared.keys,
      blockSize: shared.blockSize ?? 256,
      partitions: ranges,
    };
    const setupFrame = encodeFrame(setup);
    await results.open(ranges, inputs.geno.snps.length, await farmStoreKey(setupFrame, setup.input));
    coord.start(setupFrame);
    log.info(
      `NATS job ${subjectJob}: ${ranges.length} partitions of ~${Math.ceil(inputs.geno.snps.length / ranges.length)} SNPs; waiting for workers`,
      { event: 'ready' },
    );
    bus = new NatsRoundBus(coord, inputs.geno.snps.length, ranges, log, results, results.rounds);
    return Object.assign(bus, { partitions: ranges.length });
  };

  const done = (async (): Promise<FarmCoordinatorSummary> => {
    try {
      const run =
        cfg.method === 'farmcpu'
          ? runFarmCpuPipeline({ ...(cfg.analysis as FarmCpuConfig), bus: factory })
          : runGlm({ ...(cfg.analysis as GlmConfig), bus: factory });
      const res = await Promise.race([run, abortPromise]);
      if (aborted) throw aborted;
      const b = bus as NatsRoundBus | null;
      const stats = b?.stats ?? [];
      const finalRows = results.stats;
      log.info(
        `final rows: ${finalRows.received} partition(s) received by gRPC SubmitShard (${(finalRows.bytes / 1e6).toFixed(2)} MB` +
          `${finalRows.resumed ? `, ${finalRows.resumed} reused from an earlier run` : ''}` +
          `${finalRows.duplicates ? `, ${finalRows.duplicates} duplicate(s) ignored` : ''}${finalRows.refused ? `, ${finalRows.refused} refused` : ''}), ` +
          (cfg.keepShards === false
            ? `${results.store.dir} cleaned up`
            : `kept in ${results.store.dir} with their sha256`),
        {
          event: 'final-rows-summary',
          received: finalRows.received,
          duplicates: finalRows.duplicates,
          refused: finalRows.refused,
          resumed: finalRows.resumed,
          roundsResumed: b?.resumed ?? 0,
          bytes: finalRows.bytes,
          kept: finalRows.kept,
          dir: results.store.dir,
        },
      );
      await results.finish(cfg.keepShards !== false);
      return {
        assocPath: res.assocPath,
        rounds: stats.length,
        reassigned: stats.reduce((a, s) => a + s.reassigned, 0),
        seconds: (performance.now() - t0) / 1000,
        finalRows,
      };
    } finally {
      const c = coord as RoundCoordinator | null;
      if (c) {
        c.finish();
        // Give pulling workers a moment to hear "done" before the subjects go away.
        await new Promise((r) => setTimeout(r, 300));
        await c.close();
      }
      const n = nc as NatsConnection | null;
      if (n) await n.drain().catch(() => {});
      await shutdown(server);
    }
  })();
  return {
    address,
    port,
    done,
    abort(err) {
      aborted ??= err;
      rejectAbort(err);
    },
  };
}
