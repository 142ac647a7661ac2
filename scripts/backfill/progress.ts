/**
 * Progress of a backfill on stderr: a bar redrawn in place on a terminal, plain lines every few
 * seconds otherwise (CI logs, files), or nothing.
 */

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export interface ProgressSnapshot {
  /** Files the inputs name, once counted (counting runs beside the backfill). */
  total?: number;
  /** Files with a result line, earlier runs included. */
  done: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** Uploads S3 accepted in this run. */
  uploaded: number;
  /** Results written in this run, and since when. */
  doneThisRun: number;
  startedAt: number;
}

/** Redraws of the bar at most this often. */
const BAR_INTERVAL_MS = 200;
/** A plain line this often when not on a terminal. */
export const LINE_INTERVAL_MS = 10_000;
const BAR_WIDTH = 24;

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Images per second in this run, and the time left at that rate (when the total is known). */
export function rateAndEta(p: ProgressSnapshot, now = Date.now()): { rate: number; etaSeconds?: number } {
  const elapsed = Math.max(0.001, (now - p.startedAt) / 1000);
  const rate = p.doneThisRun / elapsed;
  if (p.total === undefined || rate <= 0) return { rate };
  return { rate, etaSeconds: Math.max(0, p.total - p.done) / rate };
}

export function formatLine(p: ProgressSnapshot, now = Date.now()): string {
  const { rate, etaSeconds } = rateAndEta(p, now);
  const of = p.total === undefined ? '' : `/${p.total} (${p.total ? Math.floor((100 * p.done) / p.total) : 100}%)`;
  return (
    `backfill: ${p.done}${of} done: ${p.succeeded} succeeded, ${p.failed} failed, ${p.skipped} skipped; ` +
    `${p.uploaded} uploaded; ${rate.toFixed(1)} images/s; ETA ${etaSeconds === undefined ? '?' : formatDuration(etaSeconds)}`
  );
}

export function formatBar(p: ProgressSnapshot, now = Date.now()): string {
  const { rate, etaSeconds } = rateAndEta(p, now);
  const share = p.total ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(share * BAR_WIDTH);
  const bar = p.total === undefined ? '?'.repeat(BAR_WIDTH) : '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled);
  const of = p.total === undefined ? `${p.done}/…` : `${p.done}/${p.total} ${Math.floor(share * 100)}%`;
  return `${bar} ${of} | ${rate.toFixed(1)} img/s | ETA ${etaSeconds === undefined ? '?' : formatDuration(etaSeconds)} | ok ${p.succeeded} failed ${p.failed} skipped ${p.skipped}`;
}

export interface ProgressReporter {
  update(snapshot: () => ProgressSnapshot): void;
  /** Draw the last state and leave the line (the bar) or print a last line. */
  stop(): void;
}

export function createProgress(mode: ProgressMode, stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number } = process.stderr): ProgressReporter {
  const resolved = mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : mode;
  if (resolved === 'none') return { update() {}, stop() {} };
  const interval = resolved === 'bar' ? BAR_INTERVAL_MS : LINE_INTERVAL_MS;
  let source: (() => ProgressSnapshot) | undefined;
  const draw = () => {
    if (!source) return;
    if (resolved === 'bar') {
      const line = formatBar(source());
      stream.write(`\r${line.slice(0, (stream.columns ?? 200) - 1)}\x1b[K`);
    } else {
      stream.write(`${formatLine(source())}\n`);
    }
  };
  const timer = setInterval(draw, interval);
  timer.unref();
  return {
    update(snapshot) {
      source = snapshot;
    },
    stop() {
      clearInterval(timer);
      draw();
      if (resolved === 'bar' && source) stream.write('\n');
    },
  };
}
