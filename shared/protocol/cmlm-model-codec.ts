/**
 * The CMLM scan model as one content-hashed binary value, what a coordinator broadcasts instead of the MLM
 * null model (FetchNullModel, cached by workers by its sha256): the chosen level's n × rank basis E (rank = groups with phenotypes, ≤ g) rather than n × n.
 *
 * Canonical encoding (format version {@link CMLM_MODEL_FORMAT}), little-endian, float64 as exact bits:
 * ```
 * offset  0  "GGCM"                magic
 *         4  u32 format version    CMLM_MODEL_FORMAT
 *         8  u32 n, u32 q, u32 rank, u32 g (chosen group count)
 *        24  f64 delta, f64 scale (σ²_a of the t statistic)
 *        40  f64[n·q] X (row-major), f64[n] y, f64[rank] μ, f64[n·rank] E (row-major, last)
 * ```
 * The hash is the lowercase hex sha256 of these bytes. The compression table is not part of it (it is the
 * coordinator's log, not an input of the scan). A decoder refuses other formats (DistributedError PROTOCOL).
 */
import { endianness } from 'node:os';
import { DistributedError } from '../errors.js';
import type { CmlmModel } from '../methods/cmlm.js';

export const CMLM_MODEL_FORMAT = 1;
/**
 * Version of what the model means to a worker's scan (scanCmlm's P3D test on the imputed genotypes); a job spec
 * names it beside the format (NullModelRef.model_version), and a worker of another version refuses the job.
 */
export const CMLM_MODEL_VERSION = 1;
const MAGIC = 0x4d434747; // "GGCM" as little-endian u32
const HEADER_BYTES = 24;

/** The part of a {@link CmlmModel} a worker's scan needs. */
export type CmlmScanModel = Pick<CmlmModel, 'design' | 'basis' | 'delta' | 'scale'> & { g: number };

export function cmlmEncodedSize(n: number, q: number, rank: number): number {
  return HEADER_BYTES + 8 * (2 + n * q + n + rank + n * rank);
}

export function encodeCmlmModel(m: CmlmScanModel): Buffer {
  if (endianness() !== 'LE') throw new DistributedError('PROTOCOL', 'the CMLM model encoding needs a little-endian host');
  const { n, q, X, y } = m.design;
  const { rank, E, mu } = m.basis;
  const buf = Buffer.alloc(cmlmEncodedSize(n, q, rank));
  new Uint32Array(buf.buffer, buf.byteOffset, HEADER_BYTES / 4).set([MAGIC, CMLM_MODEL_FORMAT, n, q, rank, m.g]);
  const f = new Float64Array(buf.buffer, buf.byteOffset + HEADER_BYTES, (buf.length - HEADER_BYTES) / 8);
  f.set([m.delta, m.scale]);
  let off = 2;
  for (const [a, len] of [
    [X, n * q],
    [y, n],
    [mu, rank],
    [E, n * rank],
  ] as const) {
    if (a.length !== len) throw new RangeError(`CMLM model: an array has ${a.length} values, expected ${len}`);
    f.set(a, off);
    off += len;
  }
  return buf;
}

export function decodeCmlmModel(bytes: Uint8Array): CmlmScanModel {
  const bad = (why: string) =>
    new DistributedError('PROTOCOL', `CMLM model: ${why}`, { hint: 'run the same gwasgrid version on the coordinator and the workers' });
  if (bytes.length < HEADER_BYTES + 16) throw bad(`${bytes.length} bytes is too short`);
  const head = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  if (head.getUint32(0, true) !== MAGIC) throw bad('not an encoded CMLM model (bad magic)');
  const format = head.getUint32(4, true);
  if (format !== CMLM_MODEL_FORMAT) throw bad(`encoding format ${format}, this build reads format ${CMLM_MODEL_FORMAT}`);
  const n = head.getUint32(8, true);
  const q = head.getUint32(12, true);
  const rank = head.getUint32(16, true);
  const g = head.getUint32(20, true);
  if (bytes.length !== cmlmEncodedSize(n, q, rank)) throw bad(`${bytes.length} bytes, expected ${cmlmEncodedSize(n, q, rank)}`);
  const body = (bytes.byteOffset + HEADER_BYTES) % 8 === 0 ? bytes : Uint8Array.from(bytes);
  const f = new Float64Array(body.buffer, body.byteOffset + HEADER_BYTES, (bytes.length - HEADER_BYTES) / 8);
  let off = 2;
  const take = (len: number) => f.slice(off, (off += len));
  const X = take(n * q);
  const y = take(n);
  const mu = take(rank);
  const E = f.subarray(off, off + n * rank);
  return { g, delta: f[0], scale: f[1], design: { n, q, X, y }, basis: { n, rank, E, mu } };
}
