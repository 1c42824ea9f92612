/**
 * The null model as one content-hashed binary value: what the coordinator broadcasts and workers cache by hash.
 *
 * Canonical encoding (format version {@link NULL_MODEL_FORMAT}), little-endian, every float64 as its exact bits:
 * ```
 * offset  0  "GGNM"                      magic
 *         4  u32 format version          NULL_MODEL_FORMAT
 *         8  u32 model version           NullModel.version (NULL_MODEL_VERSION of shared/lmm/null.ts)
 *        12  u32 n, u32 c                analysed samples, covariate columns
 *        20  u32 0                       padding, so that the float64 data start 8-byte aligned
 *        24  f64 × 12                    traceG, lRemle, loglRemle, lMle, loglMle, vg, ve, pve, pveSe,
 *                                        lambdaOptions.lMin, lambdaOptions.lMax, lambdaOptions.nRegion
 *       120  f64[n] eigenvalues, f64[n] Uᵀy, f64[c·n] Uᵀw_1 … Uᵀw_c, f64[c] β, f64[c] se(β),
 *            f64[n·n] U (row-major; last, so that everything a scan thread needs comes first)
 * ```
 * The hash is the lowercase hex sha256 of these bytes. Any change of layout bumps NULL_MODEL_FORMAT; a
 * decoder refuses other formats and model versions (DistributedError PROTOCOL).
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { NULL_MODEL_VERSION, type NullModel } from '../lmm/null.js';
import { DistributedError } from '../errors.js';

export const NULL_MODEL_FORMAT = 1;
const MAGIC = 0x4d4e4747; // "GGNM" read as little-endian u32
const HEADER_BYTES = 24;
const SCALARS = 12;

function checkHost(): void {
  if (endianness() !== 'LE')
    throw new DistributedError('PROTOCOL', 'the null-model encoding needs a little-endian host');
}

/** Bytes of the encoding of a model with n samples and c covariates. */
export function encodedSize(n: number, c: number): number {
  return HEADER_BYTES + 8 * (SCALARS + 2 * n + c * n + 2 * c + n * n);
}

/** Encodes the model (one allocation of {@link encodedSize} bytes). */
export function encodeNullModel(m: NullModel): Buffer {
  checkHost();
  const { n, c } = m;
  const buf = Buffer.alloc(encodedSize(n, c));
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, HEADER_BYTES / 4);
  u32.set([MAGIC, NULL_MODEL_FORMAT, m.version, n, c, 0]);
  const f = new Float64Array(buf.buffer, buf.byteOffset + HEADER_BYTES, (buf.length - HEADER_BYTES) / 8);
  const lo = m.lambdaOptions;
  f.set([
    m.traceG,
    m.lRemle,
    m.loglRemle,
    m.lMle,
    m.loglMle,
    m.vg,
    m.ve,
    m.pve,
    m.pveSe,
    lo.lMin,
    lo.lMax,
    lo.nRegion,
  ]);
  let off = SCALARS;
  const put = (a: Float64Array, len: number, what: string) => {
    if (a.length !== len) throw new RangeError(`null model: ${what} has ${a.length} values, expected ${len}`);
    f.set(a, off);
    off += len;
  };
  put(m.eigenvalues, n, 'eigenvalues');
  put(m.Uty, n, 'Uty');
  if (m.UtW.length !== c)
    throw new RangeError(`null model: ${m.UtW.length} rotated covariates, expected ${c}`);
  m.UtW.forEach((w, j) => put(w, n, `UtW[${j}]`));
  put(m.beta, c, 'beta');
  put(m.betaSe, c, 'betaSe');
  put(m.U, n * n, 'U');
  return buf;
}

/** sha256 (hex) of an encoded model. */
export function hashEncoded(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Decodes an encoding made by {@link encodeNullModel}. U is a view on `bytes` when it is 8-byte aligned (no
 * copy of the n² part); the small arrays are copied, so that they can be sent to scan threads on their own.
 */
export function decodeNullModel(bytes: Uint8Array): NullModel {
  checkHost();
  const bad = (why: string) =>
    new DistributedError('PROTOCOL', `null model: ${why}`, {
      hint: 'run the same gwasgrid version on the coordinator and the workers',
    });
  if (bytes.length < HEADER_BYTES + 8 * SCALARS) throw bad(`${bytes.length} bytes is too short`);
  const head = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  if (head.getUint32(0, true) !== MAGIC) throw bad('not an encoded null model (bad magic)');
  const format = head.getUint32(4, true);
  const version = head.getUint32(8, true);
  if (format !== NULL_MODEL_FORMAT)
    throw bad(`encoding format ${format}, this build reads format ${NULL_MODEL_FORMAT}`);
  if (version !== NULL_MODEL_VERSION)
    throw bad(`model version ${version}, this build uses version ${NULL_MODEL_VERSION}`);
  const n = head.getUint32(12, true);
  const c = head.getUint32(16, true);
  if (bytes.length !== encodedSize(n, c))
    throw bad(`${bytes.length} bytes, expected ${encodedSize(n, c)} for n = ${n}, c = ${c}`);
  const aligned = (bytes.byteOffset + HEADER_BYTES) % 8 === 0;
  const body = aligned ? bytes : Uint8Array.from(bytes);
  const f = new Float64Array(body.buffer, body.byteOffset + HEADER_BYTES, (bytes.length - HEADER_BYTES) / 8);
  let off = SCALARS;
  const take = (len: number) => f.slice(off, (off += len));
  const eigenvalues = take(n);
  const Uty = take(n);
  const UtW = Array.from({ length: c }, () => take(n));
  const beta = take(c);
  const betaSe = take(c);
  const U = f.subarray(off, off + n * n);
  return {
    version: NULL_MODEL_VERSION,
    n,
    c,
    eigenvalues,
    U,
    UtW,
    Uty,
    traceG: f[0],
    lRemle: f[1],
    loglRemle: f[2],
    lMle: f[3],
    loglMle: f[4],
    vg: f[5],
    ve: f[6],
    pve: f[7],
    pveSe: f[8],
    beta,
    betaSe,
    lambdaOptions: { lMin: f[9], lMax: f[10], nRegion: f[11] },
  };
}
