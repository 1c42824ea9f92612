/**
 * Errors ⇄ gRPC status, in one place for both ends.
 *
 * A server handler failing with a {@link GwasError} answers with the status of its code and the code itself
 * (plus the hint) in trailing metadata, so that the client rebuilds the same typed error. Statuses that carry no
 * gwasgrid code (network failures, grpc-js limits) map to the matching DistributedError/ResourceError.
 * ABORTED is reserved for "join again" (unknown worker id, or the coordinator now runs another job), NOT_FOUND
 * for "that lease is not (or no longer) yours" (the worker drops the shard, as for a revoked lease).
 */
import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import {
  DistributedError,
  GwasError,
  InputError,
  NumericError,
  ResourceError,
  UsageError,
  type ErrorCode,
} from '../errors.js';

const CODE_KEY = 'gwasgrid-error-code';
const HINT_KEY = 'gwasgrid-error-hint';

const STATUS_OF: Record<ErrorCode, status> = {
  USAGE: status.INVALID_ARGUMENT,
  INPUT_NOT_FOUND: status.FAILED_PRECONDITION,
  INPUT_FORMAT: status.FAILED_PRECONDITION,
  INPUT_MISMATCH: status.FAILED_PRECONDITION,
  NO_DATA: status.FAILED_PRECONDITION,
  NUMERIC: status.FAILED_PRECONDITION,
  RESOURCE: status.RESOURCE_EXHAUSTED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  UNAVAILABLE: status.UNAVAILABLE,
  PROTOCOL: status.FAILED_PRECONDITION,
  DEADLINE: status.DEADLINE_EXCEEDED,
  INTERNAL: status.INTERNAL,
};

/** The worker must join again: its id is unknown here, or the job changed. */
export class RejoinRequired extends DistributedError {
  constructor(message: string) {
    super('PROTOCOL', message);
  }
}

/** The lease named in a call is not a current lease of the caller (expired, re-leased, done, or never issued). */
export class LeaseInvalid extends DistributedError {
  constructor(message: string) {
    super('PROTOCOL', message);
  }
}

/** The status a handler answers with for `err` (an unknown error becomes INTERNAL with its message). */
export function toStatus(err: unknown): Partial<StatusObject> {
  const metadata = new Metadata();
  if (err instanceof RejoinRequired) return { code: status.ABORTED, details: err.message, metadata };
  if (err instanceof LeaseInvalid) return { code: status.NOT_FOUND, details: err.message, metadata };
  if (err instanceof GwasError) {
    metadata.set(CODE_KEY, err.code);
    if (err.hint) metadata.set(HINT_KEY, encodeURIComponent(err.hint));
    const where = err.location.file
      ? `${err.location.file}${err.location.line ? `:${err.location.line}` : ''}: `
      : '';
    return { code: STATUS_OF[err.code], details: where + err.message, metadata };
  }
  metadata.set(CODE_KEY, 'INTERNAL');
  return { code: status.INTERNAL, details: (err as Error)?.message ?? String(err), metadata };
}

/** Rebuilds a typed error from a failed call. `peer` names the other end in messages. */
export function fromStatus(e: ServiceError | Partial<StatusObject>, peer: string): GwasError {
  const code = e.metadata?.get(CODE_KEY)[0] as string | undefined as ErrorCode | undefined;
  const rawHint = e.metadata?.get(HINT_KEY)[0] as string | undefined;
  const hint = rawHint ? decodeURIComponent(rawHint) : undefined;
  const details = e.details || (e as Error).message || 'no details';
  if (code) {
    switch (code) {
      case 'USAGE':
        return new UsageError(details, hint);
      case 'INPUT_NOT_FOUND':
      case 'INPUT_FORMAT':
      case 'INPUT_MISMATCH':
      case 'NO_DATA':
        return new InputError(code, details, {}, hint);
      case 'NUMERIC':
        return new NumericError(details, hint);
      case 'RESOURCE':
        return new ResourceError(details, hint);
      case 'UNAUTHENTICATED':
      case 'UNAVAILABLE':
      case 'PROTOCOL':
        return new DistributedError(code, details, { hint });
      default:
        return new GwasError('INTERNAL', `${peer}: ${details}`, { hint });
    }
  }
  switch (e.code) {
    case status.ABORTED:
      return new RejoinRequired(details);
    case status.NOT_FOUND:
      return new LeaseInvalid(details);
    case status.UNAUTHENTICATED:
      return new DistributedError('UNAUTHENTICATED', `${peer} refused the join token: ${details}`, {
        hint: "give the coordinator's token with --token or GWASGRID_TOKEN",
      });
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
    case status.CANCELLED:
      return new DistributedError('UNAVAILABLE', `${peer} unreachable: ${details}`);
    case status.RESOURCE_EXHAUSTED:
      return new ResourceError(`${peer}: ${details}`);
    case status.UNIMPLEMENTED:
      return new DistributedError('PROTOCOL', `${peer} does not serve this call (${details})`, {
        hint: 'run the same gwasgrid version on the coordinator and the workers',
      });
    default:
      return new GwasError('INTERNAL', `${peer}: ${details} (gRPC status ${e.code})`);
  }
}
