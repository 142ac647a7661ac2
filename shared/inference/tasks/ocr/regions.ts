import { expandRect, minAreaRect, type Point, type Quad, rectCorners, type RotatedRect } from './geometry.ts';

/**
 * From the detector's probability map to text boxes, after DB (Differentiable Binarization,
 * Liao et al. 2020) post-processing: binarise, take each connected region, fit a rotated
 * rectangle, keep it if the map is confident inside it, then grow it back by the offset the
 * network was trained to shrink it by (distance = area × ratio / perimeter).
 */

export interface ProbabilityMap {
  data: Float32Array;
  width: number;
  height: number;
}

export interface RegionSettings {
  binarizationThreshold: number;
  boxThreshold: number;
  unclipRatio: number;
  minSize: number;
  maxCandidates: number;
}

export interface TextRegion {
  /** Corners in probability-map pixels, clockwise from top-left. */
  quad: Quad;
  /** Mean probability inside the region's tight rectangle. */
  score: number;
}

/** 1 where the map says text. */
export function binarize(map: ProbabilityMap, threshold: number): Uint8Array {
  const bitmap = new Uint8Array(map.data.length);
  for (let i = 0; i < bitmap.length; i++) bitmap[i] = map.data[i]! > threshold ? 1 : 0;
  return bitmap;
}

/**
 * 8-connected regions of a bitmap, each as the outline points that decide its convex hull: the
 * leftmost and rightmost pixel of every row it spans (pixel centres, as contour tracing gives).
 */
export function connectedRegions(bitmap: Uint8Array, width: number, height: number): Point[][] {
  const seen = new Uint8Array(bitmap.length);
  const stack = new Int32Array(bitmap.length);
  const regions: Point[][] = [];
  const rowMin = new Int32Array(height);
  const rowMax = new Int32Array(height);
  for (let start = 0; start < bitmap.length; start++) {
    if (!bitmap[start] || seen[start]) continue;
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    // Raster order makes the first pixel found the region's topmost: rows only grow downwards.
    const minRow = (start - (start % width)) / width;
    let maxRow = minRow;
    rowMin[minRow] = width;
    rowMax[minRow] = -1;
    while (top > 0) {
      const index = stack[--top]!;
      const x = index % width;
      const y = (index - x) / width;
      while (maxRow < y) {
        maxRow++;
        rowMin[maxRow] = width;
        rowMax[maxRow] = -1;
      }
      if (x < rowMin[y]!) rowMin[y] = x;
      if (x > rowMax[y]!) rowMax[y] = x;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const next = ny * width + nx;
          if (bitmap[next] && !seen[next]) {
            seen[next] = 1;
            stack[top++] = next;
          }
        }
      }
    }
    const outline: Point[] = [];
    for (let r = minRow; r <= maxRow; r++) {
      if (rowMax[r]! < 0) continue;
      outline.push([rowMin[r]!, r]);
      if (rowMax[r] !== rowMin[r]) outline.push([rowMax[r]!, r]);
    }
    regions.push(outline);
  }
  return regions;
}

/** Mean of the map over the pixels whose centres lie inside a convex quad. */
export function meanInside(map: ProbabilityMap, quad: Quad): number {
  const ys = quad.map((p) => p[1]);
  const top = Math.max(0, Math.ceil(Math.min(...ys)));
  const bottom = Math.min(map.height - 1, Math.floor(Math.max(...ys)));
  let sum = 0;
  let count = 0;
  for (let y = top; y <= bottom; y++) {
    // Where the row crosses the quad's edges: a convex shape is one span per row.
    let left = Infinity, right = -Infinity;
    for (let i = 0; i < 4; i++) {
      const [ax, ay] = quad[i]!;
      const [bx, by] = quad[(i + 1) % 4]!;
      if ((ay <= y && by >= y) || (by <= y && ay >= y)) {
        const x = ay === by ? Math.min(ax, bx) : ax + ((y - ay) / (by - ay)) * (bx - ax);
        const x2 = ay === by ? Math.max(ax, bx) : x;
        left = Math.min(left, x);
        right = Math.max(right, x2);
      }
    }
    const from = Math.max(0, Math.ceil(left));
    const to = Math.min(map.width - 1, Math.floor(right));
    for (let x = from; x <= to; x++) {
      sum += map.data[y * map.width + x]!;
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/** DB's offset for growing a shrunk text kernel back to the whole text: area × ratio / perimeter. */
export function unclipDistance(rect: RotatedRect, ratio: number): number {
  const perimeter = 2 * (rect.width + rect.height);
  return perimeter === 0 ? 0 : (rect.width * rect.height * ratio) / perimeter;
}

/**
 * Grow a rectangle by DB's offset. Offsetting a rectangle outwards with round joins and taking the
 * minimum-area rectangle of the result gives the rectangle grown by the offset on every side.
 */
export function unclip(rect: RotatedRect, ratio: number): RotatedRect {
  return expandRect(rect, unclipDistance(rect, ratio));
}

const shortSide = (rect: RotatedRect) => Math.min(rect.width, rect.height);

/** Text regions of a probability map, in map pixels. */
export function findTextRegions(map: ProbabilityMap, settings: RegionSettings): TextRegion[] {
  const bitmap = binarize(map, settings.binarizationThreshold);
  const regions = connectedRegions(bitmap, map.width, map.height).slice(0, settings.maxCandidates);
  const found: TextRegion[] = [];
  for (const outline of regions) {
    const tight = minAreaRect(outline);
    if (shortSide(tight) < settings.minSize) continue;
    const score = meanInside(map, rectCorners(tight));
    if (score < settings.boxThreshold) continue;
    const grown = unclip(tight, settings.unclipRatio);
    // The grown box must still be clearly bigger than noise.
    if (shortSide(grown) < settings.minSize + 2) continue;
    found.push({ quad: rectCorners(grown), score });
  }
  return found;
}

/** Map a quad from probability-map pixels to image pixels, clamped inside the image. */
export function toImageQuad(quad: Quad, scaleX: number, scaleY: number, width: number, height: number): Quad {
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  return quad.map(([x, y]) => [clamp(Math.round(x * scaleX), width - 1), clamp(Math.round(y * scaleY), height - 1)]) as Quad;
}
