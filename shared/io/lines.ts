/**
 * Text input: whole files or line streams, plain or gzip (detected from the magic bytes, not the name).
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { createGunzip, gunzipSync } from 'node:zlib';
import { createInterface } from 'node:readline';
import { InputError } from '../errors.js';

async function isGzip(path: string): Promise<boolean> {
  const fh = await openOrThrow(path);
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Opens a file for reading or throws an InputError naming it. */
export async function openOrThrow(path: string): Promise<fsp.FileHandle> {
  try {
    return await fsp.open(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      throw new InputError('INPUT_NOT_FOUND', 'file not found', { file: path }, 'check the path and the prefix');
    }
    if (err.code === 'EISDIR') {
      throw new InputError('INPUT_FORMAT', 'is a directory, expected a file', { file: path });
    }
    throw new InputError('INPUT_NOT_FOUND', `cannot open: ${err.message}`, { file: path });
  }
}

/** Reads a whole text file (gzip-aware). Line endings are kept; use {@link splitLines}. */
export async function readText(path: string): Promise<string> {
  const fh = await openOrThrow(path);
  let buf: Buffer;
  try {
    buf = await fh.readFile();
  } finally {
    await fh.close();
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new InputError('INPUT_FORMAT', `gzip data is corrupt: ${(e as Error).message}`, { file: path });
    }
  }
  return buf.toString('utf8');
}

/** Splits text into lines, accepting LF and CRLF, dropping one trailing empty line. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Streams the lines of a (possibly gzipped) text file with 1-based line numbers. CR is stripped. */
export async function* streamLines(path: string): AsyncGenerator<{ line: string; lineNo: number }> {
  const gz = await isGzip(path);
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  const input = gz ? raw.pipe(createGunzip()) : raw;
  const rl = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const line of rl) {
      lineNo++;
      yield { line: line.endsWith('\r') ? line.slice(0, -1) : line, lineNo };
    }
  } catch (e) {
    throw new InputError('INPUT_FORMAT', `read failed after line ${lineNo}: ${(e as Error).message}`, {
      file: path,
      line: lineNo + 1,
    });
  } finally {
    rl.close();
    raw.destroy();
  }
}

/** One line of a byte stream: `bytes` (CR/LF stripped) is valid only until the generator is resumed. */
export interface ByteLine {
  bytes: Buffer;
  lineNo: number;
}

/**
 * Streams the lines of a (possibly gzipped) file as bytes, for readers that scan characters themselves (VCF,
 * HapMap): no string is made for a line, so a line of 10^5 genotypes costs one buffer view. A line that spans
 * read chunks is joined once (pieces are collected, then concatenated), so long lines stay linear-time. A read
 * or decompression failure (a truncated .gz) is an InputError naming the file and the first line not read.
 */
export async function* streamByteLines(path: string): AsyncGenerator<ByteLine> {
  const gz = await isGzip(path);
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  const gunzip = gz ? createGunzip({ chunkSize: 1 << 20 }) : null;
  const input = gunzip ? raw.pipe(gunzip) : raw;
  if (gunzip) raw.on('error', (e) => gunzip.destroy(e));
  let lineNo = 0;
  let pieces: Buffer[] = [];
  const finish = (buf: Buffer, end: number): Buffer => {
    let e = end;
    if (e > 0 && buf[e - 1] === 13) e--;
    return buf.subarray(0, e);
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let start = 0;
      let nl = chunk.indexOf(10, start);
      while (nl >= 0) {
        let line: Buffer;
        if (pieces.length) {
          pieces.push(chunk.subarray(start, nl));
          const joined = Buffer.concat(pieces);
          pieces = [];
          line = finish(joined, joined.length);
        } else {
          line = finish(chunk.subarray(start, nl), nl - start);
        }
        lineNo++;
        yield { bytes: line, lineNo };
        start = nl + 1;
        nl = chunk.indexOf(10, start);
      }
      if (start < chunk.length) pieces.push(chunk.subarray(start));
    }
  } catch (e) {
    throw new InputError(
      'INPUT_FORMAT',
      `read failed after line ${lineNo}: ${(e as Error).message}${gz ? ' (truncated or corrupt gzip?)' : ''}`,
      { file: path, line: lineNo + 1 },
      gz ? 'check the download or re-compress the file (gzip -t FILE tests it)' : undefined,
    );
  } finally {
    raw.destroy();
    gunzip?.destroy();
  }
  if (pieces.length) {
    const joined = Buffer.concat(pieces);
    lineNo++;
    yield { bytes: finish(joined, joined.length), lineNo };
  }
}

/** Splits on runs of spaces, tabs and commas (GEMMA's tokeniser for BIMBAM and text matrices). */
export function tokens(line: string): string[] {
  return line.split(/[\s,]+/).filter((t) => t.length > 0);
}

/** Splits on runs of whitespace only (PLINK text files). */
export function wsTokens(line: string): string[] {
  return line.trim().split(/\s+/).filter((t) => t.length > 0);
}
