/**
 * VCF 4.x genotypes (plain or gzip/bgzip), read once into a {@link DosageStore}.
 *
 * Format (VCF 4.3 specification, §1.4–1.6): `##` meta lines, then the tab-separated header
 * `#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT sample…`, then one record per variant. What we take:
 * - **Samples**: the header's sample names, as FID = IID = name (no `_` splitting; a PLINK-style phenotype file
 *   is joined on FID+IID, so give it FID = IID = the VCF name, or use a `#IID` header to join on IID alone).
 *   Duplicate names are refused.
 * - **Dosage** = copies of the **ALT** allele (allele1 = ALT, allele0 = REF), as plink2 counts for VCF input.
 *   `--vcf-field GT` (default): diploid calls `a/b` or `a|b` give (a = 1) + (b = 1); `./.`, and calls with one
 *   allele missing (`./1`), are missing. A record whose calls are all haploid (chrY, chrM, male chrX written as
 *   `0`/`1`) is read with each haploid call as a homozygote (0 or 2 copies), as PLINK 1.9 stores haploid calls;
 *   a record mixing haploid and diploid calls is refused ("mixed ploidy"), as is ploidy above 2.
 *   `--vcf-field DS`: the DS (ALT dosage) value, a number in [0, 2] or `.` (missing).
 * - **Multi-allelic** records (ALT with a comma): `skip` (default; counted and logged) or `split`: one SNP per
 *   ALT allele k, whose dosage counts allele k only (other ALT alleles count as non-k, like `bcftools norm
 *   -m-`; the ID is kept, so split SNPs share it and allele1 tells them apart); with DS the k-th of the
 *   comma-separated values is used.
 * - **ID** `.` becomes `chr:pos:ref:alt`. POS must be an integer (negative values such as -9 are kept as
 *   "unknown", GEMMA's convention). QUAL, FILTER and INFO are not used: filter beforehand (`bcftools view -f
 *   PASS`).
 *
 * Random access: the file is decoded once at open (one streaming pass, char-code scanning, no per-genotype
 * allocation) into the store, which holds hard calls in 2 bits and decimal dosages exactly in 16 bits; every
 * later pass reads SNP ranges from memory. This works the same for .vcf and .vcf.gz (plain gzip cannot be
 * seeked) and costs n·m/4 bytes for GT (mouse_hs1940: 5.9 MB), fine for the n × m ≤ a few ×10^7 targeted.
 * Every malformed record is an InputError naming the file, the line and, where it applies, the sample.
 */
import { InputError } from '../errors.js';
import { streamByteLines } from '../io/lines.js';
import { DosageStore, StoredGenotypes } from './store.js';
import type { SampleId, SnpMeta } from './types.js';

export type VcfField = 'GT' | 'DS';
export type MultiallelicMode = 'skip' | 'split';

export interface VcfOptions {
  /** FORMAT field giving the dosage (default GT). */
  field?: VcfField;
  /** What to do with records of more than one ALT allele (default skip). */
  multiallelic?: MultiallelicMode;
}

const TAB = 9;
const COLON = 58;
const COMMA = 44;
const SLASH = 47;
const PIPE = 124;
const DOT = 46;
const HASH = 35;

const FIXED = ['#CHROM', 'POS', 'ID', 'REF', 'ALT', 'QUAL', 'FILTER', 'INFO'];

export class VcfFile extends StoredGenotypes {
  readonly format = 'vcf' as const;

  private constructor(label: string, ids: SampleId[], snps: SnpMeta[], store: DosageStore, readonly field: VcfField) {
    super(label, ids, snps, store);
  }

  /** Reads and decodes the whole file (see the module comment for the rules). */
  static async open(path: string, opts: VcfOptions = {}): Promise<VcfFile> {
    const field = opts.field ?? 'GT';
    const multi = opts.multiallelic ?? 'skip';
    let parser: RecordParser | null = null;
    let lastLine = 0;
    for await (const { bytes, lineNo } of streamByteLines(path)) {
      lastLine = lineNo;
      if (parser === null) {
        if (bytes.length === 0) continue;
        if (bytes[0] === HASH && bytes[1] === HASH) continue;
        if (bytes[0] === HASH) {
          parser = new RecordParser(path, parseHeader(path, bytes.toString('utf8'), lineNo), field, multi);
          continue;
        }
        throw new InputError(
          'INPUT_FORMAT',
          'a data line comes before the "#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT sample…" header line',
          { file: path, line: lineNo },
          'a VCF needs its #CHROM header line (tab-separated) before the first record; is this really a VCF?',
        );
      }
      if (bytes.length === 0) continue;
      parser.record(bytes, lineNo);
    }
    if (parser === null) {
      throw new InputError(
        lastLine === 0 ? 'NO_DATA' : 'INPUT_FORMAT',
        lastLine === 0 ? 'file is empty' : 'no "#CHROM …" header line',
        { file: path, line: lastLine + 1 },
        'a VCF needs a tab-separated "#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT sample…" header line',
      );
    }
    if (parser.snps.length === 0) {
      throw new InputError(
        'NO_DATA',
        parser.skippedMulti > 0 ? `no biallelic records (${parser.skippedMulti} multi-allelic skipped)` : 'no variant records after the header',
        { file: path, line: lastLine + 1 },
        parser.skippedMulti > 0 ? 'use --vcf-multiallelic split' : undefined,
      );
    }
    const vcf = new VcfFile(path, parser.ids, parser.snps, parser.store, field);
    if (parser.skippedMulti > 0) {
      vcf.notes.push(`${path}: skipped ${parser.skippedMulti} multi-allelic records (--vcf-multiallelic split keeps them, one SNP per ALT allele)`);
    }
    if (parser.splitMulti > 0) vcf.notes.push(`${path}: split ${parser.splitMulti} multi-allelic records into one SNP per ALT allele`);
    if (parser.haploidRecords > 0) {
      vcf.notes.push(`${path}: ${parser.haploidRecords} records with haploid calls only, each call read as a homozygote (0 or 2 ALT copies)`);
    }
    vcf.notes.push(
      `${path}: ${parser.ids.length} samples × ${parser.snps.length} SNPs from ${field}, decoded into ${(parser.store.memoryBytes / 1e6).toFixed(1)} MB`,
    );
    return vcf;
  }
}

/** Sample IDs of the #CHROM line. */
function parseHeader(file: string, line: string, lineNo: number): SampleId[] {
  const cols = line.split('\t');
  const bad = (msg: string, fix?: string) => new InputError('INPUT_FORMAT', msg, { file, line: lineNo }, fix);
  if (cols.length < 8 || cols.slice(0, 8).some((c, i) => c !== FIXED[i])) {
    throw bad(
      `header line should start with ${FIXED.join(' ')} FORMAT, separated by tabs; found "${line.slice(0, 60)}"`,
      'the #CHROM line must name the 8 fixed columns, FORMAT and the samples, separated by single tabs',
    );
  }
  if (cols.length < 10) {
    throw new InputError('NO_DATA', 'VCF has no sample columns', { file, line: lineNo }, 'association needs genotypes: a FORMAT column and one column per sample');
  }
  if (cols[8] !== 'FORMAT') throw bad(`column 9 of the header is "${cols[8]}", expected FORMAT`);
  const seen = new Map<string, number>();
  const ids: SampleId[] = [];
  for (let c = 9; c < cols.length; c++) {
    const name = cols[c];
    if (name === '') throw bad(`sample column ${c - 8} has an empty name`, 'remove trailing tabs from the header line');
    const prev = seen.get(name);
    if (prev !== undefined) {
      throw new InputError(
        'INPUT_FORMAT',
        `duplicate sample name "${name}" (columns ${prev + 10} and ${c + 1})`,
        { file, line: lineNo, sample: name },
        'sample names must be unique; rename one (bcftools reheader -s) or drop it',
      );
    }
    seen.set(name, c - 9);
    ids.push({ fid: name, iid: name });
  }
  return ids;
}

// Number scanning results (module scratch: no allocation per value).
let numValue = 0;
let numDecimals = 0;

/**
 * Parses a plain decimal `[digits][.digits]` at bytes[pos..end) ending at a delimiter, into numValue and
 * numDecimals (the value is int/10^d, which equals the correctly rounded parse of the text). Returns the end
 * position, or -1 when the text is not in that simple form (the caller falls back to Number()).
 */
function scanDecimal(b: Uint8Array, pos: number, end: number): number {
  let p = pos;
  let int = 0;
  let digits = 0;
  while (p < end) {
    const d = b[p] - 48;
    if (d < 0 || d > 9) break;
    int = int * 10 + d;
    digits++;
    p++;
  }
  let dec = 0;
  if (p < end && b[p] === DOT) {
    p++;
    while (p < end) {
      const d = b[p] - 48;
      if (d < 0 || d > 9) break;
      int = int * 10 + d;
      dec++;
      digits++;
      p++;
    }
  }
  if (digits === 0 || digits > 15) return -1;
  if (p < end) {
    const c = b[p];
    if (c !== TAB && c !== COLON && c !== COMMA) return -1;
  }
  numDecimals = dec;
  numValue = dec === 0 ? int : int / 10 ** dec;
  return p;
}

class RecordParser {
  readonly snps: SnpMeta[] = [];
  readonly store: DosageStore;
  skippedMulti = 0;
  splitMulti = 0;
  haploidRecords = 0;
  private readonly n: number;
  /** Per sample: first and second allele index of the GT (-1 missing; second -2 = haploid). */
  private readonly alleleA: Int32Array;
  private readonly alleleB: Int32Array;
  /** Per ALT allele k (row k-1), the dosages of the current record. */
  private rows: Float64Array[] = [];
  private readonly tabs = new Int32Array(9);

  constructor(
    private readonly file: string,
    readonly ids: SampleId[],
    private readonly field: VcfField,
    private readonly multi: MultiallelicMode,
  ) {
    this.n = ids.length;
    this.store = new DosageStore(this.n);
    this.alleleA = new Int32Array(this.n);
    this.alleleB = new Int32Array(this.n);
  }

  private err(lineNo: number, msg: string, sample?: number, fix?: string, snp?: string): InputError {
    return new InputError(
      'INPUT_FORMAT',
      msg,
      { file: this.file, line: lineNo, sample: sample === undefined ? undefined : this.ids[sample].iid, snp },
      fix,
    );
  }

  private row(k: number): Float64Array {
    while (this.rows.length < k) this.rows.push(new Float64Array(this.n));
    return this.rows[k - 1];
  }

  record(b: Buffer, lineNo: number): void {
    const tabs = this.tabs;
    let p = 0;
    for (let c = 0; c < 9; c++) {
      const t = b.indexOf(TAB, p);
      if (t < 0) {
        throw this.err(lineNo, `has ${c + 1} columns, expected ${9 + this.n} (8 fixed, FORMAT, ${this.n} samples)`, undefined, 'columns must be separated by single tabs');
      }
      tabs[c] = t;
      p = t + 1;
    }
    const chr = b.toString('utf8', 0, tabs[0]);
    const posText = b.toString('latin1', tabs[0] + 1, tabs[1]);
    const pos = Number(posText);
    if (!/^-?\d+$/.test(posText) || !Number.isSafeInteger(pos)) {
      throw this.err(lineNo, `POS "${posText}" is not a whole number`, undefined, 'column 2 (POS) must be the base-pair position');
    }
    const idText = b.toString('utf8', tabs[1] + 1, tabs[2]);
    const ref = b.toString('utf8', tabs[2] + 1, tabs[3]);
    const altText = b.toString('utf8', tabs[3] + 1, tabs[4]);
    const alts = altText.split(',');
    const nAlt = alts.length;
    if (nAlt > 1 && this.multi === 'skip') {
      this.skippedMulti++;
      return;
    }
    const format = b.toString('latin1', tabs[7] + 1, tabs[8]).split(':');
    const fieldIdx = format.indexOf(this.field);
    const rsOf = (k: number) => (idText === '.' ? `${chr}:${pos}:${ref}:${alts[k - 1]}` : idText);
    if (fieldIdx < 0) {
      throw this.err(
        lineNo,
        `FORMAT "${format.join(':')}" has no ${this.field} field`,
        undefined,
        this.field === 'DS' ? 'this record has no dosages: use --vcf-field GT, or add DS (e.g. bcftools +dosage)' : 'read dosages with --vcf-field DS, or add genotype calls',
        rsOf(1),
      );
    }
    for (let k = 1; k <= nAlt; k++) this.row(k);
    const count = this.field === 'GT' ? this.parseGt(b, tabs[8] + 1, fieldIdx, nAlt, lineNo) : this.parseDs(b, tabs[8] + 1, fieldIdx, nAlt, lineNo);
    if (count !== this.n) {
      throw this.err(lineNo, `has ${count} sample columns, expected ${this.n} (as in the #CHROM header)`, undefined, 'every record needs one column per sample in the header', rsOf(1));
    }
    if (nAlt > 1) this.splitMulti++;
    for (let k = 1; k <= nAlt; k++) {
      if (this.field === 'GT') this.store.append(this.rows[k - 1], 0, true);
      else this.store.append(this.rows[k - 1], this.decimals);
      this.snps.push({ chr, rs: rsOf(k), pos, cm: -9, a1: alts[k - 1], a0: ref });
    }
  }

  /** Moves from the start of a sample column to its `idx`-th sub-field; returns its start or -1 when absent. */
  private static subField(b: Uint8Array, pos: number, end: number, idx: number): number {
    let p = pos;
    for (let f = 0; f < idx; f++) {
      while (p < end && b[p] !== COLON && b[p] !== TAB) p++;
      if (p >= end || b[p] === TAB) return -1;
      p++;
    }
    return p;
  }

  private decimals = 0;

  /**
   * Parses the GT of every sample column from `start`, fills the dosage rows of the nAlt ALT alleles and
   * returns the number of sample columns seen.
   */
  private parseGt(b: Buffer, start: number, fieldIdx: number, nAlt: number, lineNo: number): number {
    const n = this.n;
    const A = this.alleleA;
    const B = this.alleleB;
    const end = b.length;
    let p = start;
    let i = 0;
    let ploidy = 0; // 0 unknown, 1 haploid, 2 diploid
    let firstPloidySample = -1;
    // Biallelic records (the common case) write dosages directly; multi-allelic ones keep the allele indices.
    const row1 = this.rows[0];
    while (p <= end) {
      if (i >= n) {
        i = n + 1 + countTabs(b, p, end);
        break;
      }
      // Fast path: a diploid call of single-digit alleles ("0/1", "1|1") at the start of the column.
      if (fieldIdx === 0 && p + 2 < end) {
        const a0 = b[p] - 48;
        const sep = b[p + 1];
        const b0 = b[p + 2] - 48;
        const next = p + 3 < end ? b[p + 3] : TAB;
        if (a0 >= 0 && a0 <= nAlt && b0 >= 0 && b0 <= nAlt && (sep === SLASH || sep === PIPE) && (next === TAB || next === COLON) && ploidy !== 1) {
          if (ploidy === 0) {
            ploidy = 2;
            firstPloidySample = i;
          }
          if (nAlt === 1) row1[i] = a0 + b0;
          else {
            A[i] = a0;
            B[i] = b0;
          }
          i++;
          p += 3;
          if (next === TAB) {
            p++;
            continue;
          }
          while (p < end && b[p] !== TAB) p++;
          if (p >= end) break;
          p++;
          continue;
        }
      }
      let q = fieldIdx === 0 ? p : RecordParser.subField(b, p, end, fieldIdx);
      let a = -1;
      let bb = -1;
      let thisPloidy = 0;
      if (q < 0) {
        // GT dropped from this column: missing.
        a = -1;
      } else {
        const tokStart = q;
        // First allele.
        let c = q < end ? b[q] : TAB;
        if (c === DOT) q++;
        else if (c >= 48 && c <= 57) {
          a = 0;
          while (q < end && b[q] >= 48 && b[q] <= 57) a = a * 10 + (b[q++] - 48);
        } else throw this.badGt(b, tokStart, end, lineNo, i);
        c = q < end ? b[q] : TAB;
        if (c === SLASH || c === PIPE) {
          q++;
          c = q < end ? b[q] : TAB;
          if (c === DOT) q++;
          else if (c >= 48 && c <= 57) {
            bb = 0;
            while (q < end && b[q] >= 48 && b[q] <= 57) bb = bb * 10 + (b[q++] - 48);
          } else throw this.badGt(b, tokStart, end, lineNo, i);
          c = q < end ? b[q] : TAB;
          if (c === SLASH || c === PIPE) {
            throw this.err(lineNo, `genotype "${tokenAt(b, tokStart, end)}" has more than 2 alleles; only diploid and haploid calls are supported`, i, 'remove polyploid records');
          }
          thisPloidy = 2;
        } else {
          bb = -2;
          // A lone "." is missing of either ploidy.
          thisPloidy = a < 0 ? 0 : 1;
        }
        if (c !== TAB && c !== COLON) throw this.badGt(b, tokStart, end, lineNo, i);
        if (a > nAlt || bb > nAlt) {
          throw this.err(lineNo, `genotype "${tokenAt(b, tokStart, end)}" names allele ${Math.max(a, bb)} but ALT lists ${nAlt}`, i, 'allele indices count REF as 0 and ALT alleles from 1');
        }
        if (thisPloidy !== 0) {
          if (ploidy === 0) {
            ploidy = thisPloidy;
            firstPloidySample = i;
          } else if (thisPloidy !== ploidy) {
            const first = this.ids[firstPloidySample].iid;
            throw this.err(
              lineNo,
              `mixed ploidy: sample ${first} has a ${ploidy === 1 ? 'haploid' : 'diploid'} call but this sample a ${thisPloidy === 1 ? 'haploid' : 'diploid'} one`,
              i,
              'keep haploid regions (chrX in males, chrY, chrM) out of the analysis (e.g. bcftools view -t ^X,Y,MT), or make all calls diploid',
            );
          }
        }
        p = q;
      }
      if (nAlt === 1) row1[i] = a < 0 || bb === -1 ? NaN : bb === -2 ? (a === 1 ? 2 : 0) : a + bb;
      else {
        A[i] = a;
        B[i] = bb;
      }
      i++;
      while (p < end && b[p] !== TAB) p++;
      if (p >= end) break;
      p++;
    }
    if (i !== n) return i;
    if (ploidy === 1) this.haploidRecords++;
    for (let k = 1; k <= nAlt && nAlt > 1; k++) {
      const row = this.rows[k - 1];
      for (let s = 0; s < n; s++) {
        const a = A[s];
        const bb = B[s];
        if (a < 0 || bb === -1) row[s] = NaN;
        else if (bb === -2) row[s] = a === k ? 2 : 0;
        else row[s] = (a === k ? 1 : 0) + (bb === k ? 1 : 0);
      }
    }
    return i;
  }

  private badGt(b: Buffer, pos: number, end: number, lineNo: number, sample: number): InputError {
    return this.err(lineNo, `bad genotype "${tokenAt(b, pos, end)}" (GT)`, sample, 'GT must be allele indices separated by / or | (0/0, 0|1, 1/1, ./.)');
  }

  /** Parses the DS values of every sample column from `start` (see {@link parseGt}). */
  private parseDs(b: Buffer, start: number, fieldIdx: number, nAlt: number, lineNo: number): number {
    const n = this.n;
    const end = b.length;
    let p = start;
    let i = 0;
    let maxDec = 0;
    while (p <= end) {
      if (i >= n) {
        i = n + 1 + countTabs(b, p, end);
        break;
      }
      let q = RecordParser.subField(b, p, end, fieldIdx);
      if (q < 0) {
        for (let k = 1; k <= nAlt; k++) this.rows[k - 1][i] = NaN;
      } else {
        const tokStart = q;
        const allMissing = b[q] === DOT && (q + 1 >= end || b[q + 1] === TAB || b[q + 1] === COLON);
        for (let k = 1; k <= nAlt && allMissing; k++) this.rows[k - 1][i] = NaN;
        for (let k = 1; k <= nAlt && !allMissing; k++) {
          let v: number;
          const c = q < end ? b[q] : TAB;
          if (c === DOT && (q + 1 >= end || b[q + 1] === TAB || b[q + 1] === COLON || b[q + 1] === COMMA)) {
            v = NaN;
            q++;
          } else {
            const e = scanDecimal(b, q, end);
            if (e >= 0) {
              v = numValue;
              if (numDecimals > maxDec) maxDec = numDecimals;
              q = e;
            } else {
              let e2 = q;
              while (e2 < end && b[e2] !== TAB && b[e2] !== COLON && b[e2] !== COMMA) e2++;
              const text = b.toString('latin1', q, e2);
              v = text === '' ? NaN : Number(text);
              if (!Number.isFinite(v)) {
                throw this.err(lineNo, `DS value "${tokenAt(b, tokStart, end)}" is not a number or "."`, i, 'DS must be the expected ALT allele count, between 0 and 2');
              }
              maxDec = -1;
              q = e2;
            }
            if (v < 0 || v > 2) {
              throw this.err(lineNo, `DS value ${v} is outside [0, 2]`, i, 'DS must be the expected count of the ALT allele in a diploid genotype');
            }
          }
          this.rows[k - 1][i] = v;
          const c2 = q < end ? b[q] : TAB;
          if (k < nAlt) {
            if (c2 !== COMMA) {
              throw this.err(lineNo, `DS "${tokenAt(b, tokStart, end)}" has fewer than the ${nAlt} values of a record with ${nAlt} ALT alleles`, i);
            }
            q++;
          } else if (c2 !== TAB && c2 !== COLON) {
            throw this.err(
              lineNo,
              c2 === COMMA ? `DS "${tokenAt(b, tokStart, end)}" has more values than ALT alleles (${nAlt})` : `DS value "${tokenAt(b, tokStart, end)}" is not a number or "."`,
              i,
              'DS must be the expected ALT allele count, between 0 and 2',
            );
          }
        }
        p = q;
      }
      i++;
      while (p < end && b[p] !== TAB) p++;
      if (p >= end) break;
      p++;
    }
    this.decimals = maxDec;
    return i;
  }
}

function countTabs(b: Uint8Array, pos: number, end: number): number {
  let t = 0;
  for (let p = pos; p < end; p++) if (b[p] === TAB) t++;
  return t;
}

/** The sub-field starting at pos (up to the next tab or colon), for messages. */
function tokenAt(b: Buffer, pos: number, end: number): string {
  let e = pos;
  while (e < end && b[e] !== TAB && b[e] !== COLON) e++;
  return b.toString('utf8', pos, Math.min(e, pos + 40));
}
