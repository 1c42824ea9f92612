/**
 * Logging for long jobs, always on stderr so stdout stays clean. Every line carries the elapsed time.
 * - On a terminal (text mode, stderr a TTY): human lines, and long stages draw one progress bar that is
 *   redrawn in place (`[#####-----] k/N 45% 1234/s ETA 12s`); a log line printed meanwhile clears the bar and
 *   the bar is drawn again below it. Stages without a k/N (a LAPACK eigendecomposition) show elapsed seconds.
 * - Otherwise (JSON mode, or text into a file/pipe): one line per progress report, throttled to one per
 *   second, with `done`, `total`, `rate` and `etaSeconds` fields in JSON mode.
 */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Progress of a long stage: k of total (plus fields). Throttled; `done === total` ends the stage. */
  progress(stage: string, done: number, total: number, fields?: Record<string, unknown>): void;
  /**
   * A stage without intermediate progress (e.g. the eigendecomposition): on a terminal an elapsed-time
   * indicator until the returned function is called. Optional: callers use `log.stage?.(…)`.
   */
  stage?(name: string): () => void;
}

/** "1m05s", "12s", "2h03m" for an ETA or an elapsed time. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Rate and ETA of a stage from its start time. */
export function rateAndEta(done: number, total: number, seconds: number): { rate: number; eta: number } {
  const rate = seconds > 0 ? done / seconds : 0;
  return { rate, eta: rate > 0 ? (total - done) / rate : NaN };
}

/** One progress-bar line (no newline), `width` characters of bar. */
export function progressBar(stage: string, done: number, total: number, seconds: number, width = 24): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * width);
  const { rate, eta } = rateAndEta(done, total, seconds);
  const tail = done >= total ? `done in ${formatDuration(seconds)}` : `${rate >= 1 ? `${Math.round(rate)}/s ` : ''}ETA ${formatDuration(eta)}`;
  return `${stage} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${(frac * 100).toFixed(0)}% ${tail}`;
}

export function createLogger(opts: { json?: boolean; quiet?: boolean; tty?: boolean } = {}): Logger {
  const json = opts.json ?? !process.stderr.isTTY;
  const tty = !json && (opts.tty ?? Boolean(process.stderr.isTTY));
  const t0 = Date.now();
  let lastProgress = 0;
  let stageName = '';
  let stageStart = 0;
  let bar = ''; // the bar currently drawn (TTY)
  let lastDraw = 0;
  const out = (s: string) => process.stderr.write(s);
  const clearBar = () => {
    if (bar) out('\r\x1b[K');
  };
  const redraw = () => {
    if (bar) out(bar);
  };
  const emit = (level: string, msg: string, fields?: Record<string, unknown>) => {
    if (opts.quiet && level === 'info') return;
    const elapsed = (Date.now() - t0) / 1000;
    if (json) {
      out(JSON.stringify({ t: Number(elapsed.toFixed(3)), level, msg, ...fields }) + '\n');
    } else {
      clearBar();
      out(`[${elapsed.toFixed(1).padStart(6)}s] ${level === 'warn' ? 'warning: ' : ''}${msg}\n`);
      redraw();
    }
  };
  const stageClock = (stage: string, done: number) => {
    const now = Date.now();
    if (stage !== stageName || done === 0) {
      stageName = stage;
      stageStart = now;
    }
    return (now - stageStart) / 1000;
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    progress(stage, done, total, fields) {
      if (opts.quiet) return;
      const secs = stageClock(stage, done);
      const now = Date.now();
      if (tty) {
        if (done < total && now - lastDraw < 100) return;
        lastDraw = now;
        const extra = fields ? Object.entries(fields).map(([k, v]) => ` ${k} ${v}`).join('') : '';
        clearBar();
        const line = `[${((now - t0) / 1000).toFixed(1).padStart(6)}s] ${progressBar(stage, done, total, secs)}${extra}`;
        if (done >= total) {
          bar = '';
          out(line + '\n');
        } else {
          bar = line;
          out(bar);
        }
        return;
      }
      if (done < total && now - lastProgress < 1000) return;
      lastProgress = now;
      const elapsed = (now - t0) / 1000;
      const { rate, eta } = rateAndEta(done, total, secs);
      if (json) {
        out(
          JSON.stringify({
            t: Number(elapsed.toFixed(3)),
            level: 'progress',
            stage,
            done,
            total,
            rate: Number(rate.toFixed(1)),
            etaSeconds: Number.isFinite(eta) ? Math.round(eta) : null,
            ...fields,
          }) + '\n',
        );
      } else {
        const pct = total > 0 ? ((100 * done) / total).toFixed(0) : '100';
        const extra = fields ? Object.entries(fields).map(([k, v]) => `, ${k} ${v}`).join('') : '';
        const etaText = done < total && Number.isFinite(eta) ? `, ETA ${formatDuration(eta)}` : '';
        out(`[${elapsed.toFixed(1).padStart(6)}s] ${stage}: ${done}/${total} (${pct}%${etaText}${extra})\n`);
      }
    },
    stage(name) {
      const start = Date.now();
      if (opts.quiet || !tty) return () => {};
      const draw = () => {
        clearBar();
        bar = `[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${name} … ${formatDuration((Date.now() - start) / 1000)}`;
        out(bar);
      };
      draw();
      const timer = setInterval(draw, 1000);
      timer.unref();
      return () => {
        clearInterval(timer);
        clearBar();
        bar = '';
        out(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${name}: done in ${formatDuration((Date.now() - start) / 1000)}\n`);
      };
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
