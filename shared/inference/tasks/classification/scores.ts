/** Classification scores: logits to probabilities, and the best labels. */

/** Numerically stable softmax. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** The k best (label, score) pairs, best first; ties keep label order. */
export function topK(scores: ArrayLike<number>, labels: readonly string[], k: number): { label: string; score: number }[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order.slice(0, k).map((i) => ({ label: labels[i] ?? `class_${i}`, score: Number(scores[i]!.toFixed(6)) }));
}
