/**
 * Logging for long jobs: human lines on a terminal, JSON lines otherwise (for cluster log collectors), always
 * on stderr so stdout stays clean. Every line carries the elapsed time.
 */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Progress of a long stage: k of total (plus fields such as rate and ETA). Throttled. */
  progress(stage: string, done: number, total: number, fields?: Record<string, unknown>): void;
}

export function createLogger(opts: { json?: boolean; quiet?: boolean } = {}): Logger {
  const json = opts.json ?? !process.stderr.isTTY;
  const t0 = Date.now();
  let lastProgress = 0;
  const emit = (level: string, msg: string, fields?: Record<string, unknown>) => {
    if (opts.quiet && level === 'info') return;
    const elapsed = (Date.now() - t0) / 1000;
    if (json) {
      process.stderr.write(JSON.stringify({ t: Number(elapsed.toFixed(3)), level, msg, ...fields }) + '\n');
    } else {
      process.stderr.write(`[${elapsed.toFixed(1).padStart(6)}s] ${level === 'warn' ? 'warning: ' : ''}${msg}\n`);
    }
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    progress(stage, done, total, fields) {
      const now = Date.now();
      if (done < total && now - lastProgress < 1000) return;
      lastProgress = now;
      const elapsed = (now - t0) / 1000;
      if (opts.quiet) return;
      if (json) {
        process.stderr.write(JSON.stringify({ t: Number(elapsed.toFixed(3)), level: 'progress', stage, done, total, ...fields }) + '\n');
      } else {
        const pct = total > 0 ? ((100 * done) / total).toFixed(0) : '100';
        const extra = fields ? Object.entries(fields).map(([k, v]) => `, ${k} ${v}`).join('') : '';
        process.stderr.write(`[${elapsed.toFixed(1).padStart(6)}s] ${stage}: ${done}/${total} (${pct}%${extra})\n`);
      }
    },
  };
}

/** A logger that records lines (tests, embedded use). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`warning: ${m}`),
    progress: () => {},
  };
}
