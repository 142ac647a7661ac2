import { describe, expect, it } from 'vitest';
import { convexHull, minAreaRect, type Point, type Quad, rectCorners } from '#shared/inference/tasks/ocr/geometry.ts';
import { readingOrder } from '#shared/inference/tasks/ocr/order.ts';
import { charsetFromDictionary, ctcDecode } from '#shared/inference/tasks/ocr/recognize.ts';
import { connectedRegions, findTextRegions, unclip, unclipDistance } from '#shared/inference/tasks/ocr/regions.ts';

const near = (a: Point, b: Point) => {
  expect(a[0]).toBeCloseTo(b[0], 6);
  expect(a[1]).toBeCloseTo(b[1], 6);
};

describe('minimum-area rectangle', () => {
  it('is the box itself for an axis-aligned rectangle of points', () => {
    const points: Point[] = [];
    for (let x = 0; x <= 10; x++) for (let y = 0; y <= 4; y++) points.push([x + 5, y + 2]);
    const rect = minAreaRect(points);
    expect(rect.width * rect.height).toBeCloseTo(40, 6);
    const corners = rectCorners(rect);
    [[5, 2], [15, 2], [15, 6], [5, 6]].forEach((p, i) => near(corners[i]!, p as Point));
  });

  it('follows a rotated rectangle instead of its axis-aligned bounds', () => {
    const angle = Math.PI / 6;
    const c = Math.cos(angle), s = Math.sin(angle);
    const points: Point[] = [];
    for (let u = 0; u <= 20; u++) for (let v = 0; v <= 5; v++) points.push([100 + u * c - v * s, 50 + u * s + v * c]);
    const rect = minAreaRect(points);
    expect(Math.max(rect.width, rect.height)).toBeCloseTo(20, 6);
    expect(Math.min(rect.width, rect.height)).toBeCloseTo(5, 6);
    // The top edge of the quad runs along the text, left to right, down the 30° slope.
    const [tl, tr] = rectCorners(rect);
    expect(Math.atan2(tr[1] - tl[1], tr[0] - tl[0])).toBeCloseTo(angle, 6);
    near(tl, [100, 50]);
  });

  it('drops interior and collinear points from the hull', () => {
    expect(convexHull([[0, 0], [2, 0], [4, 0], [4, 4], [0, 4], [2, 2]]).length).toBe(4);
  });
});

describe('unclip', () => {
  it('grows each side by area × ratio / perimeter', () => {
    const rect = { cx: 0, cy: 0, width: 100, height: 20, ux: 1, uy: 0 };
    expect(unclipDistance(rect, 1.5)).toBeCloseTo((2000 * 1.5) / 240, 9);
    const grown = unclip(rect, 1.5);
    expect(grown.width).toBeCloseTo(100 + 25, 9);
    expect(grown.height).toBeCloseTo(20 + 25, 9);
  });
});

describe('text regions', () => {
  const map = (width: number, height: number, boxes: [number, number, number, number][]) => {
    const data = new Float32Array(width * height);
    for (const [x0, y0, x1, y1] of boxes) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) data[y * width + x] = 0.9;
    return { data, width, height };
  };

  it('finds one region per 8-connected blob, touching diagonals included', () => {
    const bitmap = new Uint8Array(25);
    for (const i of [0, 6, 12, 4]) bitmap[i] = 1; // a diagonal, and a lone corner pixel
    expect(connectedRegions(bitmap, 5, 5).length).toBe(2);
  });

  it('returns boxes around confident blobs and drops specks below the minimum size', () => {
    const settings = { binarizationThreshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, minSize: 3, maxCandidates: 100 };
    const regions = findTextRegions(map(100, 60, [[10, 10, 60, 20], [80, 40, 81, 41]]), settings);
    expect(regions.length).toBe(1);
    const [tl, , br] = regions[0]!.quad;
    expect(tl[0]).toBeLessThan(10);
    expect(br[0]).toBeGreaterThan(60);
  });
});

describe('CTC greedy decoding', () => {
  const charset = charsetFromDictionary('a\nb\nl\no\n');
  // classes: blank, a, b, l, o, space
  const steps = (...best: number[]) => {
    const scores = new Float32Array(best.length * 6);
    best.forEach((k, t) => {
      scores.fill(0.02, t * 6, t * 6 + 6);
      scores[t * 6 + k] = 0.9;
    });
    return ctcDecode(scores, best.length, charset);
  };

  it('has blank first and the space last', () => {
    expect(charset.classes).toEqual(['', 'a', 'b', 'l', 'o', ' ']);
  });

  it('merges repeats, keeps a letter repeated across a blank, and keeps spaces between words', () => {
    // "ab ba" then "ll" via blank: a a b 0 _ b a 0 l 0 l
    expect(steps(1, 1, 2, 0, 5, 2, 1, 0, 3, 0, 3).text).toBe('ab ball');
  });

  it('averages the winning probabilities of the characters kept', () => {
    expect(steps(1, 0, 2).confidence).toBeCloseTo(0.9, 6);
    expect(steps(0, 0).text).toBe('');
    expect(steps(0, 0).confidence).toBe(0);
  });
});

describe('reading order', () => {
  const box = (x: number, y: number, w = 50, h = 20): { box: Quad; id: string } => ({
    box: [[x, y], [x + w, y], [x + w, y + h], [x, y + h]],
    id: `${x},${y}`,
  });

  it('reads lines top to bottom and boxes on a line left to right, despite a small baseline shift', () => {
    const ordered = readingOrder([box(300, 104), box(10, 40), box(10, 100), box(200, 36), box(150, 97)]);
    expect(ordered.map((b) => b.id)).toEqual(['10,40', '200,36', '10,100', '150,97', '300,104']);
  });
});
