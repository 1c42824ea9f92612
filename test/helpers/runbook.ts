/**
 * The runbooks' commands are the tests' commands: a fenced ```sh block in docs/*.md preceded by a line
 * `<!-- test: NAME -->` (the block may be indented, e.g. in a list) is read here and run by the test unchanged (with its documented variables set).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './data.js';

/** The shell block tagged `<!-- test: name -->` in `docs/<file>`. */
export function runbookBlock(file: string, name: string): string {
  const path = join(REPO, 'docs', file);
  const text = readFileSync(path, 'utf8');
  const tag = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`<!-- test: ${tag} -->[ \\t]*\\n([ \\t]*)\`\`\`(?:sh|bash)\\n([\\s\\S]*?)\\n\\1\`\`\``, 'g');
  const hits = [...text.matchAll(re)];
  if (hits.length !== 1) throw new Error(`${path}: expected one shell block tagged "<!-- test: ${name} -->", found ${hits.length}`);
  const indent = hits[0][1];
  return hits[0][2]
    .split('\n')
    .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
    .join('\n');
}
