/**
 * The generated protocol code in proto/gen must be what `npm run proto` produces from proto/**.proto today:
 * regenerate into a temporary folder and compare file by file (the line naming the protoc version is ignored,
 * so another protoc release does not count as stale). Needs `protoc` (CI installs protobuf-compiler).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO, tempDir } from '../helpers/data.js';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

const normalise = (text: string) => text.replace(/^\/\/ {3}protoc {2,}v.*$/m, '//   protoc (version ignored)');

describe('proto/gen', () => {
  it('is up to date with proto/**.proto (run `npm run proto` if this fails)', () => {
    const out = tempDir('proto');
    const r = spawnSync('node', [join(REPO, 'proto', 'generate.mjs'), out], { encoding: 'utf8' });
    expect(r.status, `npm run proto failed (is protoc installed? apt-get install -y protobuf-compiler):\n${r.stderr}`).toBe(0);
    const committed = join(REPO, 'proto', 'gen');
    const want = files(out).map((f) => relative(out, f));
    expect(files(committed).map((f) => relative(committed, f))).toEqual(want);
    for (const f of want) {
      const fresh = normalise(readFileSync(join(out, f), 'utf8'));
      expect(normalise(readFileSync(join(committed, f), 'utf8')), `proto/gen/${f} is stale: run npm run proto`).toBe(fresh);
    }
  });
});
