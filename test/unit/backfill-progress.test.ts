import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, formatBar, formatDuration, formatLine, type ProgressSnapshot } from '../../scripts/backfill/progress.ts';

/** What a backfill shows while it runs: rate and ETA, a bar on a terminal, lines elsewhere. */

const at = 1_000_000;
const snapshot = (over: Partial<ProgressSnapshot> = {}): ProgressSnapshot => ({
  total: 1000,
  done: 250,
  succeeded: 240,
  failed: 8,
  skipped: 2,
  uploaded: 260,
  doneThisRun: 200,
  startedAt: at - 10_000,
  ...over,
});

describe('progress', () => {
  it('reports the rate of this run and the time left at that rate', () => {
    // 200 done in 10 s → 20/s; 750 left → 37.5 s.
    expect(formatLine(snapshot(), at)).toBe(
      'backfill: 250/1000 (25%) done: 240 succeeded, 8 failed, 2 skipped; 260 uploaded; 20.0 images/s; ETA 38s',
    );
  });

  it('has no ETA while the files are still being counted', () => {
    expect(formatLine(snapshot({ total: undefined }), at)).toMatch(/^backfill: 250 done: .* ETA \?$/);
    expect(formatBar(snapshot({ total: undefined }), at)).toMatch(/^\?{24} 250\/… \|/);
  });

  it('draws a bar a quarter full for a quarter done', () => {
    expect(formatBar(snapshot(), at)).toBe(`${'█'.repeat(6)}${'░'.repeat(18)} 250/1000 25% | 20.0 img/s | ETA 38s | ok 240 failed 8 skipped 2`);
  });

  it('formats durations for people', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(7260)).toBe('2h01m');
  });

  it('redraws in place on a terminal and ends the line when stopped', () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 200 });
    let written = '';
    stream.on('data', (c) => (written += c));
    const progress = createProgress('auto', stream);
    progress.update(() => snapshot());
    progress.stop();
    expect(written).toMatch(/^\r.*25%.*\x1b\[K\n$/);
  });

  it('prints plain lines when not on a terminal, and nothing when asked for none', () => {
    const plain = new PassThrough();
    let written = '';
    plain.on('data', (c) => (written += c));
    const lines = createProgress('auto', plain);
    lines.update(() => snapshot());
    lines.stop();
    expect(written).toMatch(/^backfill: 250\/1000 \(25%\).*\n$/);

    const silent = new PassThrough();
    let nothing = '';
    silent.on('data', (c) => (nothing += c));
    const none = createProgress('none', silent);
    none.update(() => snapshot());
    none.stop();
    expect(nothing).toBe('');
  });
});
