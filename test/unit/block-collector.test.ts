/** The block buffer every reader shares: range clipping, mask, full blocks and the remainder, kept samples. */
import { BlockCollector } from '../../shared/genotype/blocks.js';

/** Runs a reader-shaped loop (row s filled with s·10 + column) and returns what it yields. */
function collect(opts: ConstructorParameters<typeof BlockCollector>[0], nSnps: number, nSamples: number) {
  const b = new BlockCollector(opts, nSnps, nSamples);
  const out: Array<{ indices: number[]; data: number[] }> = [];
  const take = (blk: ReturnType<BlockCollector['flush']>) => {
    if (blk) out.push({ indices: [...blk.indices], data: [...blk.data] });
  };
  for (let s = b.start; s < b.end; s++) {
    if (!b.wants(s)) continue;
    const row = b.row();
    for (let j = 0; j < b.n; j++) row[j] = s * 10 + (b.keep ? b.keep[j] : j);
    take(b.add(s));
  }
  take(b.flush());
  return out;
}

describe('BlockCollector', () => {
  it('yields full blocks and the remainder, in SNP order', () => {
    const got = collect({ blockSize: 2 }, 5, 2);
    expect(got.map((g) => g.indices)).toEqual([[0, 1], [2, 3], [4]]);
    expect(got[1].data).toEqual([20, 21, 30, 31]);
  });
  it('clips the range to the file and applies the mask and the kept samples', () => {
    const mask = Uint8Array.from([1, 0, 1, 1, 0, 1]);
    const got = collect({ blockSize: 3, start: 1, end: 99, snpMask: mask, keep: Int32Array.from([0, 2]) }, 6, 3);
    expect(got.map((g) => g.indices)).toEqual([[2, 3, 5]]);
    expect(got[0].data).toEqual([20, 22, 30, 32, 50, 52]);
  });
  it('yields nothing for an empty range and treats block size < 1 as 1', () => {
    expect(collect({ blockSize: 4, start: 3, end: 3 }, 5, 1)).toEqual([]);
    expect(collect({ blockSize: 0 }, 2, 1).map((g) => g.indices)).toEqual([[0], [1]]);
  });
});
