/**
 * The NATS flags of `gwasgrid coordinator` (which passes URL and credentials on to its workers) and
 * `gwasgrid worker` (whose own flags override what the coordinator announces), declared once.
 */
import type { Argv } from 'yargs';
import type { NatsAuth } from './nats-rounds.js';

export interface NatsFlags {
  nats?: string;
  'nats-token'?: string;
  'nats-user'?: string;
  'nats-pass'?: string;
  'nats-tls-ca'?: string;
  'nats-tls-cert'?: string;
  'nats-tls-key'?: string;
}

const GROUP = 'NATS (FarmCPU, GLM):';

export function natsOptions<T>(y: Argv<T>, role: 'coordinator' | 'worker') {
  const passed = role === 'coordinator' ? ' (passed on to workers)' : " (default: the coordinator's)";
  return y
    .option('nats', {
      type: 'string',
      describe:
        role === 'coordinator'
          ? 'NATS server URL(s) for --method farmcpu|glm (nats://HOST:4222); workers learn it from the coordinator'
          : 'NATS URL for FarmCPU/GLM jobs (default: the one the coordinator announces)',
      group: GROUP,
    })
    .option('nats-token', { type: 'string', describe: `NATS token${passed}`, group: GROUP })
    .option('nats-user', { type: 'string', describe: `NATS user${passed}`, group: GROUP })
    .option('nats-pass', { type: 'string', describe: `NATS password${passed}`, group: GROUP })
    .option('nats-tls-ca', {
      type: 'string',
      describe: 'CA (PEM) of the NATS server: connect with TLS',
      group: GROUP,
    })
    .option('nats-tls-cert', {
      type: 'string',
      describe: 'client certificate (PEM) for NATS mutual TLS',
      group: GROUP,
    })
    .option('nats-tls-key', {
      type: 'string',
      describe: 'client key (PEM) for NATS mutual TLS',
      group: GROUP,
    });
}

/** The credentials of parsed NATS flags (fields absent when not given). */
export function natsAuthOf(a: NatsFlags): NatsAuth {
  return {
    token: a['nats-token'],
    user: a['nats-user'],
    pass: a['nats-pass'],
    tlsCa: a['nats-tls-ca'],
    tlsCert: a['nats-tls-cert'],
    tlsKey: a['nats-tls-key'],
  };
}
