/**
 * The final per-SNP rows of one FarmCPU/GLM partition (`FinalRows`, shared/methods/farmcpu/protocol.ts) as one
 * exact binary value: what a worker sends to the coordinator with SubmitShard on the final round, and what the
 * coordinator keeps in `PREFIX.shards/final-NNNNN.rows` (docs/nats-protocol.md, "Final round").
 *
 * Encoding (format version {@link FINAL_ROWS_FORMAT}), little-endian, every float64 as its exact bits (NaN,
 * ±Infinity, −0 and subnormals survive unchanged):
 * ```
 * offset  0  "GGFR"                  magic
 *         4  u32 format version      FINAL_ROWS_FORMAT
 *         8  u32 start               analysis SNP index of row 0
 *        12  u32 count               rows (SNPs of the partition)
 *        16  f64[count] × 7          effect, se, p, log10p, af, afAll, a1Sum
 *  16+56·count  i32[count]           nMiss
 *            zero padding to a multiple of 8 bytes
 * ```
 * Any change of layout bumps FINAL_ROWS_FORMAT; the decoder refuses other formats, a wrong size and a start or
 * count other than the partition's (DistributedError PROTOCOL). Encoding and decoding are O(count) copies.
 */
import { endianness } from 'node:os';
import type { FinalRows } from '../methods/farmcpu/protocol.js';
import { DistributedError } from '../errors.js';

export const FINAL_ROWS_FORMAT = 1;
const MAGIC = 0x52464747; // "GGFR" read as a little-endian u32
const HEADER_BYTES = 16;
const F64_COLUMNS = ['effect', 'se', 'p', 'log10p', 'af', 'afAll', 'a1Sum'] as const;

const pad8 = (x: number) => (x + 7) & ~7;

/** Bytes of the encoding of `count` rows. */
export function finalRowsSize(count: number): number {
  return pad8(HEADER_BYTES + 8 * F64_COLUMNS.length * count + 4 * count);
}

function checkHost(): void {
  if (endianness() !== 'LE')
    throw new DistributedError('PROTOCOL', 'the final-rows encoding needs a little-endian host');
}

/** Encodes the rows (one allocation of {@link finalRowsSize} bytes, zero padding included). */
export function encodeFinalRows(rows: FinalRows): Buffer {
  checkHost();
  const count = rows.p.length;
  for (const k of [...F64_COLUMNS, 'nMiss'] as const)
    if (rows[k].length !== count)
      throw new RangeError(`final rows: column ${k} has ${rows[k].length} entries, p has ${count}`);
  const buf = Buffer.alloc(finalRowsSize(count));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, FINAL_ROWS_FORMAT, true);
  dv.setUint32(8, rows.start, true);
  dv.setUint32(12, count, true);
  let off = HEADER_BYTES;
  const put = (a: Float64Array | Int32Array) => {
    buf.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), off);
    off += a.byteLength;
  };
  for (const k of F64_COLUMNS) put(rows[k]);
  put(rows.nMiss);
  return buf;
}

/**
 * Decodes {@link encodeFinalRows}'s output into fresh, aligned arrays. `expect` (the partition's range) is
 * checked when given: rows of another range are refused, like a wrong magic, format or size.
 */
export function decodeFinalRows(bytes: Uint8Array, expect?: { start: number; count: number }): FinalRows {
  checkHost();
  const bad = (why: string) =>
    new DistributedError('PROTOCOL', `final rows: ${why}`, {
      hint: 'run the same gwasgrid version everywhere',
    });
  if (bytes.length < HEADER_BYTES) throw bad(`${bytes.length} bytes, shorter than the header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw bad('wrong magic (not a final-rows value)');
  const format = dv.getUint32(4, true);
  if (format !== FINAL_ROWS_FORMAT)
    throw bad(`format ${format}, this gwasgrid reads format ${FINAL_ROWS_FORMAT}`);
  const start = dv.getUint32(8, true);
  const count = dv.getUint32(12, true);
  if (bytes.length !== finalRowsSize(count))
    throw bad(`${bytes.length} bytes for ${count} rows (expected ${finalRowsSize(count)})`);
  if (expect && (start !== expect.start || count !== expect.count))
    throw bad(
      `rows [${start}, ${start + count}), expected [${expect.start}, ${expect.start + expect.count})`,
    );
  let off = HEADER_BYTES;
  const take = <T extends Float64Array | Int32Array>(Ctor: {
    new (n: number): T;
    BYTES_PER_ELEMENT: number;
  }): T => {
    const a = new Ctor(count);
    const len = count * Ctor.BYTES_PER_ELEMENT;
    new Uint8Array(a.buffer).set(bytes.subarray(off, off + len));
    off += len;
    return a;
  };
  const effect = take(Float64Array);
  const se = take(Float64Array);
  const p = take(Float64Array);
  const log10p = take(Float64Array);
  const af = take(Float64Array);
  const afAll = take(Float64Array);
  const a1Sum = take(Float64Array);
  const nMiss = take(Int32Array);
  for (let i = off; i < bytes.length; i++) if (bytes[i] !== 0) throw bad('non-zero padding');
  return { start, effect, se, p, log10p, nMiss, af, afAll, a1Sum };
}
