/**
 * HapMap genotype files as TASSEL and GAPIT write them, read once into a {@link DosageStore}.
 *
 * Layout: a tab-separated header of 11 columns (`rs# alleles chrom pos strand assembly# center protLSID
 * assayLSID panelLSID QCcode`) then one column per taxon (sample; FID = IID = taxon name, duplicates refused),
 * then one line per SNP with one call per taxon. CRLF line endings and gzip are accepted.
 *
 * The coding is exactly that of `shared/data/tools/hapmap_to_plink.py` (documented in
 * shared/data/maize_mdp/README.md), so the maize HapMap read here gives the dosages of maize_mdp.bed:
 * - calls (case-insensitive, surrounding spaces ignored): two letters of ACGT (`AA` homozygous, `AG`
 *   heterozygous, order irrelevant), one letter (`A` homozygous; IUPAC R=AG, Y=CT, S=CG, W=AT, K=GT, M=AC
 *   heterozygous) or `A/G`; missing: `N`, `NN`, `-`, `--`, `0`, `00`, `?`, `??`, `.`, `NA` and the empty call;
 *   calls with one missing half (`AN`) or an indel code (`+`, `+-`) are missing too (and counted). Any other
 *   character is an error naming the line and taxon (the python converter silently makes those missing);
 * - the SNP's allele pair is the two alleles most often observed (ties: order in the `alleles` column, then
 *   alphabetical); the `alleles` column only breaks ties. A call carrying a third allele is set to missing;
 * - the counted allele (allele1, PLINK A1) is the **minor** allele of the pair among non-missing calls (ties:
 *   the allele ranked first above); for a monomorphic SNP it is the unobserved allele of the pair (the other
 *   allele of the `alleles` column, or `0` when there is none).
 * Cost: one pass, O(n) per SNP, no allocation per call; memory n·m/4 bytes.
 */
import { InputError } from '../errors.js';
import { streamByteLines } from '../io/lines.js';
import { DosageStore, StoredGenotypes } from './store.js';
import type { SampleId, SnpMeta } from './types.js';

const TAB = 9;
const LEADING = 11;
/** Allele codes: A C G T, and "0" (no allele) for the tie rules. */
const LETTERS = ['A', 'C', 'G', 'T', '0'];
const MISS = 255;
const INDEL = 254;
const UNKNOWN = 253;

/** Code of one allele character (upper-cased): 0..3 for ACGT, MISS for a missing code, INDEL, or UNKNOWN. */
const CHAR_CODE = (() => {
  const t = new Uint8Array(256).fill(UNKNOWN);
  'ACGT'.split('').forEach((c, i) => {
    t[c.charCodeAt(0)] = i;
    t[c.toLowerCase().charCodeAt(0)] = i;
  });
  for (const c of 'Nn-0?.') t[c.charCodeAt(0)] = MISS;
  t['+'.charCodeAt(0)] = INDEL;
  return t;
})();

/** One-letter calls: the two alleles (or MISS/UNKNOWN) as first*8+second, IUPAC heterozygotes included. */
const ONE_LETTER = (() => {
  const t = new Int16Array(256).fill(-1);
  const set = (c: string, a: string, b: string) => {
    const v = LETTERS.indexOf(a) * 8 + LETTERS.indexOf(b);
    t[c.charCodeAt(0)] = v;
    t[c.toLowerCase().charCodeAt(0)] = v;
  };
  for (const c of 'ACGT') set(c, c, c);
  set('R', 'A', 'G');
  set('Y', 'C', 'T');
  set('S', 'C', 'G');
  set('W', 'A', 'T');
  set('K', 'G', 'T');
  set('M', 'A', 'C');
  return t;
})();

export class HapmapFile extends StoredGenotypes {
  readonly format = 'hapmap' as const;

  /** Reads and decodes the whole file (see the module comment for the rules). */
  static async open(path: string): Promise<HapmapFile> {
    let parser: HapmapParser | null = null;
    let lastLine = 0;
    for await (const { bytes, lineNo } of streamByteLines(path)) {
      lastLine = lineNo;
      if (parser === null) {
        if (bytes.length === 0) continue;
        parser = new HapmapParser(path, parseHeader(path, bytes.toString('utf8'), lineNo));
        continue;
      }
      if (isBlank(bytes)) continue;
      parser.line(bytes, lineNo);
    }
    if (parser === null) {
      throw new InputError('NO_DATA', 'file is empty', { file: path, line: 1 }, 'a HapMap file needs a header line (rs# alleles chrom pos … then the taxa) and one line per SNP');
    }
    if (parser.snps.length === 0) {
      throw new InputError('NO_DATA', 'no SNP lines after the header', { file: path, line: lastLine + 1 });
    }
    const h = new HapmapFile(path, parser.ids, parser.snps, parser.store);
    if (parser.outsidePair > 0) h.notes.push(`${path}: ${parser.outsidePair} calls with a third allele set to missing`);
    if (parser.partial > 0) h.notes.push(`${path}: ${parser.partial} half-missing or indel calls (AN, +, +-) set to missing`);
    h.notes.push(`${path}: ${parser.ids.length} taxa × ${parser.snps.length} SNPs, ${parser.missing} missing calls`);
    return h;
  }
}

function isBlank(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 32 && b[i] !== TAB) return false;
  return true;
}

function parseHeader(file: string, line: string, lineNo: number): SampleId[] {
  const cols = line.split('\t').map((c) => c.trim());
  if (cols.length <= LEADING) {
    throw new InputError(
      'INPUT_FORMAT',
      cols.length === 1 && /\s/.test(line)
        ? 'header is not tab-separated'
        : `header has ${cols.length} columns; a HapMap file has ${LEADING} leading columns (rs# alleles chrom pos strand assembly# center protLSID assayLSID panelLSID QCcode) and then one per taxon`,
      { file, line: lineNo },
      'HapMap files are tab-separated, with the taxa named in the header after the 11 leading columns',
    );
  }
  const seen = new Map<string, number>();
  const ids: SampleId[] = [];
  for (let c = LEADING; c < cols.length; c++) {
    const name = cols[c];
    if (name === '') {
      throw new InputError('INPUT_FORMAT', `taxon column ${c + 1} has an empty name`, { file, line: lineNo }, 'remove trailing tabs from the header line');
    }
    const prev = seen.get(name);
    if (prev !== undefined) {
      throw new InputError(
        'INPUT_FORMAT',
        `duplicate taxon name "${name}" (columns ${prev + 1} and ${c + 1})`,
        { file, line: lineNo, sample: name },
        'taxon names must be unique; rename or remove one column',
      );
    }
    seen.set(name, c);
    ids.push({ fid: name, iid: name });
  }
  return ids;
}

class HapmapParser {
  readonly snps: SnpMeta[] = [];
  readonly store: DosageStore;
  outsidePair = 0;
  partial = 0;
  missing = 0;
  private readonly n: number;
  /** Per taxon: the call's two allele codes (0..3), or MISS. */
  private readonly first: Uint8Array;
  private readonly second: Uint8Array;
  private readonly row: Float64Array;
  private readonly starts = new Int32Array(LEADING + 1);

  constructor(
    private readonly file: string,
    readonly ids: SampleId[],
  ) {
    this.n = ids.length;
    this.store = new DosageStore(this.n);
    this.first = new Uint8Array(this.n);
    this.second = new Uint8Array(this.n);
    this.row = new Float64Array(this.n);
  }

  line(b: Buffer, lineNo: number): void {
    const n = this.n;
    const end = b.length;
    const expected = LEADING + n;
    // Leading columns.
    const starts = this.starts;
    let p = 0;
    for (let c = 0; c < LEADING; c++) {
      starts[c] = p;
      const t = b.indexOf(TAB, p);
      if (t < 0) throw this.columnError(lineNo, c + 1, expected);
      p = t + 1;
    }
    starts[LEADING] = p;
    const col = (c: number) => b.toString('utf8', starts[c], starts[c + 1] - 1).trim();
    const rs = col(0);
    const allelesText = col(1);
    const chr = col(2);
    const posText = col(3);
    const pos = Number(posText);
    if (!/^-?\d+$/.test(posText) || !Number.isSafeInteger(pos)) {
      throw new InputError('INPUT_FORMAT', `position "${posText}" (column 4) is not a whole number`, { file: this.file, line: lineNo, snp: rs }, 'column 4 (pos) must be the base-pair position');
    }
    // Calls.
    const F = this.first;
    const S = this.second;
    const cnt = [0, 0, 0, 0];
    let i = 0;
    while (true) {
      if (i >= n) throw this.columnError(lineNo, expected + 1 + countTabs(b, p, end), expected);
      // Fast path: a two-letter call of ACGT ("AG") followed by a tab or the end of the line.
      if (p + 2 <= end && (p + 2 === end || b[p + 2] === TAB)) {
        const k1 = CHAR_CODE[b[p]];
        const k2 = CHAR_CODE[b[p + 1]];
        if (k1 < 4 && k2 < 4) {
          F[i] = k1;
          S[i] = k2;
          cnt[k1]++;
          cnt[k2]++;
          i++;
          if (p + 2 === end) break;
          p += 3;
          continue;
        }
      }
      let e = p;
      while (e < end && b[e] !== TAB) e++;
      // Trim spaces.
      let a = p;
      let z = e;
      while (a < z && b[a] === 32) a++;
      while (z > a && b[z - 1] === 32) z--;
      this.call(b, a, z, i, lineNo, rs);
      if (F[i] !== MISS) {
        cnt[F[i]]++;
        cnt[S[i]]++;
      }
      i++;
      if (e >= end) break;
      p = e + 1;
    }
    if (i !== n) throw this.columnError(lineNo, LEADING + i, expected);
    // Allele pair: the two most observed; ties by the alleles column, then alphabetically.
    const listed: number[] = [];
    for (const t of allelesText.toUpperCase().split('/')) {
      const k = LETTERS.indexOf(t);
      if (k >= 0 && k < 4) listed.push(k);
    }
    const listIdx = (al: number) => {
      const j = listed.indexOf(al);
      return j < 0 ? 9 : j;
    };
    const count = (al: number) => (al < 4 ? cnt[al] : 0);
    // Python's order(al) = (-count, index in alleles column or 9, letter); compares as a tuple.
    const cmp = (x: number, y: number) => count(y) - count(x) || listIdx(x) - listIdx(y) || (LETTERS[x] < LETTERS[y] ? -1 : LETTERS[x] > LETTERS[y] ? 1 : 0);
    const obs = [0, 1, 2, 3].filter((al) => cnt[al] > 0).sort(cmp);
    let x: number;
    let y: number;
    if (obs.length >= 2) [x, y] = obs;
    else if (obs.length === 1) {
      x = obs[0];
      const others = listed.filter((al) => al !== x);
      y = others.length ? others[0] : 4;
    } else {
      const two = [...listed, 4, 4];
      [x, y] = two;
    }
    // Count of x per taxon; a call outside the pair is missing.
    const row = this.row;
    let cx = 0;
    let ok = 0;
    for (let s = 0; s < n; s++) {
      const f = F[s];
      if (f === MISS) {
        row[s] = NaN;
        this.missing++;
        continue;
      }
      const g = S[s];
      if ((f !== x && f !== y) || (g !== x && g !== y)) {
        row[s] = NaN;
        this.outsidePair++;
        continue;
      }
      const d = (f === x ? 1 : 0) + (g === x ? 1 : 0);
      row[s] = d;
      cx += d;
      ok++;
    }
    const cy = 2 * ok - cx;
    let a1 = x;
    let a0 = y;
    if (!(cx < cy || (cx === cy && cmp(x, y) <= 0))) {
      a1 = y;
      a0 = x;
      for (let s = 0; s < n; s++) row[s] = 2 - row[s];
    }
    this.store.append(row, 0, true);
    this.snps.push({ chr, rs, pos, cm: -9, a1: LETTERS[a1], a0: LETTERS[a0] });
  }

  private columnError(lineNo: number, found: number, expected: number): InputError {
    return new InputError(
      'INPUT_FORMAT',
      `has ${found} columns, expected ${expected} (${LEADING} leading columns and ${this.n} taxa, as in the header)`,
      { file: this.file, line: lineNo },
      'every line needs one tab-separated call per taxon of the header',
    );
  }

  /** Decodes the call in b[a..z) into first/second[i]. */
  private call(b: Buffer, a: number, z: number, i: number, lineNo: number, rs: string): void {
    const len = z - a;
    let f = MISS;
    let s = MISS;
    if (len === 1) {
      const c = b[a];
      const v = ONE_LETTER[c];
      if (v >= 0) {
        f = v >> 3;
        s = v & 7;
      } else {
        const k = CHAR_CODE[c];
        if (k === INDEL) this.partial++;
        else if (k !== MISS) throw this.unknownCall(b, a, z, i, lineNo, rs);
      }
    } else if (len === 2 || (len === 3 && (b[a + 1] === 47 || b[a + 1] === 124))) {
      const k1 = CHAR_CODE[b[a]];
      const k2 = CHAR_CODE[b[z - 1]];
      if (k1 === UNKNOWN || k2 === UNKNOWN) throw this.unknownCall(b, a, z, i, lineNo, rs);
      if (k1 < 4 && k2 < 4) {
        f = k1;
        s = k2;
      } else if (!(k1 === MISS && k2 === MISS) && !(len === 2 && (b[a] | 32) === 110 && (b[a + 1] | 32) === 97)) {
        // One half missing (AN, A-) or an indel code: missing, counted. "NA" is plainly missing.
        this.partial++;
      }
    } else if (len !== 0) {
      throw this.unknownCall(b, a, z, i, lineNo, rs);
    }
    this.first[i] = f;
    this.second[i] = s;
  }

  private unknownCall(b: Buffer, a: number, z: number, i: number, lineNo: number, rs: string): InputError {
    return new InputError(
      'INPUT_FORMAT',
      `unknown genotype call "${b.toString('utf8', a, Math.min(z, a + 20))}"`,
      { file: this.file, line: lineNo, sample: this.ids[i].iid, snp: rs },
      'calls are two letters of ACGT (AA, AG), one letter (A, or IUPAC R Y S W K M for heterozygotes) or NN/N/-- for missing',
    );
  }
}

function countTabs(b: Uint8Array, pos: number, end: number): number {
  let t = 0;
  for (let p = pos; p < end; p++) if (b[p] === TAB) t++;
  return t;
}
