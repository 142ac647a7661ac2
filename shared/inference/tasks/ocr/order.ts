import type { Quad } from './geometry.ts';

/**
 * Reading order of boxes: lines top to bottom, boxes within a line left to right. Two boxes are on
 * the same line when their vertical centres are closer than half the shorter box's height, so a
 * slightly tilted or uneven baseline stays one line.
 */

/** Fraction of the shorter box's height within which two vertical centres are the same line. */
export const SAME_LINE_TOLERANCE = 0.5;

const centreY = (q: Quad) => (q[0][1] + q[1][1] + q[2][1] + q[3][1]) / 4;
const left = (q: Quad) => Math.min(q[0][0], q[3][0]);
const boxHeight = (q: Quad) => Math.max(q[3][1] - q[0][1], q[2][1] - q[1][1], 1);

export function readingOrder<T extends { box: Quad }>(items: readonly T[]): T[] {
  const byTop = [...items].sort((a, b) => centreY(a.box) - centreY(b.box) || left(a.box) - left(b.box));
  const rows: { centre: number; height: number; members: T[] }[] = [];
  for (const item of byTop) {
    const y = centreY(item.box);
    const h = boxHeight(item.box);
    const row = rows.at(-1);
    if (row && Math.abs(y - row.centre) < SAME_LINE_TOLERANCE * Math.min(h, row.height)) {
      row.members.push(item);
      row.centre = (row.centre * (row.members.length - 1) + y) / row.members.length;
    } else {
      rows.push({ centre: y, height: h, members: [item] });
    }
  }
  return rows.flatMap((row) => row.members.sort((a, b) => left(a.box) - left(b.box)));
}
