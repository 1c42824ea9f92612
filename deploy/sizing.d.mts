/** Types of deploy/sizing.mjs (see the comment there for the memory model). */
export interface SizingOptions {
  /** analysed samples */
  n: number;
  /** samples in the genotype file (default n) */
  genotyped?: number;
  /** scanning threads per worker (default 1) */
  threads?: number;
  /** SNPs per block (default 128) */
  block?: number;
}
export declare const MiB: number;
export declare const BASE: number;
export declare const THREAD: number;
export declare const DEFAULT_BLOCK: number;
export declare function coordinatorBytes(opts: SizingOptions): number;
export declare function workerBytes(opts: SizingOptions): number;
export declare function quantity(bytes: number): string;
export declare function slurmMem(bytes: number): string;
export declare function sizing(opts: SizingOptions): {
  coordinator: { bytes: number; k8s: string; slurm: string };
  worker: { bytes: number; k8s: string; slurm: string };
};
