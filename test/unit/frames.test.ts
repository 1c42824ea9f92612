import { encodeFrame, decodeFrame } from '../../shared/protocol/frames.js';
import { DistributedError } from '../../shared/errors.js';

describe('binary frames (NATS messages with numeric arrays)', () => {
  it('round-trips JSON with typed arrays bit for bit (NaN, -0, odd lengths)', () => {
    const v = {
      round: 3,
      name: 'p-0007',
      genotypes: [new Float64Array([1.5, NaN, 2, -0]), new Float64Array(0), new Float64Array([1e-300])],
      idx: new Int32Array([3, -4, 5]),
      nested: { mask: new Uint8Array([1, 2, 3]), list: [1, 'a', null] },
      special: [NaN, Infinity, -Infinity, 0.5],
      minP: Infinity,
    };
    const bytes = encodeFrame(v);
    expect(bytes.length % 8).toBe(0);
    const d = decodeFrame<typeof v>(bytes);
    expect(d.round).toBe(3);
    expect(d.genotypes[0]).toBeInstanceOf(Float64Array);
    expect(Array.from(d.genotypes[0])).toEqual([1.5, NaN, 2, -0]);
    expect(Object.is(d.genotypes[0][3], -0)).toBe(true);
    expect(d.genotypes[1].length).toBe(0);
    expect(d.genotypes[2][0]).toBe(1e-300);
    expect(Array.from(d.idx)).toEqual([3, -4, 5]);
    expect(Array.from(d.nested.mask)).toEqual([1, 2, 3]);
    expect(d.nested.list).toEqual([1, 'a', null]);
    expect(d.special).toEqual([NaN, Infinity, -Infinity, 0.5]);
    expect(d.minP).toBe(Infinity);
    expect(Array.from(decodeFrame<Float64Array>(encodeFrame(new Float64Array([7, 8]))))).toEqual([7, 8]);
  });

  it('refuses damaged frames with a protocol error', () => {
    const bytes = encodeFrame({ x: new Float64Array(4) });
    expect(() => decodeFrame(bytes.subarray(0, bytes.length - 8))).toThrow(DistributedError);
    const wrong = bytes.slice();
    wrong[0] ^= 1;
    expect(() => decodeFrame(wrong)).toThrow(/wrong magic/);
  });
});
