/**
 * GEMMA's kinship text format (`.cXX.txt` for --gk 1, `.sXX.txt` for --gk 2): an n × n matrix in genotype
 * sample order, tab-separated, one row per line, numbers with 10 significant digits (C++ stream default
 * notation). Read plain or gzipped; any run of spaces, tabs or commas separates values.
 */
import { InputError } from '../errors.js';
import { AtomicWriter } from '../io/atomic.js';
import { readText } from '../io/lines.js';
import { formatG } from '../results/format.js';

export async function readKinship(path: string, n: number): Promise<Float64Array> {
  const text = await readText(path);
  const K = new Float64Array(n * n);
  let row = 0;
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(pos, end);
    pos = end + 1;
    if (line.trim() === '') continue;
    if (row >= n) {
      throw new InputError(
        'INPUT_MISMATCH',
        `has more than ${n} rows; the genotype data have ${n} samples`,
        { file: path, line: lineNo },
        'use the kinship matrix made from the same genotype files',
      );
    }
    const t = line.split(/[\s,]+/);
    let col = 0;
    for (const tok of t) {
      if (tok === '') continue;
      if (col >= n) {
        throw new InputError('INPUT_MISMATCH', `row has more than ${n} values`, { file: path, line: lineNo }, 'use the kinship matrix made from the same genotype files');
      }
      const v = Number(tok);
      if (!Number.isFinite(v)) {
        throw new InputError('INPUT_FORMAT', `value "${tok}" is not a number`, { file: path, line: lineNo }, 'a kinship file holds n rows of n numbers (GEMMA .cXX.txt/.sXX.txt); regenerate it with gwasgrid kinship');
      }
      K[row * n + col++] = v;
    }
    if (col !== n) {
      throw new InputError(
        'INPUT_MISMATCH',
        `row has ${col} values but the genotype data have ${n} samples`,
        { file: path, line: lineNo },
        'use the kinship matrix made from the same genotype files',
      );
    }
    row++;
  }
  if (row !== n) {
    throw new InputError(
      'INPUT_MISMATCH',
      `has ${row} rows but the genotype data have ${n} samples`,
      { file: path },
      'use the kinship matrix made from the same genotype files',
    );
  }
  return K;
}

export async function writeKinship(path: string, K: Float64Array, n: number): Promise<void> {
  const w = new AtomicWriter(path);
  try {
    for (let i = 0; i < n; i++) {
      const parts = new Array<string>(n);
      for (let j = 0; j < n; j++) parts[j] = formatG(K[i * n + j], 10);
      await w.write(parts.join('\t') + '\n');
    }
    await w.commit();
  } catch (e) {
    await w.abort();
    throw e;
  }
}
