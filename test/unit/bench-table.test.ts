import { describe, expect, it } from 'vitest';
import { cellsOf, formatNumber, ratioOf, renderMarkdown, renderTable, type Row, verdictOf } from '../../scripts/bench/table.ts';

const worker: Row = {
  id: 'worker.resnet18.1mp.p50',
  section: '2. Worker',
  measure: 'worker p50 · resnet18 · 1 MP',
  value: 57.5,
  unit: 'ms',
  limit: { label: 'limit (1)', value: 50, unit: 'ms' },
  target: { kind: 'max', ratio: 1.15 },
};

const throughput: Row = {
  id: 'backfill.throughput',
  section: '4. Backfill',
  measure: '500 images',
  value: 20,
  unit: 'img/s',
  limit: { label: 'compute-bound', value: 40, unit: 'img/s' },
  target: { kind: 'min', ratio: 0.8 },
};

describe('ratio and verdict', () => {
  it('divides the value by its limit', () => {
    expect(ratioOf(worker)).toBeCloseTo(1.15, 10);
    expect(ratioOf(throughput)).toBe(0.5);
  });

  it('meets an at-most target at the boundary and misses it above', () => {
    expect(verdictOf(worker)).toBe('met');
    expect(verdictOf({ ...worker, value: 58 })).toBe('missed');
  });

  it('misses an at-least target below it', () => {
    expect(verdictOf(throughput)).toBe('missed');
    expect(verdictOf({ ...throughput, value: 32 })).toBe('met');
  });

  it('has no ratio without a value or a limit, and no verdict without a target', () => {
    expect(ratioOf({ ...worker, value: null })).toBeUndefined();
    expect(ratioOf({ ...worker, limit: undefined })).toBeUndefined();
    expect(verdictOf({ ...worker, target: undefined })).toBeUndefined();
  });
});

describe('formatNumber', () => {
  it('keeps about three significant digits', () => {
    expect(formatNumber(0.41234)).toBe('0.412');
    expect(formatNumber(4.1234)).toBe('4.12');
    expect(formatNumber(41.234)).toBe('41.2');
    expect(formatNumber(412.34)).toBe('412');
    expect(formatNumber(4123.4)).toBe('4123');
  });
});

describe('cells', () => {
  it('show value, limit with target, and ratio with its verdict', () => {
    expect(cellsOf(worker)).toEqual(['worker p50 · resnet18 · 1 MP', '57.5 ms', 'limit (1) 50.0 ms · target ≤ 1.15×', '1.15 ✓']);
    expect(cellsOf(throughput)[3]).toBe('0.50 ✗');
  });

  it('show n/a for a figure that could not be measured', () => {
    expect(cellsOf({ ...worker, value: null })).toEqual(['worker p50 · resnet18 · 1 MP', 'n/a', 'limit (1) 50.0 ms · target ≤ 1.15×', '']);
  });
});

describe('renderTable', () => {
  it('groups rows under their section, aligns columns and puts notes under their row', () => {
    const text = renderTable([worker, { ...worker, id: 'x', measure: 'other', note: 'why' }, throughput]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^measure\s+value\s+limit \/ target\s+ratio$/);
    expect(lines.filter((l) => l === '2. Worker')).toHaveLength(1);
    expect(lines).toContain('4. Backfill');
    expect(lines[lines.indexOf('    why') - 1]).toMatch(/^other /);
    // Values are right-aligned in one column.
    const end = (line: string, value: string) => line.indexOf(value) + value.length;
    const workerLine = lines.find((l) => l.startsWith('worker p50'))!;
    const throughputLine = lines.find((l) => l.startsWith('500 images'))!;
    expect(end(workerLine, '57.5 ms')).toBe(end(throughputLine, '20.0 img/s'));
  });
});

describe('renderMarkdown', () => {
  it('writes one table per section under its heading, one row per figure, escaping pipes', () => {
    const md = renderMarkdown([{ ...worker, measure: 'a | b', note: 'n' }, throughput]).split('\n');
    expect(md.slice(0, 5)).toEqual([
      '### 2. Worker',
      '',
      '| measure | value | limit / target | ratio |',
      '|---|--:|---|--:|',
      '| a \\| b<br><sub>n</sub> | 57.5 ms | limit (1) 50.0 ms · target ≤ 1.15× | 1.15 ✓ |',
    ]);
    expect(md[5]).toBe('');
    expect(md[6]).toBe('### 4. Backfill');
    expect(md.at(-1)).toBe('| 500 images | 20.0 img/s | compute-bound 40.0 img/s · target ≥ 0.8× | 0.50 ✗ |');
  });
});
