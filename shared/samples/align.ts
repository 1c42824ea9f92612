/**
 * Sample alignment: which genotyped samples are analysed, with their phenotype y and covariates W.
 *
 * GEMMA's rule: a sample is analysed when its phenotype and all its covariates are non-missing. GEMMA-style
 * tables are positional (row i = genotype sample i) and must have exactly one row per genotype sample;
 * PLINK-style tables are joined by FID+IID (or IID for `#IID` headers). Every sample that is dropped is
 * counted, with the reason, in `summary`.
 */
import { InputError, UsageError } from '../errors.js';
import type { SampleId } from '../genotype/types.js';
import { readTable, type Table } from './table.js';

export interface SampleSpec {
  /** Phenotype file; when absent the .fam phenotype columns are used. */
  phenoFile?: string;
  /** 1-based trait column (GEMMA `-n`); default 1. */
  phenoCol?: number;
  /** Trait name (PLINK-style files only). */
  phenoName?: string;
  /** Covariate file (GEMMA style: intercept column included; PLINK style: intercept added). */
  covarFile?: string;
}

export interface GenotypeSamples {
  label: string;
  nSamples: number;
  ids: SampleId[] | null;
  /** Phenotype columns of the .fam (column 6 onward), when the genotypes are a PLINK fileset. */
  famPhenos: string[][] | null;
  famPath?: string;
}

export interface AlignedSamples {
  nTotal: number;
  /** Indices of analysed samples, ascending, into the genotype sample order. */
  analysed: Int32Array;
  y: Float64Array;
  /** Row-major n_a × c covariate matrix (intercept included). */
  W: Float64Array;
  c: number;
  covNames: string[];
  traitName: string;
  /** A short name for file names: the header name when the file has one, else `col<k>` (k = --pheno-col). */
  traitKey: string;
  summary: string[];
}

const idKey = (id: SampleId, iidOnly: boolean) => (iidOnly ? id.iid : `${id.fid}\u0000${id.iid}`);

/** Maps a table's rows onto genotype samples; returns per-genotype-sample row index (-1 = absent). */
function joinRows(table: Table, geno: GenotypeSamples, summary: string[], what: string): Int32Array {
  const map = new Int32Array(geno.nSamples).fill(-1);
  if (table.style === 'gemma') {
    const rows = table.columns[0]?.length ?? 0;
    if (rows !== geno.nSamples) {
      throw new InputError(
        'INPUT_MISMATCH',
        `has ${rows} rows but the genotype data have ${geno.nSamples} samples`,
        { file: table.file },
        `a ${what} file without a header must have one row per genotype sample, in genotype order; ` +
          'or give it a "FID IID ..." header so rows are joined by sample ID',
      );
    }
    for (let i = 0; i < rows; i++) map[i] = i;
    return map;
  }
  if (!geno.ids) {
    throw new InputError(
      'INPUT_MISMATCH',
      `is a PLINK-style (FID IID) ${what} file but ${geno.label} has no sample IDs`,
      { file: table.file },
      'BIMBAM genotypes are positional: use a headerless file with one row per genotype column',
    );
  }
  const index = new Map<string, number>();
  geno.ids.forEach((id, i) => index.set(idKey(id, table.iidOnly), i));
  let unknown = 0;
  let firstUnknown = '';
  table.ids!.forEach((id, r) => {
    const g = index.get(idKey(id, table.iidOnly));
    if (g === undefined) {
      unknown++;
      if (!firstUnknown) firstUnknown = `${table.iidOnly ? id.iid : `${id.fid} ${id.iid}`} (line ${table.lines[r]})`;
    } else map[g] = r;
  });
  const matched = table.ids!.length - unknown;
  summary.push(
    `${what} file ${table.file}: ${table.ids!.length} rows, ${matched} matched genotype samples` +
      (unknown ? `, ${unknown} not in the genotype data and ignored (first: ${firstUnknown})` : ''),
  );
  if (matched === 0) {
    throw new InputError(
      'INPUT_MISMATCH',
      `none of its ${table.ids!.length} sample IDs are in the genotype data (first: ${firstUnknown})`,
      { file: table.file },
      'check that FID/IID match the .fam file',
    );
  }
  return map;
}

function selectColumn(table: Table, spec: SampleSpec): { col: number; name: string; key: string } {
  if (spec.phenoName !== undefined) {
    if (table.style !== 'plink') {
      throw new UsageError(
        `--pheno-name needs a phenotype file with a header, but ${table.file} has none`,
        'use --pheno-col N (1-based column) instead',
      );
    }
    const col = table.names!.indexOf(spec.phenoName);
    if (col < 0) {
      throw new InputError(
        'INPUT_MISMATCH',
        `has no phenotype named "${spec.phenoName}"`,
        { file: table.file },
        `available: ${table.names!.join(', ')}`,
      );
    }
    return { col, name: spec.phenoName, key: spec.phenoName };
  }
  const k = spec.phenoCol ?? 1;
  if (k < 1 || k > table.columns.length) {
    throw new UsageError(
      `--pheno-col ${k} is out of range: ${table.file} has ${table.columns.length} phenotype column(s)`,
      'columns are counted from 1, after FID IID in PLINK-style files',
    );
  }
  return { col: k - 1, name: table.names ? table.names[k - 1] : `column ${k}`, key: table.names ? table.names[k - 1] : `col${k}` };
}

/**
 * Reads and aligns phenotype and covariates with the genotype samples. Samples flagged in `exclude` (sample QC,
 * `--mind`) are never analysed; the summary counts them.
 */
export async function alignSamples(geno: GenotypeSamples, spec: SampleSpec, exclude?: Uint8Array | null): Promise<AlignedSamples> {
  const summary: string[] = [];
  const n = geno.nSamples;
  const y = new Float64Array(n).fill(NaN);
  let traitName: string;
  let traitKey: string;
  if (spec.phenoFile) {
    const table = await readTable(spec.phenoFile, { missing: ['-9'], what: 'phenotype' });
    const { col, name, key } = selectColumn(table, spec);
    traitName = name;
    traitKey = key;
    const rows = joinRows(table, geno, summary, 'phenotype');
    for (let i = 0; i < n; i++) if (rows[i] >= 0) y[i] = table.columns[col][rows[i]];
  } else {
    if (!geno.famPhenos) {
      throw new UsageError('no phenotype: BIMBAM genotypes need --pheno FILE');
    }
    if (spec.phenoName !== undefined) throw new UsageError('--pheno-name needs --pheno FILE with a header');
    const k = spec.phenoCol ?? 1;
    const width = Math.min(...geno.famPhenos.map((p) => p.length));
    if (k < 1 || k > width) {
      throw new UsageError(
        `--pheno-col ${k} is out of range: ${geno.famPath ?? 'the .fam'} has ${width} phenotype column(s) (from column 6)`,
        `without --pheno, --pheno-col N reads .fam column 5+N (N = 1..${width}); give other phenotypes with --pheno FILE`,
      );
    }
    traitName = `fam column ${5 + k}`;
    traitKey = `col${k}`;
    for (let i = 0; i < n; i++) {
      const tok = geno.famPhenos[i][k - 1];
      if (tok === 'NA' || tok === '-9') continue;
      const v = Number(tok);
      if (!Number.isFinite(v)) {
        throw new InputError(
          'INPUT_FORMAT',
          `phenotype "${tok}" is not a number, NA or -9`,
          { file: geno.famPath, line: i + 1, sample: geno.ids?.[i]?.iid },
          'fix the value in the .fam (NA or -9 for missing), or give the phenotypes with --pheno FILE',
        );
      }
      y[i] = v;
    }
  }
  const nPheno = y.reduce((a, v) => a + (Number.isNaN(v) ? 0 : 1), 0);
  summary.push(`phenotype ${traitName}: ${nPheno} of ${n} genotyped samples have a value, ${n - nPheno} missing`);
  if (nPheno === 0) {
    throw new InputError(
      'NO_DATA',
      `phenotype ${traitName} is missing for every genotyped sample`,
      { file: spec.phenoFile ?? geno.famPath },
      'check --pheno-col/--pheno-name and the missing-value codes (NA, -9)',
    );
  }

  // Covariates.
  let covCols: Float64Array[] = [];
  let covNames: string[] = ['intercept'];
  let covStyle: 'gemma' | 'plink' = 'gemma';
  if (spec.covarFile) {
    const table = await readTable(spec.covarFile, { missing: [], what: 'covariate' });
    covStyle = table.style;
    const rows = joinRows(table, geno, summary, 'covariate');
    const cols = table.columns.map((col) => {
      const out = new Float64Array(n).fill(NaN);
      for (let i = 0; i < n; i++) if (rows[i] >= 0) out[i] = col[rows[i]];
      return out;
    });
    if (table.style === 'plink') {
      covCols = [new Float64Array(n).fill(1), ...cols];
      covNames = ['intercept', ...table.names!];
    } else {
      covCols = cols;
      covNames = cols.map((_, j) => `covariate ${j + 1}`);
    }
  } else {
    covCols = [new Float64Array(n).fill(1)];
  }
  const c = covCols.length;
  const keep: number[] = [];
  let dropCov = 0;
  let dropQc = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(y[i])) continue;
    if (exclude?.[i]) {
      dropQc++;
      continue;
    }
    if (covCols.some((col) => Number.isNaN(col[i]))) {
      dropCov++;
      continue;
    }
    keep.push(i);
  }
  if (spec.covarFile) {
    summary.push(`covariates: ${c} column(s) (${covNames.join(', ')}); ${dropCov} phenotyped samples dropped for a missing covariate`);
  }
  if (exclude) summary.push(`sample QC (--mind): ${dropQc} phenotyped samples of ${traitName} removed`);
  if (keep.length === 0) {
    if (dropQc > 0) {
      throw new InputError(
        'NO_DATA',
        `no sample of ${traitName} is left: ${dropQc} were removed by --mind and the rest have no phenotype or covariate`,
        { file: spec.phenoFile ?? geno.famPath ?? geno.label },
        'raise --mind (or leave it out) and check the genotype missingness',
      );
    }
    throw new InputError(
      'NO_DATA',
      'no sample has both a phenotype and all covariates',
      { file: spec.covarFile ?? spec.phenoFile },
      'check that the phenotype and covariate files describe the same samples and use NA only for missing values',
    );
  }
  const analysed = Int32Array.from(keep);
  const na = analysed.length;
  const yA = new Float64Array(na);
  const W = new Float64Array(na * c);
  for (let r = 0; r < na; r++) {
    yA[r] = y[analysed[r]];
    for (let j = 0; j < c; j++) W[r * c + j] = covCols[j][analysed[r]];
  }
  summary.push(`analysed samples: ${na} of ${n}`);
  const checked = checkCovariates(W, na, c, covNames, spec.covarFile, spec.covarFile ? covStyle : 'gemma', summary);
  return { nTotal: n, analysed, y: yA, W: checked.W, c: checked.c, covNames: checked.names, traitName, traitKey, summary };
}

/**
 * Full column rank of the analysed covariates (modified Gram–Schmidt, relative tolerance 1e-10 on the squared
 * residual norm). A column that is constant over the analysed samples when an intercept is already in the
 * model is dropped with a note for PLINK-style files (gwasgrid adds the intercept there, so the user could not
 * have avoided it); any other dependent column is refused, naming it, because the covariate effects would not
 * be identifiable (GEMMA would fail on it).
 */
function checkCovariates(
  W: Float64Array,
  na: number,
  c: number,
  names: string[],
  file: string | undefined,
  style: 'gemma' | 'plink',
  summary: string[],
): { W: Float64Array; c: number; names: string[] } {
  const cols: Float64Array[] = [];
  for (let j = 0; j < c; j++) cols.push(Float64Array.from({ length: na }, (_, r) => W[r * c + j]));
  const basis: Float64Array[] = [];
  const kept: number[] = [];
  let hasConstant = false;
  for (let j = 0; j < c; j++) {
    const v = Float64Array.from(cols[j]);
    let norm0 = 0;
    for (let r = 0; r < na; r++) norm0 += v[r] * v[r];
    const constant = v.every((x) => x === v[0]);
    for (const q of basis) {
      let d = 0;
      for (let r = 0; r < na; r++) d += q[r] * v[r];
      for (let r = 0; r < na; r++) v[r] -= d * q[r];
    }
    let norm = 0;
    for (let r = 0; r < na; r++) norm += v[r] * v[r];
    if (norm0 === 0 || norm <= 1e-10 * norm0) {
      if (constant && hasConstant && style === 'plink') {
        summary.push(`covariate ${names[j]} is constant over the analysed samples: dropped (the intercept already models it)`);
        continue;
      }
      throw new InputError(
        'INPUT_FORMAT',
        norm0 === 0
          ? `covariate ${names[j]} is 0 for every analysed sample`
          : constant
            ? `covariate ${names[j]} is constant over the analysed samples, like the intercept ${names[kept.find((k) => cols[k].every((x) => x === cols[k][0])) ?? 0]}`
            : `covariate ${names[j]} is a linear combination of ${kept.map((k) => names[k]).join(', ')} over the analysed samples (collinear)`,
        { file },
        'remove the redundant column (e.g. one of a set of indicator columns that sum to 1, or a Q column when the Q columns sum to 1)',
      );
    }
    if (constant) hasConstant = true;
    const inv = 1 / Math.sqrt(norm);
    for (let r = 0; r < na; r++) v[r] *= inv;
    basis.push(v);
    kept.push(j);
  }
  if (kept.length === c) return { W, c, names };
  const c2 = kept.length;
  const W2 = new Float64Array(na * c2);
  for (let r = 0; r < na; r++) for (let k = 0; k < c2; k++) W2[r * c2 + k] = W[r * c + kept[k]];
  return { W: W2, c: c2, names: kept.map((k) => names[k]) };
}
