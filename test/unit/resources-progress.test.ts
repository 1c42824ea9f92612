/**
 * Memory estimates (`estimateMemory`, `--max-memory`) and progress output (TTY bar, JSON lines).
 */
import { describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { estimateMemory, parseSize, formatBytes } from '../../shared/resources.js';
import { createLogger, progressBar, formatDuration } from '../../shared/log.js';
import { REPO, tempDir } from '../helpers/data.js';

describe('memory estimate', () => {
  it('counts n²·8 for K and U and the rotation blocks', () => {
    const e = estimateMemory(2000, 50_000, { nAnalysed: 1950, threads: 2, blockSize: 128 });
    const part = (w: string) => e.parts.find((p) => p.what === w)!.bytes;
    expect(part('kinship matrix K')).toBe(2000 * 2000 * 8);
    expect(part('eigenvectors U')).toBe(1950 * 1950 * 8);
    expect(part('rotation blocks')).toBe(2 * 3 * 128 * 1950 * 8);
    // The solver's workspace: 2 · n_a² doubles, the wasm solver's rotation log (n_a²/2 doubles, capped at 32 MiB)
    // and its 4 MiB.
    expect(part('eigensolver workspace')).toBe(2 * 1950 * 1950 * 8 + 1950 * 1950 * 4 + 4 * 2 ** 20);
    expect(estimateMemory(4000, 1, {}).parts.find((p) => p.what === 'eigensolver workspace')!.bytes).toBe(
      2 * 4000 * 4000 * 8 + 32 * 2 ** 20 + 4 * 2 ** 20,
    );
    // Peak: resident K + per-SNP + runtime, plus the largest stage (the eigendecomposition here).
    expect(e.peak).toBe(
      part('kinship matrix K') + part('SNP metadata and QC arrays') + part('runtime') + 2 * 1950 * 1950 * 8 + part('eigensolver workspace'),
    );
    expect(estimateMemory(2000, 1, { kinships: 3 }).parts[0].bytes).toBe(3 * 2000 * 2000 * 8);
  });

  it('parses sizes', () => {
    expect(parseSize('4G')).toBe(4 * 1024 ** 3);
    expect(parseSize('500M')).toBe(500 * 1024 ** 2);
    expect(parseSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('2048')).toBe(2048);
    expect(() => parseSize('lots')).toThrow(/is not a size/);
    expect(formatBytes(1536 * 1024 ** 2)).toBe('1.5 GiB');
  });

  it('--max-memory below the estimate: exit 5 with the figures, nothing written', () => {
    const dir = tempDir('maxmem');
    const fx = join(REPO, 'test', 'fixtures', 'malformed', 'base');
    const r = spawnSync('node', [join(REPO, 'dist/bin/gwasgrid.js'), 'mlm', '--bfile', join(fx, 'b'), '--max-memory', '10M', '--out', join(dir, 'o')], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/needs about \d+(\.\d)? MiB but --max-memory is 10\.0 MiB\n {2}fix: /);
    expect(r.stderr).toMatch(/memory estimate for MLM on 12 of 12 samples × 8 SNPs: peak ≈/);
    expect(existsSync(join(dir, 'o.assoc.txt'))).toBe(false);
  });
});

describe('progress', () => {
  it('bar text with k/N, percent and ETA', () => {
    expect(progressBar('scan', 50, 200, 10, 10)).toBe('scan [###-------] 50/200 25% 5/s ETA 30s');
    expect(progressBar('scan', 200, 200, 65, 10)).toBe('scan [##########] 200/200 100% done in 1m05s');
    expect(formatDuration(7260)).toBe('2h01m');
  });

  it('on a TTY the bar is redrawn in place and log lines clear it; JSON mode gives rate and ETA', () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      writes.push(String(s));
      return true;
    });
    try {
      const tty = createLogger({ json: false, tty: true });
      tty.progress('QC', 0, 100);
      tty.info('hello');
      tty.progress('QC', 100, 100);
      const text = writes.join('');
      expect(text).toMatch(/QC \[-+\] 0\/100 0%/);
      expect(text).toContain('\r\x1b[K');
      expect(text).toMatch(/hello\n.*QC \[-+\] 0\/100/s);
      expect(text).toMatch(/QC \[#+\] 100\/100 100% done in \d+s\n$/);
      writes.length = 0;
      const json = createLogger({ json: true });
      json.progress('scan', 10, 10);
      const line = JSON.parse(writes[0]) as Record<string, unknown>;
      expect(line).toMatchObject({ level: 'progress', stage: 'scan', done: 10, total: 10 });
      expect(line).toHaveProperty('etaSeconds');
      expect(line).toHaveProperty('rate');
    } finally {
      spy.mockRestore();
    }
  });
});
