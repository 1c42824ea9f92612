/**
 * The worker's link to its coordinator: one gRPC client with the join token on every call, typed errors
 * (shared/protocol/status.ts), and {@link Connection.retry}, which rides out a coordinator that is down or
 * restarting for up to `timeoutMs` since the last successful call, then gives up with the reason.
 */
import { createHash } from 'node:crypto';
import { Metadata, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import { CoordinatorClient, CHANNEL_OPTIONS, CHUNK_BYTES, pb } from '../shared/protocol/rpc.js';
import { tokenInterceptor } from '../shared/protocol/auth.js';
import { channelCredentials, type TlsFlags } from '../shared/protocol/tls.js';
import { fromStatus } from '../shared/protocol/status.js';
import { DistributedError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';

type UnaryMethod = 'join' | 'lease' | 'heartbeat' | 'reportFailure' | 'leave';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Connection {
  private readonly client: CoordinatorClient;
  private lastOk = Date.now();
  private outage = false;
  readonly peer: string;

  constructor(
    readonly address: string,
    token: string,
    tls: TlsFlags,
    readonly timeoutMs: number,
    private readonly log: Logger,
    private readonly signal?: AbortSignal,
  ) {
    this.peer = `coordinator ${address}`;
    this.client = new CoordinatorClient(address, channelCredentials(tls), { ...CHANNEL_OPTIONS, interceptors: [tokenInterceptor(token)] });
  }

  close(): void {
    this.client.close();
  }

  private ok(): void {
    this.lastOk = Date.now();
    if (this.outage) {
      this.outage = false;
      this.log.info(`${this.peer} reachable again`);
    }
  }

  private fail(e: ServiceError) {
    return fromStatus(e, this.peer);
  }

  /** One unary call (no retry). */
  unary<Req, Res>(method: UnaryMethod, req: Req, deadlineMs = 30_000): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const fn = this.client[method] as unknown as (
        r: Req,
        md: Metadata,
        o: { deadline: number },
        cb: (e: ServiceError | null, res: Res) => void,
      ) => void;
      fn.call(this.client, req, new Metadata(), { deadline: Date.now() + deadlineMs }, (e, res) => {
        if (e) return reject(this.fail(e));
        this.ok();
        resolve(res);
      });
    });
  }

  /**
   * Runs `fn` until it succeeds, retrying while the coordinator is unreachable, for up to `timeoutMs` of outage
   * (not after the signal was aborted).
   */
  async retry<T>(fn: () => Promise<T>): Promise<T> {
    let delay = 100;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof DistributedError && e.code === 'UNAVAILABLE') || this.signal?.aborted) throw e;
        const down = Date.now() - this.lastOk;
        if (down >= this.timeoutMs) {
          throw new DistributedError(
            'UNAVAILABLE',
            `${this.peer} unreachable for ${(down / 1000).toFixed(0)} s (--timeout ${(this.timeoutMs / 1000).toFixed(0)} s): ${e.message}`,
            { hint: 'check that the coordinator is running and that --coordinator names its --listen address (and TLS settings match)' },
          );
        }
        if (!this.outage) {
          this.outage = true;
          this.log.warn(`${e.message}; retrying for up to ${((this.timeoutMs - down) / 1000).toFixed(0)} s`);
        }
        await sleep(Math.min(delay, this.timeoutMs - down));
        delay = Math.min(2 * delay, 2000);
      }
    }
  }

  /** Fetches the encoded null model into one buffer (8-byte aligned, so that U can be a view). */
  fetchNullModel(workerId: string, ref: pb.NullModelRef): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const out = new Uint8Array(ref.sizeBytes);
      let got = 0;
      const deadline = Date.now() + 60_000 + ref.sizeBytes / 1000; // at least 1 MB/s
      const stream = this.client.fetchNullModel({ workerId, sha256: ref.sha256 }, new Metadata(), { deadline });
      stream.on('data', (c: pb.NullModelChunk) => {
        if (c.offset !== got || got + c.data.length > out.length) {
          stream.cancel();
          reject(new DistributedError('PROTOCOL', `null model chunk at ${c.offset} (expected ${got}) of ${c.data.length} bytes`));
          return;
        }
        out.set(c.data, got);
        got += c.data.length;
      });
      stream.on('error', (e: ServiceError) => reject(this.fail(e)));
      stream.on('end', () => {
        if (got !== out.length) reject(new DistributedError('UNAVAILABLE', `null model stream ended after ${got} of ${out.length} bytes`));
        else {
          this.ok();
          resolve(out);
        }
      });
    });
  }

  /** Streams one shard result: header, lines in CHUNK_BYTES pieces, trailer. */
  submitShard(header: pb.ShardHeader, data: Buffer, trailer: pb.ShardTrailer): Promise<pb.SubmitReply> {
    return this.upload<pb.ShardChunk>('submitShard', { header }, (d) => ({ lines: d }), { trailer }, data);
  }

  /** Streams one kinship partial: header, packed upper triangle in CHUNK_BYTES pieces, trailer. */
  submitKinship(header: pb.KinshipHeader, data: Buffer, trailer: pb.KinshipTrailer): Promise<pb.SubmitReply> {
    return this.upload<pb.KinshipChunk>('submitKinship', { header }, (d) => ({ data: d }), { trailer }, data);
  }

  private upload<M>(method: 'submitShard' | 'submitKinship', head: M, piece: (d: Buffer) => M, tail: M, data: Buffer): Promise<pb.SubmitReply> {
    return new Promise((resolve, reject) => {
      const start = this.client[method] as unknown as (
        md: Metadata,
        o: { deadline: number },
        cb: (e: ServiceError | null, res: pb.SubmitReply) => void,
      ) => ClientWritableStream<M>;
      const call = start.call(this.client, new Metadata(), { deadline: Date.now() + 60_000 + data.length / 1000 }, (e, res) => {
        if (e) return reject(this.fail(e));
        this.ok();
        resolve(res);
      });
      void (async () => {
        const write = async (m: M) => {
          if (!call.write(m)) await new Promise<void>((r) => call.once('drain', () => r()));
        };
        await write(head);
        for (let off = 0; off < data.length; off += CHUNK_BYTES) await write(piece(data.subarray(off, off + CHUNK_BYTES)));
        await write(tail);
        call.end();
      })().catch(() => call.cancel());
    });
  }

  /**
   * The genotypes of a leased range (--genotypes-from-coordinator): header, row bytes (into one 8-byte aligned
   * buffer), trailer; the rows' sha256 is checked.
   */
  fetchGenotypes(req: pb.GenotypesRequest): Promise<{ header: pb.GenotypesHeader; rows: Uint8Array; seconds: number }> {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      let header: pb.GenotypesHeader | undefined;
      let rows = new Uint8Array(0);
      let got = 0;
      let trailer: pb.GenotypesTrailer | undefined;
      const hash = createHash('sha256');
      const stream = this.client.fetchGenotypes(req, new Metadata(), { deadline: Date.now() + 600_000 });
      const fail = (why: string) => {
        stream.cancel();
        reject(new DistributedError('PROTOCOL', `genotypes from ${this.peer}: ${why}`));
      };
      stream.on('data', (c: pb.GenotypesChunk) => {
        if (c.header) {
          if (header) return fail('two headers');
          header = c.header;
          rows = new Uint8Array(header.rows * header.rowBytes);
        } else if (c.rows) {
          if (!header || trailer || got + c.rows.length > rows.length) return fail('rows outside header … trailer, or too many');
          rows.set(c.rows, got);
          hash.update(c.rows);
          got += c.rows.length;
        } else if (c.trailer) trailer = c.trailer;
      });
      stream.on('error', (e: ServiceError) => reject(this.fail(e)));
      stream.on('end', () => {
        if (!header || !trailer) return reject(new DistributedError('UNAVAILABLE', 'genotype stream ended early'));
        if (got !== rows.length) return reject(new DistributedError('UNAVAILABLE', `genotype stream ended after ${got} of ${rows.length} bytes`));
        if (hash.digest('hex') !== trailer.sha256) return reject(new DistributedError('PROTOCOL', 'the received genotype rows do not match their sha256'));
        this.ok();
        resolve({ header, rows, seconds: (performance.now() - t0) / 1000 });
      });
    });
  }
}
