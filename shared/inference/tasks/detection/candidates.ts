import { JobFailure } from '../../../errors.ts';
import type { FloatTensor } from '../session.ts';
import type { BoxFormat, DetectionOutput } from './settings.ts';

/**
 * Reading a detector's raw outputs: per candidate box, its best label and score, and its corners
 * in model-input pixels. Boxes below the score threshold are dropped here, before NMS, which is
 * where nearly all of a YOLO export's thousands of anchors go.
 */

/** Corners in model-input pixels: left, top, right, bottom. */
export type Corners = [x1: number, y1: number, x2: number, y2: number];

export interface Candidate {
  labelIndex: number;
  score: number;
  corners: Corners;
}

interface ReadContext {
  model: string;
  labelCount: number;
  inputWidth: number;
  inputHeight: number;
  minScore: number;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export function readCandidates(
  output: DetectionOutput,
  outputs: Record<string, FloatTensor>,
  context: ReadContext,
): Candidate[] {
  return output.format === 'yolo' ? readYolo(output, outputs[output.name]!, context) : readSsd(output, outputs, context);
}

function readYolo(output: Extract<DetectionOutput, { format: 'yolo' }>, tensor: FloatTensor, context: ReadContext): Candidate[] {
  const attributes = 4 + (output.objectness ? 1 : 0) + context.labelCount;
  const perBox = output.layout === 'per-box';
  const [batch, first, second] = tensor.dims;
  const shapeOk = tensor.dims.length === 3 && batch === 1 && (perBox ? second : first) === attributes;
  if (!shapeOk) {
    const expected = perBox ? `[1, N, ${attributes}]` : `[1, ${attributes}, N]`;
    throw shapeFailure(context.model, output.name, tensor.dims, expected);
  }
  const boxes = (perBox ? first : second)!;
  // Strides into the flat data: attribute a of box i is data[i·boxStride + a·attributeStride].
  const boxStride = perBox ? attributes : 1;
  const attributeStride = perBox ? 1 : boxes;
  const { data } = tensor;
  const activate = output.activation === 'sigmoid' ? sigmoid : (x: number) => x;
  const classStart = output.objectness ? 5 : 4;
  const candidates: Candidate[] = [];
  for (let i = 0; i < boxes; i++) {
    const at = (a: number) => data[i * boxStride + a * attributeStride]!;
    const objectness = output.objectness ? activate(at(4)) : 1;
    // Cheap early exit: no class score can lift a box above objectness.
    if (objectness < context.minScore) continue;
    const best = bestLabel(context.labelCount, (c) => activate(at(classStart + c)));
    const score = objectness * best.score;
    if (score < context.minScore) continue;
    const corners = toCorners(output.box, [at(0), at(1), at(2), at(3)], output.coordinates, context);
    candidates.push({ labelIndex: best.index, score, corners });
  }
  return candidates;
}

function readSsd(
  output: Extract<DetectionOutput, { format: 'ssd' }>,
  outputs: Record<string, FloatTensor>,
  context: ReadContext,
): Candidate[] {
  const boxes = outputs[output.boxes]!;
  const scores = outputs[output.scores]!;
  const columns = context.labelCount + (output.background ? 1 : 0);
  const n = boxes.dims[1];
  if (boxes.dims.length !== 3 || boxes.dims[0] !== 1 || boxes.dims[2] !== 4) {
    throw shapeFailure(context.model, output.boxes, boxes.dims, '[1, N, 4]');
  }
  if (scores.dims.length !== 3 || scores.dims[0] !== 1 || scores.dims[1] !== n || scores.dims[2] !== columns) {
    throw shapeFailure(context.model, output.scores, scores.dims, `[1, ${n}, ${columns}]`);
  }
  const first = output.background ? 1 : 0;
  const candidates: Candidate[] = [];
  const row = new Float64Array(columns);
  for (let i = 0; i < n!; i++) {
    for (let c = 0; c < columns; c++) row[c] = scores.data[i * columns + c]!;
    activateRow(row, output.activation);
    const best = bestLabel(context.labelCount, (c) => row[first + c]!);
    if (best.score < context.minScore) continue;
    const b = boxes.data;
    const corners = toCorners(output.box, [b[i * 4]!, b[i * 4 + 1]!, b[i * 4 + 2]!, b[i * 4 + 3]!], output.coordinates, context);
    candidates.push({ labelIndex: best.index, score: best.score, corners });
  }
  return candidates;
}

/** In place: softmax over the whole row (background included), or sigmoid per column. */
function activateRow(row: Float64Array, activation: 'none' | 'sigmoid' | 'softmax'): void {
  if (activation === 'sigmoid') for (let c = 0; c < row.length; c++) row[c] = sigmoid(row[c]!);
  if (activation === 'softmax') {
    const max = Math.max(...row);
    let sum = 0;
    for (let c = 0; c < row.length; c++) sum += row[c] = Math.exp(row[c]! - max);
    for (let c = 0; c < row.length; c++) row[c]! /= sum;
  }
}

/** The best label of one box; ties keep the lower index. */
function bestLabel(count: number, scoreOf: (c: number) => number): { index: number; score: number } {
  let index = 0;
  let score = -Infinity;
  for (let c = 0; c < count; c++) {
    const s = scoreOf(c);
    if (s > score) {
      score = s;
      index = c;
    }
  }
  return { index, score };
}

function toCorners(
  format: BoxFormat,
  [a, b, c, d]: [number, number, number, number],
  coordinates: 'pixels' | 'normalized',
  { inputWidth, inputHeight }: ReadContext,
): Corners {
  const sx = coordinates === 'normalized' ? inputWidth : 1;
  const sy = coordinates === 'normalized' ? inputHeight : 1;
  switch (format) {
    case 'cxcywh':
      return [(a - c / 2) * sx, (b - d / 2) * sy, (a + c / 2) * sx, (b + d / 2) * sy];
    case 'xyxy':
      return [a * sx, b * sy, c * sx, d * sy];
    case 'yxyx':
      return [b * sx, a * sy, d * sx, c * sy];
  }
}

function shapeFailure(model: string, name: string, dims: readonly number[], expected: string): JobFailure {
  return JobFailure.permanent(
    'model_error',
    `${model}: output ${name} has shape [${dims.join(', ')}]; the manifest's labels and layout expect ${expected}`,
  );
}
