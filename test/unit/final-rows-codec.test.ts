/**
 * The FarmCPU/GLM final-rows encoding (what a worker sends by SubmitShard and the coordinator keeps in
 * PREFIX.shards/final-NNNNN.rows): bit-exact round trip including NaN payloads, ±Infinity, −0 and subnormals;
 * the documented layout; refusal of other formats, sizes, ranges and damaged bytes.
 */
import { createHash } from 'node:crypto';
import {
  decodeFinalRows,
  encodeFinalRows,
  finalRowsSize,
  FINAL_ROWS_FORMAT,
} from '../../shared/protocol/final-rows-codec.js';
import type { FinalRows } from '../../shared/methods/farmcpu/protocol.js';
import { DistributedError } from '../../shared/errors.js';
import { rng } from '../helpers/random.js';

const bits = (a: Float64Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Writes a NaN with a non-default payload (0x7ff8000000000123) as raw bits: the encoding must keep the bits. */
function putPayloadNaN(a: Float64Array, i: number): void {
  new DataView(a.buffer, a.byteOffset).setBigUint64(8 * i, 0x7ff8000000000123n, true);
}

function rows(start: number, count: number, seed: number): FinalRows {
  const rnd = rng(seed);
  const col = () => Float64Array.from({ length: count }, () => rnd() * 2 - 1);
  const r: FinalRows = {
    start,
    effect: col(),
    se: col(),
    p: col(),
    log10p: col(),
    nMiss: Int32Array.from({ length: count }, (_, i) => (i * 7919) % 13),
    af: col(),
    afAll: col(),
    a1Sum: col(),
  };
  const special = [NaN, NaN, Infinity, -Infinity, -0, 5e-324, 1e-300, Number.MAX_VALUE];
  special.forEach((v, k) => {
    if (k < count) {
      r.effect[k] = v;
      r.p[(k * 3) % count] = v;
      r.log10p[count - 1 - k] = v;
    }
  });
  if (count > 1) putPayloadNaN(r.effect, 1);
  return r;
}

describe('final rows codec (FarmCPU/GLM results by gRPC)', () => {
  it('round-trips every column bit for bit, odd and even counts, specials included', () => {
    for (const [start, count] of [
      [0, 1],
      [256, 7],
      [1536, 1536],
      [9000, 101],
    ]) {
      const r = rows(start, count, start + count);
      const enc = encodeFinalRows(r);
      expect(enc.length).toBe(finalRowsSize(count));
      expect(enc.length % 8).toBe(0);
      const d = decodeFinalRows(enc, { start, count });
      expect(d.start).toBe(start);
      for (const k of ['effect', 'se', 'p', 'log10p', 'nMiss', 'af', 'afAll', 'a1Sum'] as const) {
        expect(d[k]).toBeInstanceOf(k === 'nMiss' ? Int32Array : Float64Array);
        expect(bits(d[k]).equals(bits(r[k])), k).toBe(true);
      }
      // Same rows, same bytes (the sha256 in the NATS reply names exactly one value).
      const again = createHash('sha256').update(encodeFinalRows(d)).digest('hex');
      expect(again).toBe(createHash('sha256').update(enc).digest('hex'));
    }
    const r = rows(0, 8, 1);
    const d = decodeFinalRows(encodeFinalRows(r));
    expect(Object.is(d.effect[4], -0)).toBe(true);
    expect(d.effect[5]).toBe(5e-324);
    expect(new DataView(d.effect.buffer).getBigUint64(8, true)).toBe(0x7ff8000000000123n);
  });

  it('has the documented layout: header, seven float64 columns, then nMiss as int32, zero padding', () => {
    const r = rows(42, 3, 2);
    const enc = encodeFinalRows(r);
    const dv = new DataView(enc.buffer, enc.byteOffset, enc.byteLength);
    expect(enc.subarray(0, 4).toString('latin1')).toBe('GGFR');
    expect(dv.getUint32(4, true)).toBe(FINAL_ROWS_FORMAT);
    expect(dv.getUint32(8, true)).toBe(42);
    expect(dv.getUint32(12, true)).toBe(3);
    // Column order effect, se, p, log10p, af, afAll, a1Sum: p is the third, afAll the sixth.
    expect(Object.is(dv.getFloat64(16 + 8 * (2 * 3 + 1), true), r.p[1])).toBe(true);
    expect(dv.getFloat64(16 + 8 * (5 * 3 + 2), true)).toBe(r.afAll[2]);
    expect(dv.getInt32(16 + 56 * 3 + 4 * 2, true)).toBe(r.nMiss[2]);
    expect(enc.length).toBe(16 + 56 * 3 + 12 + 4);
    expect(enc.readUInt32LE(enc.length - 4)).toBe(0);
  });

  it('refuses another magic, format, size or range, and non-zero padding', () => {
    const enc = encodeFinalRows(rows(10, 5, 3));
    const refused = (b: Uint8Array, re: RegExp, expect_?: { start: number; count: number }) => {
      let err: unknown;
      try {
        decodeFinalRows(b, expect_);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DistributedError);
      expect((err as DistributedError).code).toBe('PROTOCOL');
      expect((err as Error).message).toMatch(re);
    };
    const edit = (f: (b: Buffer) => void) => {
      const b = Buffer.from(enc);
      f(b);
      return b;
    };
    refused(enc.subarray(0, 10), /shorter than the header/);
    refused(
      edit((b) => b.write('GGF1', 0, 'latin1')),
      /wrong magic/,
    );
    refused(
      edit((b) => b.writeUInt32LE(FINAL_ROWS_FORMAT + 1, 4)),
      /format 2/,
    );
    refused(
      edit((b) => b.writeUInt32LE(6, 12)),
      /bytes for 6 rows/,
    );
    refused(enc.subarray(0, enc.length - 8), /bytes for 5 rows/);
    refused(Buffer.concat([enc, Buffer.alloc(8)]), /bytes for 5 rows/);
    refused(
      edit((b) => (b[b.length - 1] = 1)),
      /padding/,
    );
    refused(enc, /rows \[10, 15\), expected \[11, 16\)/, { start: 11, count: 5 });
    refused(enc, /bytes for 5 rows|expected \[10, 14\)/, { start: 10, count: 4 });
    expect(() => encodeFinalRows({ ...rows(0, 4, 4), se: new Float64Array(3) })).toThrow(
      /column se has 3 entries/,
    );
  });
});
