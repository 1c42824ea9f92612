/**
 * The job spec a coordinator hands to its workers, and its identity.
 *
 * The job id is the sha256 of a canonical JSON of everything that determines the output bytes: method, input
 * paths (absolute), QC, test mode, backend preference, block size, the genotype and sample counts, the analysed
 * samples, the null-model hash and the shard layout. Shards written to disk are tagged with it, so a restarted
 * coordinator only reuses shards of the very same job, and a worker's results are accepted only for its job.
 *
 * The kinship phase is a job of its own (no null model yet; `kinship` names the --gk mode, the chunk size and
 * the hash of the coordinator's QC mask), with its own id; the scan job that follows has another.
 *
 * A CMLM job (`method` "cmlm") has one phase, the scan: the kinship and the compression search stay on the
 * coordinator, `nullModel` names the encoded CMLM scan model (shared/protocol/cmlm-model-codec.ts), `qc` holds
 * the CMLM SNP filter's maf and miss (r2 unused, 0), `lmm` is 1 (the P3D test is a Wald t test) and `cmlm` the
 * rest (extract list, chosen g, rank, kinship method).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { InputSpec } from '../methods/inputs.js';
import type { QcOptions } from '../genotype/qc.js';
import type { MultiallelicMode, VcfField } from '../genotype/vcf.js';
import type { LmmMode } from '../lmm/scan.js';
import type { BackendPreference } from '../linalg/select.js';
import { KINSHIP_CHUNK_SNPS, type KinshipMode } from '../kinship/kinship.js';
import { DistributedError } from '../errors.js';
import { NULL_MODEL_FORMAT } from './null-model-codec.js';
import { CMLM_MODEL_FORMAT, CMLM_MODEL_VERSION } from './cmlm-model-codec.js';
import type { CmlmKinshipMethod } from '../methods/cmlm.js';
import { NULL_MODEL_VERSION } from '../lmm/null.js';
import { pb } from './rpc.js';

export interface NullModelRef {
  sha256: string;
  sizeBytes: number;
  formatVersion: number;
  modelVersion: number;
}

export interface KinshipPhaseSpec {
  /** --gk. */
  mode: KinshipMode;
  /** SNP indices per kinship chunk (KINSHIP_CHUNK_SNPS). */
  chunkSize: number;
  /** sha256 (hex) of the QC mask, one byte per SNP. */
  maskSha256: string;
}

/** The CMLM part of a scan job (method "cmlm"). */
export interface CmlmJobSpec {
  /** --extract (absolute path), read by the workers' SNP filter. */
  extract?: string;
  /** The chosen group count g and the rank of the broadcast basis. */
  groupCount: number;
  rank: number;
  kinshipMethod: CmlmKinshipMethod;
}

const CMLM_KINSHIP_METHODS: readonly string[] = ['zhang', 'vanraden', 'gemma'];

export interface JobDescription {
  method: 'mlm' | 'cmlm';
  input: InputSpec;
  qc: QcOptions;
  lmm: LmmMode;
  backend: BackendPreference;
  /** SNPs per rotation block; 0 = scanRange's default. */
  blockSize: number;
  totalSnps: number;
  analysedSamples: number;
  samplesSha256: string;
  /** Samples in the genotype file. */
  totalSamples: number;
  /** The scan phase's null model (absent in the kinship phase). */
  nullModel?: NullModelRef;
  /** SNP indices per shard (the last one may be shorter); the kinship phase's chunk size in that phase. */
  shardSize: number;
  /** Genotype samples removed by --mind (ascending); absent when none. */
  excludedSamples?: number[];
  /** Set in the kinship phase. */
  kinship?: KinshipPhaseSpec;
  /** Set in a CMLM scan job. */
  cmlm?: CmlmJobSpec;
  /** Scan phase: output lines carry the full-precision values of their result row (shared/results/row-values.ts). */
  rowValues?: boolean;
}

/** Input paths made absolute (workers may start elsewhere on the shared filesystem). */
export function absoluteInputs(spec: InputSpec): InputSpec {
  const abs = (p?: string) => (p === undefined ? undefined : resolve(p));
  return {
    bfile: abs(spec.bfile),
    geno: abs(spec.geno),
    anno: abs(spec.anno),
    numeric: abs(spec.numeric),
    map: abs(spec.map),
    numericInd: abs(spec.numericInd),
    vcf: abs(spec.vcf),
    vcfField: spec.vcfField,
    vcfMultiallelic: spec.vcfMultiallelic,
    hapmap: abs(spec.hapmap),
    pheno: abs(spec.pheno),
    phenoCol: spec.phenoCol,
    phenoName: spec.phenoName,
    covar: abs(spec.covar),
  };
}

/** sha256 (hex) of the analysed sample indices, int32 little-endian. */
export function samplesFingerprint(analysed: Int32Array): string {
  const le = Buffer.alloc(analysed.length * 4);
  analysed.forEach((v, i) => le.writeInt32LE(v, i * 4));
  return createHash('sha256').update(le).digest('hex');
}

/** JSON with sorted keys and no undefined members. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function jobId(d: JobDescription): string {
  return createHash('sha256').update(canonicalJson(d)).digest('hex');
}

export function toJobSpec(d: JobDescription): pb.JobSpec {
  return pb.JobSpec.create({
    jobId: jobId(d),
    method: d.method,
    input: {
      bfile: d.input.bfile,
      geno: d.input.geno,
      anno: d.input.anno,
      numeric: d.input.numeric,
      map: d.input.map,
      numericInd: d.input.numericInd,
      vcf: d.input.vcf,
      vcfField: d.input.vcfField,
      vcfMultiallelic: d.input.vcfMultiallelic,
      hapmap: d.input.hapmap,
      pheno: d.input.pheno,
      phenoCol: d.input.phenoCol,
      phenoName: d.input.phenoName,
      covar: d.input.covar,
    },
    qc: { maf: d.qc.maf, miss: d.qc.miss, r2: d.qc.r2, mac: d.qc.mac ?? 0, hwe: d.qc.hwe ?? 0 },
    lmm: d.lmm,
    backend: d.backend,
    nullModel: d.nullModel,
    totalSnps: d.totalSnps,
    analysedSamples: d.analysedSamples,
    samplesSha256: d.samplesSha256,
    blockSize: d.blockSize,
    shardSize: d.shardSize,
    excludedSamples: d.excludedSamples ?? [],
    totalSamples: d.totalSamples,
    kinship: d.kinship,
    cmlm: d.cmlm,
    rowValues: d.rowValues ?? false,
  });
}

/**
 * The samples a computed kinship covers: every genotype sample (null), or those kept by --mind (the complement
 * of `excludedSamples`, ascending), as the single-process run computes it.
 */
export function kinshipSamplesOf(d: Pick<JobDescription, 'totalSamples' | 'excludedSamples'>): Int32Array | null {
  const removed = excludedMask(d);
  if (!removed) return null;
  const kept: number[] = [];
  for (let i = 0; i < d.totalSamples; i++) if (!removed[i]) kept.push(i);
  return Int32Array.from(kept);
}

/** The --mind exclusion of a job as a per-sample flag array (null when no sample is excluded). */
export function excludedMask(d: Pick<JobDescription, 'totalSamples' | 'excludedSamples'>): Uint8Array | null {
  const ex = d.excludedSamples ?? [];
  if (ex.length === 0) return null;
  const removed = new Uint8Array(d.totalSamples);
  for (const i of ex) removed[i] = 1;
  return removed;
}

/** sha256 (hex) of a QC mask. */
export function maskFingerprint(mask: Uint8Array): string {
  return createHash('sha256').update(mask).digest('hex');
}

/** Reads a received spec back, checking what this build can run; the id is recomputed and must match. */
export function fromJobSpec(s: pb.JobSpec): { id: string; job: JobDescription } {
  const bad = (why: string) =>
    new DistributedError('PROTOCOL', `job spec from the coordinator: ${why}`, {
      hint: 'run the same gwasgrid version on the coordinator and the workers',
    });
  if (s.method !== 'mlm' && s.method !== 'cmlm') throw bad(`method "${s.method}" is not supported by this worker`);
  const cmlm = s.method === 'cmlm';
  if (![1, 2, 3, 4].includes(s.lmm)) throw bad(`lmm mode ${s.lmm}`);
  if (!s.input || !s.qc || (!s.nullModel && !s.kinship)) throw bad('incomplete');
  if (cmlm && (!s.cmlm || !s.nullModel || s.kinship || !CMLM_KINSHIP_METHODS.includes(s.cmlm.kinshipMethod))) throw bad('incomplete CMLM job');
  const [format, version] = cmlm ? [CMLM_MODEL_FORMAT, CMLM_MODEL_VERSION] : [NULL_MODEL_FORMAT, NULL_MODEL_VERSION];
  if (s.nullModel && (s.nullModel.formatVersion !== format || s.nullModel.modelVersion !== version)) {
    throw bad(`${cmlm ? 'CMLM scan' : 'null'} model format ${s.nullModel.formatVersion}/version ${s.nullModel.modelVersion}, this build reads ${format}/${version}`);
  }
  if (s.kinship && (![1, 2].includes(s.kinship.mode) || s.kinship.chunkSize !== KINSHIP_CHUNK_SNPS)) {
    throw bad(`kinship mode ${s.kinship.mode} in chunks of ${s.kinship.chunkSize} SNPs (this build: chunks of ${KINSHIP_CHUNK_SNPS})`);
  }
  const i = s.input;
  if (i.vcfField !== undefined && i.vcfField !== 'GT' && i.vcfField !== 'DS') throw bad(`VCF field "${i.vcfField}"`);
  if (i.vcfMultiallelic !== undefined && i.vcfMultiallelic !== 'skip' && i.vcfMultiallelic !== 'split') throw bad(`multi-allelic mode "${i.vcfMultiallelic}"`);
  const job: JobDescription = {
    method: cmlm ? 'cmlm' : 'mlm',
    input: {
      bfile: i.bfile,
      geno: i.geno,
      anno: i.anno,
      numeric: i.numeric,
      map: i.map,
      numericInd: i.numericInd,
      vcf: i.vcf,
      vcfField: i.vcfField as VcfField | undefined,
      vcfMultiallelic: i.vcfMultiallelic as MultiallelicMode | undefined,
      hapmap: i.hapmap,
      pheno: i.pheno,
      phenoCol: i.phenoCol,
      phenoName: i.phenoName,
      covar: i.covar,
    },
    qc: { maf: s.qc.maf, miss: s.qc.miss, r2: s.qc.r2, ...(s.qc.mac ? { mac: s.qc.mac } : {}), ...(s.qc.hwe ? { hwe: s.qc.hwe } : {}) },
    lmm: s.lmm as LmmMode,
    backend: s.backend as BackendPreference,
    blockSize: s.blockSize,
    totalSnps: s.totalSnps,
    analysedSamples: s.analysedSamples,
    samplesSha256: s.samplesSha256,
    totalSamples: s.totalSamples,
    nullModel: s.nullModel ? { ...s.nullModel } : undefined,
    shardSize: s.shardSize,
    ...(s.excludedSamples.length ? { excludedSamples: [...s.excludedSamples] } : {}),
    kinship: s.kinship ? { mode: s.kinship.mode as KinshipMode, chunkSize: s.kinship.chunkSize, maskSha256: s.kinship.maskSha256 } : undefined,
    cmlm: s.cmlm
      ? { extract: s.cmlm.extract, groupCount: s.cmlm.groupCount, rank: s.cmlm.rank, kinshipMethod: s.cmlm.kinshipMethod as CmlmKinshipMethod }
      : undefined,
    ...(s.rowValues ? { rowValues: true } : {}),
  };
  const id = jobId(job);
  if (id !== s.jobId)
    throw bad(`its id ${s.jobId.slice(0, 12)}… does not match its content (${id.slice(0, 12)}…)`);
  return { id, job };
}
