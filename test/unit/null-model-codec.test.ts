/**
 * The null-model encoding: exact round trip of every field (bits, including -0 and NaN), a stable sha256,
 * U decoded as a view (no n² copy), and refusal of damaged or foreign encodings.
 */
import { decodeNullModel, encodeNullModel, encodedSize, hashEncoded, NULL_MODEL_FORMAT } from '../../shared/protocol/null-model-codec.js';
import { NULL_MODEL_VERSION, type NullModel } from '../../shared/lmm/null.js';
import { DistributedError } from '../../shared/errors.js';
import { rng, normal } from '../helpers/random.js';

function syntheticModel(n: number, c: number, seed: number): NullModel {
  const r = rng(seed);
  const vec = (len: number) => Float64Array.from({ length: len }, () => normal(r));
  const eigenvalues = vec(n);
  eigenvalues[0] = -0;
  return {
    version: NULL_MODEL_VERSION,
    n,
    c,
    eigenvalues,
    U: vec(n * n),
    UtW: Array.from({ length: c }, () => vec(n)),
    Uty: vec(n),
    traceG: 0.61,
    lRemle: 4.343367,
    loglRemle: -1584.07,
    lMle: 4.355,
    loglMle: -1584.45,
    vg: 1.479,
    ve: 0.3405,
    pve: 0.6097,
    pveSe: NaN,
    beta: vec(c),
    betaSe: vec(c),
    lambdaOptions: { lMin: 1e-5, lMax: 1e5, nRegion: 10 },
  };
}

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('null-model codec', () => {
  it('round-trips every field bit for bit; U is a view on the received bytes', () => {
    const m = syntheticModel(37, 3, 1);
    const enc = encodeNullModel(m);
    expect(enc.length).toBe(encodedSize(37, 3));
    expect(enc.toString('latin1', 0, 4)).toBe('GGNM');
    expect(enc.readUInt32LE(4)).toBe(NULL_MODEL_FORMAT);
    const received = new Uint8Array(enc.length);
    received.set(enc);
    const d = decodeNullModel(received);
    for (const k of ['n', 'c', 'traceG', 'lRemle', 'loglRemle', 'lMle', 'loglMle', 'vg', 've', 'pve', 'pveSe', 'version'] as const) {
      expect(Object.is(d[k], m[k]), k).toBe(true);
    }
    expect(d.lambdaOptions).toEqual(m.lambdaOptions);
    for (const k of ['eigenvalues', 'U', 'Uty', 'beta', 'betaSe'] as const) expect(bits(d[k]).equals(bits(m[k])), k).toBe(true);
    expect(d.UtW.map(bits)).toEqual(m.UtW.map(bits));
    expect(Object.is(d.eigenvalues[0], -0)).toBe(true);
    expect(d.U.buffer).toBe(received.buffer);
    // The small arrays are copies (so that scan threads do not receive the n² buffer with them).
    expect(d.eigenvalues.buffer).not.toBe(received.buffer);
  });

  it('has a stable content hash that changes with any bit', () => {
    const a = encodeNullModel(syntheticModel(20, 1, 2));
    const b = encodeNullModel(syntheticModel(20, 1, 2));
    expect(hashEncoded(a)).toBe(hashEncoded(b));
    expect(hashEncoded(a)).toMatch(/^[0-9a-f]{64}$/);
    b[b.length - 1] ^= 1;
    expect(hashEncoded(a)).not.toBe(hashEncoded(b));
  });

  it('refuses bad magic, another format or model version, and a wrong length', () => {
    const enc = encodeNullModel(syntheticModel(8, 2, 3));
    const tamper = (f: (b: Buffer) => void) => {
      const b = Buffer.from(enc);
      f(b);
      return () => decodeNullModel(b);
    };
    expect(tamper((b) => b.write('XXXX', 0, 'latin1'))).toThrow(/bad magic/);
    expect(tamper((b) => b.writeUInt32LE(NULL_MODEL_FORMAT + 1, 4))).toThrow(/format 2/);
    expect(tamper((b) => b.writeUInt32LE(NULL_MODEL_VERSION + 1, 8))).toThrow(/model version/);
    expect(() => decodeNullModel(enc.subarray(0, enc.length - 8))).toThrow(DistributedError);
  });

  it('refuses a model whose arrays do not match n and c', () => {
    const m = syntheticModel(5, 1, 4);
    expect(() => encodeNullModel({ ...m, Uty: new Float64Array(4) })).toThrow(/Uty has 4 values, expected 5/);
  });
});
