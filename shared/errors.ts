/**
 * Typed errors, one class per failure mode. Every error carries a stable `code`, whether retrying can help,
 * and, for input errors, where the problem is (file, line, sample) and how to fix it. Process exit codes are
 * derived from the code in one place ({@link exitCodeFor}); gRPC statuses in shared/protocol/status.ts.
 */
export type ErrorCode =
  | 'USAGE'
  | 'INPUT_NOT_FOUND'
  | 'INPUT_FORMAT'
  | 'INPUT_MISMATCH'
  | 'NO_DATA'
  | 'NUMERIC'
  | 'RESOURCE'
  | 'UNAUTHENTICATED'
  | 'UNAVAILABLE'
  | 'PROTOCOL'
  | 'DEADLINE'
  | 'INTERNAL';

export interface ErrorLocation {
  file?: string;
  line?: number;
  sample?: string;
  snp?: string;
}

export class GwasError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly location: ErrorLocation;
  readonly hint?: string;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { location?: ErrorLocation; hint?: string; cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.location = opts.location ?? {};
    this.hint = opts.hint;
  }

  /** One human-readable paragraph: where, what, and the fix. */
  describe(): string {
    const where: string[] = [];
    if (this.location.file)
      where.push(this.location.file + (this.location.line ? `:${this.location.line}` : ''));
    if (this.location.sample) where.push(`sample ${this.location.sample}`);
    if (this.location.snp) where.push(`SNP ${this.location.snp}`);
    const head = where.length ? `${where.join(', ')}: ` : '';
    return `${head}${this.message}${this.hint ? `\n  fix: ${this.hint}` : ''}`;
  }
}

/** Bad command line: unknown or conflicting flags. */
export class UsageError extends GwasError {
  constructor(message: string, hint?: string) {
    super('USAGE', message, { hint });
  }
}

/** A file the user named is malformed, missing, or inconsistent with another. */
export class InputError extends GwasError {
  constructor(
    code: 'INPUT_NOT_FOUND' | 'INPUT_FORMAT' | 'INPUT_MISMATCH' | 'NO_DATA',
    message: string,
    location: ErrorLocation,
    hint?: string,
  ) {
    super(code, message, { location, hint });
  }
}

/** A numerical failure of a whole analysis (not of one SNP, which becomes an NA row). */
export class NumericError extends GwasError {
  constructor(message: string, hint?: string) {
    super('NUMERIC', message, { hint });
  }
}

/** The analysis would exceed a resource limit the user set. */
export class ResourceError extends GwasError {
  constructor(message: string, hint?: string) {
    super('RESOURCE', message, { hint });
  }
}

/**
 * A distributed run failed between processes: the join token was refused (`UNAUTHENTICATED`), the peer could
 * not be reached in time (`UNAVAILABLE`, retryable), the peers disagree (`PROTOCOL`: versions, job, data), or a
 * synchronised step did not finish by its deadline (`DEADLINE`: a FarmCPU round with no workers left).
 */
export class DistributedError extends GwasError {
  constructor(
    code: 'UNAUTHENTICATED' | 'UNAVAILABLE' | 'PROTOCOL' | 'DEADLINE',
    message: string,
    opts: { hint?: string; cause?: unknown } = {},
  ) {
    super(code, message, { ...opts, retryable: code === 'UNAVAILABLE' });
  }
}

/** Exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  input: 3,
  numeric: 4,
  resource: 5,
  distributed: 6,
} as const;

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof GwasError)) return EXIT.internal;
  switch (err.code) {
    case 'USAGE':
      return EXIT.usage;
    case 'INPUT_NOT_FOUND':
    case 'INPUT_FORMAT':
    case 'INPUT_MISMATCH':
    case 'NO_DATA':
      return EXIT.input;
    case 'NUMERIC':
      return EXIT.numeric;
    case 'RESOURCE':
      return EXIT.resource;
    case 'UNAUTHENTICATED':
    case 'UNAVAILABLE':
    case 'PROTOCOL':
    case 'DEADLINE':
      return EXIT.distributed;
    default:
      return EXIT.internal;
  }
}
