/**
 * The runbooks' commands are the tests' commands: a fenced ```sh block in docs/*.md preceded by a line
 * `<!-- test: NAME -->` is read here and run by the test unchanged (with its documented variables set).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './data.js';

/** The shell block tagged `<!-- test: name -->` in `docs/<file>`. */
export function runbookBlock(file: string, name: string): string {
  const path = join(REPO, 'docs', file);
  const text = readFileSync(path, 'utf8');
  const re = new RegExp(`<!-- test: ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} -->\\s*\\n\`\`\`(?:sh|bash)\\n([\\s\\S]*?)\\n\`\`\``, 'g');
  const hits = [...text.matchAll(re)];
  if (hits.length !== 1) throw new Error(`${path}: expected one shell block tagged "<!-- test: ${name} -->", found ${hits.length}`);
  return hits[0][1];
}
