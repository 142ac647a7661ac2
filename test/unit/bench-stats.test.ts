import { describe, expect, it } from 'vitest';
import { percentile, perSecond, round, roundSummary, summarize } from '../../scripts/bench/stats.ts';

describe('percentile', () => {
  it('interpolates between the two nearest ranks (numpy default)', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    expect(percentile([10, 20], 95)).toBeCloseTo(19.5, 10);
  });

  it('gives the minimum at p0 and the maximum at p100', () => {
    expect(percentile([5, 1, 9], 0)).toBe(1);
    expect(percentile([5, 1, 9], 100)).toBe(9);
  });

  it('does not depend on the order of the samples, nor reorder them', () => {
    const samples = [9, 1, 5, 3, 7];
    expect(percentile(samples, 50)).toBe(5);
    expect(samples).toEqual([9, 1, 5, 3, 7]);
  });

  it('is the sample itself for one sample', () => {
    expect(percentile([42], 95)).toBe(42);
  });

  it('refuses no samples and percentiles outside 0–100', () => {
    expect(() => percentile([], 50)).toThrow(/no samples/);
    expect(() => percentile([1], 101)).toThrow(/0–100/);
    expect(() => percentile([1], Number.NaN)).toThrow(/0–100/);
  });
});

describe('summarize', () => {
  it('reports count, min, p50, p95, max and mean', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1); // 1 … 100
    expect(summarize(samples)).toEqual({ n: 100, min: 1, p50: 50.5, p95: 95.05, max: 100, mean: 50.5 });
  });

  it('refuses no samples', () => {
    expect(() => summarize([])).toThrow(/no samples/);
  });
});

describe('perSecond', () => {
  it('turns a count over milliseconds into a rate', () => {
    expect(perSecond(500, 2_000)).toBe(250);
  });

  it('refuses a zero or negative duration', () => {
    expect(() => perSecond(1, 0)).toThrow(/positive/);
  });
});

describe('round', () => {
  it('rounds to the given digits', () => {
    expect(round(1.23456)).toBe(1.23);
    expect(round(1.23456, 3)).toBe(1.235);
  });

  it('rounds every figure of a summary but the count', () => {
    expect(roundSummary({ n: 3, min: 1.111, p50: 2.226, p95: 3.333, max: 4.444, mean: 2.5 }, 1)).toEqual({
      n: 3,
      min: 1.1,
      p50: 2.2,
      p95: 3.3,
      max: 4.4,
      mean: 2.5,
    });
  });
});
