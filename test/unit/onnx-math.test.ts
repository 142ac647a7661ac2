import { describe, expect, it } from 'vitest';
import { softmax, topK } from '#shared/inference/tasks/classification/scores.ts';

const sum = (values: ArrayLike<number>) => Array.from(values).reduce((a, b) => a + b, 0);

describe('softmax', () => {
  it('sums to 1', () => {
    for (const logits of [[1, 2, 3], [-5, 0, 5, 10], [0.1], [3, 3, 3, 3], [-1000, -999, -998]]) {
      expect(sum(softmax(logits)), JSON.stringify(logits)).toBeCloseTo(1, 12);
    }
  });

  it('matches exp(x_i) / Σ exp(x_j) on small inputs', () => {
    for (const logits of [[1, 2, 3], [0, 0], [-2, 0.5, 1.25, 4], [0.3]]) {
      const denominator = sum(logits.map(Math.exp));
      const direct = logits.map((x) => Math.exp(x) / denominator);
      const actual = Array.from(softmax(logits));
      actual.forEach((p, i) => expect(p, `${JSON.stringify(logits)}[${i}]`).toBeCloseTo(direct[i]!, 12));
    }
  });

  it('stays finite and exact for large logits such as [1000, 1001]', () => {
    // exp(1000) overflows a double; the answer is still e^0/(e^0+e^1), e^1/(e^0+e^1).
    const [low, high] = Array.from(softmax([1000, 1001]));
    expect(low).toBeCloseTo(1 / (1 + Math.E), 12);
    expect(high).toBeCloseTo(Math.E / (1 + Math.E), 12);
  });

  it('stays finite for very negative logits', () => {
    const probabilities = Array.from(softmax([-1000, -1001, -1002]));
    for (const p of probabilities) expect(Number.isFinite(p)).toBe(true);
    expect(sum(probabilities)).toBeCloseTo(1, 12);
  });

  it('gives equal logits equal shares', () => {
    expect(Array.from(softmax([7, 7, 7, 7]))).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  it('does not change when every logit moves by the same amount', () => {
    const base = Array.from(softmax([0.5, -1, 2]));
    const shifted = Array.from(softmax([100.5, 99, 102]));
    shifted.forEach((p, i) => expect(p).toBeCloseTo(base[i]!, 12));
  });

  it('keeps the order of the logits', () => {
    const [a, b, c] = Array.from(softmax([2, -1, 0.5]));
    expect(a).toBeGreaterThan(c!);
    expect(c).toBeGreaterThan(b!);
  });

  it('takes a Float32Array, as onnxruntime returns', () => {
    expect(sum(softmax(new Float32Array([1, 2, 3])))).toBeCloseTo(1, 12);
  });
});

describe('topK', () => {
  const labels = ['red', 'green', 'blue', 'black', 'white'];

  it('returns the k best labels, best first, with their scores', () => {
    expect(topK([0.1, 0.4, 0.05, 0.3, 0.15], labels, 3)).toEqual([
      { label: 'green', score: 0.4 },
      { label: 'black', score: 0.3 },
      { label: 'white', score: 0.15 },
    ]);
  });

  it('breaks ties by label order', () => {
    expect(topK([0.2, 0.3, 0.2, 0.3, 0], labels, 5).map((l) => l.label)).toEqual(['green', 'black', 'red', 'blue', 'white']);
  });

  it('breaks ties by label order for all-equal scores', () => {
    expect(topK([0.2, 0.2, 0.2, 0.2, 0.2], labels, 3).map((l) => l.label)).toEqual(['red', 'green', 'blue']);
  });

  it('returns every label when k is larger than the number of labels', () => {
    const result = topK([0.5, 0.1, 0.2, 0.15, 0.05], labels, 50);
    expect(result.map((l) => l.label)).toEqual(['red', 'blue', 'black', 'green', 'white']);
  });

  it('returns one label for k = 1', () => {
    expect(topK([0.1, 0.2, 0.7, 0, 0], labels, 1)).toEqual([{ label: 'blue', score: 0.7 }]);
  });

  it('orders negative scores (raw logits) correctly too', () => {
    expect(topK([-3, -1, -2], ['a', 'b', 'c'], 3).map((l) => l.label)).toEqual(['b', 'c', 'a']);
  });

  it('does not reorder the scores it is given', () => {
    const scores = [0.1, 0.4, 0.05, 0.3, 0.15];
    topK(scores, labels, 5);
    expect(scores).toEqual([0.1, 0.4, 0.05, 0.3, 0.15]);
  });

  it('takes the probabilities of softmax, with the largest logit first', () => {
    const result = topK(softmax([1, 3, 2]), ['a', 'b', 'c'], 3);
    expect(result.map((l) => l.label)).toEqual(['b', 'c', 'a']);
    expect(sum(result.map((l) => l.score))).toBeCloseTo(1, 5);
  });
});
