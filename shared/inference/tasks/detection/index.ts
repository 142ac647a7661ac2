import type { ImageInfo } from '../../image.ts';
import { type FloatTensor, type RunSession, round2, runOrFail } from '../session.ts';
import { type Candidate, readCandidates } from './candidates.ts';
import { type Letterbox, letterboxTensor } from './letterbox.ts';
import { classWiseNms } from './nms.ts';
import type { DetectionParams } from './params.ts';
import type { DetectionSettings } from './settings.ts';

/**
 * Object detection: letterbox the image into the model, read boxes and scores from its outputs,
 * keep the confident ones, drop duplicates per label (NMS), and report each box in the pixels of
 * the original image.
 */

export { letterboxGeometry, type Letterbox } from './letterbox.ts';
export { intersectionOverUnion, MAX_NMS_CANDIDATES } from './nms.ts';
export { MAX_OBJECTS_LIMIT, type DetectionParams, paramsDoc, paramsSchema } from './params.ts';
export { type DetectionSettings, settingsSchema } from './settings.ts';

/** A box in original-image pixels: top-left corner and size. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DetectedObject {
  label: string;
  score: number;
  box: Box;
}

export interface DetectionResult {
  kind: 'detection';
  model: string;
  image: ImageInfo;
  /** Best first. */
  objects: DetectedObject[];
  timings: { preprocessMs: number; inferenceMs: number; postprocessMs: number };
}

/** The outputs a manifest says the model has: the names `runSession` must return. */
export function outputNames(settings: DetectionSettings): string[] {
  const { output } = settings;
  return output.format === 'yolo' ? [output.name] : [output.boxes, output.scores];
}

/** The job's params over the manifest's defaults. */
function thresholds(settings: DetectionSettings, params: DetectionParams) {
  return {
    minScore: params.minScore ?? settings.minScore,
    iouThreshold: params.iouThreshold ?? settings.iouThreshold,
    maxObjects: params.maxObjects ?? settings.maxObjects,
  };
}

/**
 * From raw outputs to the reported objects: pure (no I/O), so it can be checked on outputs of any
 * shape. Throws `model_error` when an output's shape disagrees with the manifest.
 */
export function postprocess(
  model: string,
  outputs: Record<string, FloatTensor>,
  settings: DetectionSettings,
  params: DetectionParams,
  letterbox: Letterbox,
): DetectedObject[] {
  const { minScore, iouThreshold, maxObjects } = thresholds(settings, params);
  const candidates = readCandidates(settings.output, outputs, {
    model,
    labelCount: settings.labels.length,
    inputWidth: settings.input.width,
    inputHeight: settings.input.height,
    minScore,
  });
  // Back to the original image before NMS, so clipping (which shrinks boxes at the edges) is what NMS compares.
  const placed = candidates.flatMap((c) => {
    const corners = toOriginal(c.corners, letterbox);
    return corners ? [{ ...c, corners }] : [];
  });
  return classWiseNms(placed, iouThreshold, maxObjects).map((c) => reported(c, settings.labels));
}

/** Undo the letterbox and clip to the image; undefined for a box with nothing left inside it. */
function toOriginal([x1, y1, x2, y2]: Candidate['corners'], l: Letterbox): Candidate['corners'] | undefined {
  const clipX = (x: number) => Math.min(l.sourceWidth, Math.max(0, (x - l.padLeft) / l.scaleX));
  const clipY = (y: number) => Math.min(l.sourceHeight, Math.max(0, (y - l.padTop) / l.scaleY));
  const corners: Candidate['corners'] = [clipX(x1), clipY(y1), clipX(x2), clipY(y2)];
  return corners[2] > corners[0] && corners[3] > corners[1] ? corners : undefined;
}


function reported({ labelIndex, score, corners: [x1, y1, x2, y2] }: Candidate, labels: readonly string[]): DetectedObject {
  return {
    label: labels[labelIndex] ?? `class_${labelIndex}`,
    score: Number(score.toFixed(6)),
    box: { x: round2(x1), y: round2(y1), width: round2(x2 - x1), height: round2(y2 - y1) },
  };
}

export interface DetectionRequest {
  /** The model's public name, e.g. `onnx/yolo`. */
  model: string;
  bytes: Uint8Array;
  /** From inspectImage: the validated format and oriented size. */
  image: ImageInfo;
  maxPixels: number;
}

export async function run(
  input: DetectionRequest,
  settings: DetectionSettings,
  params: DetectionParams,
  runSession: RunSession,
): Promise<DetectionResult> {
  const started = performance.now();
  const { tensor, letterbox } = await letterboxTensor(input.bytes, input.image, settings.input, input.maxPixels);
  const preprocessed = performance.now();
  const outputs = await runOrFail(input.model, runSession, { [settings.input.name]: tensor }, outputNames(settings));
  const inferred = performance.now();
  const objects = postprocess(input.model, outputs, settings, params, letterbox);
  const done = performance.now();
  return {
    kind: 'detection',
    model: input.model,
    image: input.image,
    objects,
    timings: {
      preprocessMs: round2(preprocessed - started),
      inferenceMs: round2(inferred - preprocessed),
      postprocessMs: round2(done - inferred),
    },
  };
}
