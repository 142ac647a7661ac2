/**
 * mulberry32: a tiny seeded generator of floats in [0, 1). Model weights, bench pictures and test
 * bytes use it so the same seed always gives the same thing; reproducibility, not quality, is the point.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
