/**
 * PREFIX.shards/: atomic shard files with sha256 files, resume rules (verified shards kept, damaged ones
 * discarded), refusal of another job's folder, and a merge that refuses a missing or damaged shard.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShardStore, type StoreManifest } from '../../coordinator/shard-store.js';
import { planShards } from '../../coordinator/scheduler.js';
import { tempDir } from '../helpers/data.js';

const manifest = (jobId = 'a'.repeat(64)): StoreManifest => ({ jobId, method: 'mlm', totalSnps: 6, shardSize: 2, shards: 3, nullModelSha256: 'b'.repeat(64) });
const shards = planShards(6, 2, new Uint8Array(6).fill(1));
const lines = (i: number) => Buffer.from(`snp${2 * i}\n snp${2 * i + 1}\n`);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function filled(prefix: string) {
  const store = new ShardStore(prefix);
  await store.open(manifest());
  for (const s of shards) await store.write(s, lines(s.index), sha(lines(s.index)));
  return store;
}

describe('ShardStore', () => {
  it('writes shard files with sha256sum-style checksums and merges them in index order', async () => {
    const prefix = join(tempDir('store'), 'out');
    const store = await filled(prefix);
    expect(readFileSync(store.sumPath(shards[1]), 'utf8')).toBe(`${sha(lines(1))}  shard-00001.tsv\n`);
    expect(readdirSync(store.dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await store.merge('header\n', shards, `${prefix}.assoc.txt`);
    expect(readFileSync(`${prefix}.assoc.txt`, 'utf8')).toBe('header\n' + shards.map((s) => lines(s.index).toString()).join(''));
  });

  it('resumes verified shards and discards damaged or half-written ones', async () => {
    const prefix = join(tempDir('store'), 'out');
    const first = await filled(prefix);
    writeFileSync(first.tsvPath(shards[0]), 'damaged\n');
    await import('node:fs/promises').then((f) => f.rm(first.sumPath(shards[2])));
    writeFileSync(join(first.dir, '.shard-00001.tsv.tmp-12345'), 'partial');
    const again = new ShardStore(prefix);
    expect((await again.open(manifest())).existed).toBe(true);
    const r = await again.resume(shards);
    expect(r.done.map((s) => s.name)).toEqual(['shard-00001']);
    expect(r.discarded).toEqual(['shard-00000', 'shard-00002']);
    expect(existsSync(again.tsvPath(shards[0]))).toBe(false);
    expect(existsSync(join(first.dir, '.shard-00001.tsv.tmp-12345'))).toBe(false);
  });

  it('refuses a folder that belongs to another job', async () => {
    const prefix = join(tempDir('store'), 'out');
    await filled(prefix);
    await expect(new ShardStore(prefix).open(manifest('c'.repeat(64)))).rejects.toThrow(/holds shards of another job/);
  });

  it('the merge refuses a missing or damaged shard and leaves no output', async () => {
    const prefix = join(tempDir('store'), 'out');
    const store = await filled(prefix);
    await import('node:fs/promises').then((f) => f.rm(store.tsvPath(shards[1])));
    await expect(store.merge('h\n', shards, `${prefix}.assoc.txt`)).rejects.toThrow(/merge refused: shard-00001 is missing/);
    expect(existsSync(`${prefix}.assoc.txt`)).toBe(false);
    await store.write(shards[1], lines(1), sha(lines(1)));
    writeFileSync(store.tsvPath(shards[2]), 'x\n');
    await expect(store.merge('h\n', shards, `${prefix}.assoc.txt`)).rejects.toThrow(/shard-00002 does not match its checksum/);
    expect(readdirSync(store.dir.replace(/out\.shards$/, ''))).not.toContain('out.assoc.txt');
  });
});
