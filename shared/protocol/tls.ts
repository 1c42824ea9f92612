/**
 * Transport credentials from the `--tls-cert --tls-key --tls-ca` flags (PEM files named by the operator on the
 * command line of that process). Coordinator: cert + key serve TLS; adding `--tls-ca` requires and verifies
 * client certificates (mTLS). Worker: `--tls-ca` verifies the coordinator; cert + key present a client
 * certificate. Without flags, plaintext (the join token still guards every call).
 */
import { readFileSync } from 'node:fs';
import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { InputError, UsageError } from '../errors.js';

export interface TlsFlags {
  cert?: string;
  key?: string;
  ca?: string;
}

function pem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new InputError('INPUT_NOT_FOUND', `cannot read the ${flag} file: ${(e as Error).message}`, {
      file: path,
    });
  }
}

function checkPair(t: TlsFlags): void {
  if (!!t.cert !== !!t.key) throw new UsageError('give --tls-cert and --tls-key together');
}

export function isTls(t: TlsFlags): boolean {
  return !!(t.cert || t.key || t.ca);
}

export function serverCredentials(t: TlsFlags): ServerCredentials {
  checkPair(t);
  if (!t.cert) {
    if (t.ca) throw new UsageError('--tls-ca on the coordinator needs --tls-cert and --tls-key');
    return ServerCredentials.createInsecure();
  }
  const ca = t.ca ? pem(t.ca, '--tls-ca') : null;
  return ServerCredentials.createSsl(
    ca,
    [{ cert_chain: pem(t.cert, '--tls-cert'), private_key: pem(t.key!, '--tls-key') }],
    ca !== null,
  );
}

export function channelCredentials(t: TlsFlags): ChannelCredentials {
  checkPair(t);
  if (!isTls(t)) return ChannelCredentials.createInsecure();
  return ChannelCredentials.createSsl(
    t.ca ? pem(t.ca, '--tls-ca') : null,
    t.key ? pem(t.key, '--tls-key') : null,
    t.cert ? pem(t.cert, '--tls-cert') : null,
  );
}
