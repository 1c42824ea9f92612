/**
 * How the coordinator reaches the SNP partitions each round. `RoundBus.scan` sends one round request to every
 * partition and resolves with all replies (in any order; merging does not depend on it). The in-process bus
 * below calls the partition code directly (embedded mode); a network bus (NATS) implements the same interface.
 */
import { PartitionProducts, scanPartition, type PartitionInputs } from './partition.js';
import type { PartitionReply, RoundRequest } from './protocol.js';
import type { FemInputs } from '../fem-inputs.js';

export interface RoundBus {
  /** Number of SNPs in the analysis (all partitions together). */
  readonly m: number;
  scan(req: RoundRequest): Promise<PartitionReply[]>;
  close(): Promise<void>;
}

/**
 * Makes the bus of a run from its prepared inputs (what every partition shares). The default is the in-process
 * bus; the distributed coordinator passes one that reaches workers over NATS (shared/protocol/farm-bus.ts).
 */
export type BusFactory = (inputs: FemInputs, shared: PartitionInputs) => Promise<RoundBus & { readonly partitions: number }>;

/**
 * Splits [0, m) into `partitions` ranges whose boundaries are multiples of `align` (the scan block size, so
 * blocks are the same however the SNPs are partitioned), as equal as that allows. Empty ranges are dropped.
 */
export function partitionRanges(m: number, partitions: number, align = 256): Array<{ id: number; start: number; end: number }> {
  const units = Math.ceil(m / align);
  const p = Math.max(1, Math.min(partitions, units));
  const out: Array<{ id: number; start: number; end: number }> = [];
  let at = 0;
  for (let k = 0; k < p; k++) {
    const u = Math.floor(((k + 1) * units) / p);
    const end = Math.min(m, u * align);
    if (end > at) out.push({ id: out.length, start: at, end });
    at = end;
  }
  return out;
}

/** Embedded mode: every partition scanned in this process, one after the other, over shared cached inputs. */
export class InProcessBus implements RoundBus {
  readonly m: number;
  private readonly ranges: Array<{ id: number; start: number; end: number }>;
  /** Per-partition product caches (what a worker would keep for its partitions). */
  private readonly products: PartitionProducts[];

  constructor(
    private readonly inputs: PartitionInputs,
    partitions = 1,
  ) {
    this.m = inputs.genotypes.end;
    if (inputs.genotypes.start !== 0) throw new RangeError('the in-process bus needs genotypes from SNP 0');
    this.ranges = partitionRanges(this.m, partitions, inputs.blockSize ?? 256);
    this.products = this.ranges.map((r) => new PartitionProducts(r.start, r.end));
  }

  get partitions(): number {
    return this.ranges.length;
  }

  async scan(req: RoundRequest): Promise<PartitionReply[]> {
    const replies: PartitionReply[] = [];
    for (const [k, r] of this.ranges.entries()) replies.push(await scanPartition(this.inputs, req, r, this.products[k]));
    return replies;
  }

  async close(): Promise<void> {}
}
