/**
 * The join token: every RPC carries it as metadata (`x-gwasgrid-token`); the coordinator checks it in one
 * wrapper around the whole service ({@link requireToken}) before any handler runs, comparing digests in
 * constant time. Workers add it with one client interceptor ({@link tokenInterceptor}).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  InterceptingCall,
  status,
  type Interceptor,
  type Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServerReadableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { UsageError } from '../errors.js';

export const TOKEN_KEY = 'x-gwasgrid-token';
export const TOKEN_ENV = 'GWASGRID_TOKEN';

/** The token from the flag or the environment; refuses an empty one. */
export function resolveToken(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const token = flag ?? env[TOKEN_ENV];
  if (!token)
    throw new UsageError(
      `no join token: give --token T or set ${TOKEN_ENV}`,
      'use the same token on the coordinator and every worker',
    );
  return token;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Whether the call's metadata carries `expected` (constant time in the token). */
export function hasToken(metadata: Metadata, expected: Buffer): boolean {
  const given = metadata.get(TOKEN_KEY);
  if (given.length !== 1 || typeof given[0] !== 'string') return false;
  return timingSafeEqual(digest(given[0]), expected);
}

/**
 * Wraps every handler of `impl` so that a call without the right token is answered UNAUTHENTICATED and never
 * reaches the handler. `onRefused` is told the peer address (for the log).
 */
export function requireToken<T extends UntypedServiceImplementation>(
  service: ServiceDefinition,
  impl: T,
  token: string,
  onRefused?: (peer: string, method: string) => void,
): T {
  const expected = digest(token);
  const refusal = { code: status.UNAUTHENTICATED, details: 'wrong or missing join token' };
  const wrapped: UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(service)) {
    const handler = impl[name] as (...args: unknown[]) => void;
    if (!def.requestStream && !def.responseStream) {
      wrapped[name] = (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => {
        if (hasToken(call.metadata, expected)) return handler(call, cb);
        onRefused?.(call.getPeer(), name);
        cb(refusal);
      };
    } else if (def.requestStream && !def.responseStream) {
      wrapped[name] = (call: ServerReadableStream<unknown, unknown>, cb: sendUnaryData<unknown>) => {
        if (hasToken(call.metadata, expected)) return handler(call, cb);
        onRefused?.(call.getPeer(), name);
        cb(refusal);
      };
    } else if (!def.requestStream && def.responseStream) {
      wrapped[name] = (call: ServerWritableStream<unknown, unknown>) => {
        if (hasToken(call.metadata, expected)) return handler(call);
        onRefused?.(call.getPeer(), name);
        call.emit('error', refusal);
      };
    } else {
      throw new Error(`requireToken: bidirectional method ${name} is not supported`);
    }
  }
  return wrapped as T;
}

/** A client interceptor that adds the token to every call. */
export function tokenInterceptor(token: string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(TOKEN_KEY, token);
        next(metadata, listener);
      },
    });
}
