import type { Candidate, Corners } from './candidates.ts';

/**
 * Class-wise non-maximum suppression: among boxes of the same label, a box overlapping a
 * better-scored kept one by more than the IoU threshold is the same object seen twice and is
 * dropped. Boxes of different labels never suppress each other (a person on a horse keeps both).
 */

/**
 * Candidates fed to NMS at most, best first. NMS is quadratic per label; a detector with a
 * threshold near 0 can pass thousands, and beyond the best few thousand none would survive
 * maxObjects anyway.
 */
export const MAX_NMS_CANDIDATES = 5000;

export function intersectionOverUnion(a: Corners, b: Corners): number {
  const width = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const height = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (width <= 0 || height <= 0) return 0;
  const intersection = width * height;
  const union = area(a) + area(b) - intersection;
  return union > 0 ? intersection / union : 0;
}

const area = (c: Corners) => Math.max(0, c[2] - c[0]) * Math.max(0, c[3] - c[1]);

/** The kept candidates, best first (ties: earlier candidate first), at most `maxObjects`. */
export function classWiseNms(candidates: readonly Candidate[], iouThreshold: number, maxObjects: number): Candidate[] {
  const ranked = candidates
    .map((candidate, order) => ({ candidate, order }))
    .sort((x, y) => y.candidate.score - x.candidate.score || x.order - y.order)
    .slice(0, MAX_NMS_CANDIDATES);
  const keptByLabel = new Map<number, Candidate[]>();
  const kept: Candidate[] = [];
  for (const { candidate } of ranked) {
    const sameLabel = keptByLabel.get(candidate.labelIndex) ?? [];
    if (sameLabel.some((k) => intersectionOverUnion(k.corners, candidate.corners) > iouThreshold)) continue;
    sameLabel.push(candidate);
    keptByLabel.set(candidate.labelIndex, sameLabel);
    kept.push(candidate);
    if (kept.length === maxObjects) break;
  }
  return kept;
}
