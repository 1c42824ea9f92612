/**
 * The gRPC surface of a distributed run, in one place: the generated service and messages (proto/gen), the
 * protocol version, chunk size and channel options. `coordinator/` and `worker/` import the protocol from
 * here, never from proto/gen directly.
 */
export * as pb from '../../proto/gen/gwasgrid/v1/distributed.js';
export {
  CoordinatorService,
  CoordinatorClient,
  type CoordinatorServer,
} from '../../proto/gen/gwasgrid/v1/distributed.js';

/**
 * Sent on Join; a coordinator refuses workers of another protocol version (2: kinship phase, genotypes,
 * stopping; 3: FarmCPU/GLM final rows by SubmitShard instead of inline in the NATS replies).
 */
export const PROTOCOL_VERSION = 3;

/**
 * Size of the `bytes` chunks of streamed values (null model, shard results): well under grpc-js's default
 * 4 MiB receive limit, and large enough for full throughput (INFRA.md B2: 0.5–3.75 MiB chunks, 74–88 MiB/s).
 */
export const CHUNK_BYTES = 1 << 20;

/** Channel options for both ends: keepalive pings so that a dead peer is noticed on an idle connection. */
export const CHANNEL_OPTIONS = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.max_pings_without_data': 0,
} as const;

export const SERVER_OPTIONS = {
  ...CHANNEL_OPTIONS,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
} as const;

/** Parses HOST:PORT (IPv6 as [::1]:PORT); throws a message for the flag's error. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new Error(`"${s}" is not HOST:PORT (e.g. 127.0.0.1:50051, [::1]:50051)`);
  return { host: m[1], port };
}
