/**
 * Plane geometry for text boxes: convex hull, minimum-area rotated rectangle (rotating calipers)
 * and corner order. Coordinates are image pixels, x right and y down.
 */

export type Point = [x: number, y: number];
/** Four corners clockwise on screen, from the top-left of the text. */
export type Quad = [Point, Point, Point, Point];

/** A rotated rectangle: centre, side lengths, and the unit direction of the `width` side. */
export interface RotatedRect {
  cx: number;
  cy: number;
  width: number;
  height: number;
  /** Unit vector along the width side; the height side is (−uy, ux). */
  ux: number;
  uy: number;
}

const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** Andrew's monotone chain; collinear points are dropped. Fewer than three points come back as they are (deduplicated). */
export function convexHull(points: readonly Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const unique = sorted.filter((p, i) => i === 0 || p[0] !== sorted[i - 1]![0] || p[1] !== sorted[i - 1]![1]);
  if (unique.length < 3) return unique;
  const lower: Point[] = [];
  for (const p of unique) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = unique.length - 1; i >= 0; i--) {
    const p = unique[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/**
 * The smallest-area rectangle around a point set. One side of it lies along an edge of the convex
 * hull (Freeman & Shapira), so each hull edge is tried as a direction: O(h²) on the hull, which is
 * small for text regions.
 */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) return { cx: 0, cy: 0, width: 0, height: 0, ux: 1, uy: 0 };
  if (hull.length === 1) return { cx: hull[0]![0], cy: hull[0]![1], width: 0, height: 0, ux: 1, uy: 0 };
  let best: RotatedRect | undefined;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (length === 0) continue;
    const ux = (b[0] - a[0]) / length;
    const uy = (b[1] - a[1]) / length;
    let minU = Infinity, maxU = -Infinity, minV = Infinity, maxV = -Infinity;
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy;
      const v = -p[0] * uy + p[1] * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea - 1e-9) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { cx: cu * ux - cv * uy, cy: cu * uy + cv * ux, width: maxU - minU, height: maxV - minV, ux, uy };
    }
  }
  return best!;
}

/** Grow a rectangle by `distance` on every side. */
export function expandRect(rect: RotatedRect, distance: number): RotatedRect {
  return { ...rect, width: rect.width + 2 * distance, height: rect.height + 2 * distance };
}

/**
 * A rectangle's corners in reading order: the more horizontal side is the top edge, run left to
 * right, so the quad is clockwise on screen from the top-left. Text tilted less than 45° keeps its
 * own top-left corner.
 */
export function rectCorners(rect: RotatedRect): Quad {
  let { ux, uy, width: along, height: across } = rect;
  if (Math.abs(uy) > Math.abs(ux)) {
    // The height side is the more horizontal one: read along it instead.
    [ux, uy] = [-uy, ux];
    [along, across] = [across, along];
  }
  if (ux < 0 || (ux === 0 && uy > 0)) [ux, uy] = [-ux, -uy];
  // Perpendicular pointing down the screen.
  const vx = -uy;
  const vy = ux;
  const hu = along / 2;
  const hv = across / 2;
  const at = (su: number, sv: number): Point => [rect.cx + su * hu * ux + sv * hv * vx, rect.cy + su * hu * uy + sv * hv * vy];
  return [at(-1, -1), at(1, -1), at(1, 1), at(-1, 1)];
}

export const distance = (a: Point, b: Point) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** Side lengths of a quad: width from its top and bottom edges, height from its left and right. */
export function quadSize(quad: Quad): { width: number; height: number } {
  const [tl, tr, br, bl] = quad;
  return { width: Math.max(distance(tl, tr), distance(bl, br)), height: Math.max(distance(tl, bl), distance(tr, br)) };
}
