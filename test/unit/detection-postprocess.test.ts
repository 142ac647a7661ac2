import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { JobFailure } from '#shared/errors.ts';
import { inspectImage, type ImageInfo } from '#shared/inference/image.ts';
import {
  type DetectedObject,
  type DetectionParams,
  type DetectionSettings,
  run,
  settingsSchema,
} from '#shared/inference/tasks/detection/index.ts';
import { constantOutputsGraph, type RawBox, runSessionFor, ssdOutputs, yoloOutput } from '../../scripts/models/detectors.ts';

/**
 * Detection end to end on real onnxruntime sessions: each graph emits boxes the test wrote, in
 * the model-input pixels of a 320×320 letterbox; the photo is 640×480, so it is scaled by 0.5 and
 * sits 40 px below the top of the input. Every box must come back in the photo's own pixels.
 */

const MAX_PIXELS = 40_000_000;
const INPUT = { name: 'images', layout: 'NCHW', width: 320, height: 320 } as const;
const LABELS = ['person', 'dog', 'cat'];

/** Box A: photo x 100–300, y 60–160 → input x 50–150, y 70–120 (scale 0.5, 40 px top padding). */
const A = { photo: { x: 100, y: 60, width: 200, height: 100 }, cxcywh: [100, 95, 100, 50], xyxy: [50, 70, 150, 120] } as const;
/** Box B: photo x 400–600, y 200–440 → input x 200–300, y 140–260. */
const B = { photo: { x: 400, y: 200, width: 200, height: 240 }, cxcywh: [250, 200, 100, 120], xyxy: [200, 140, 300, 260] } as const;

let photo: Buffer;
let image: ImageInfo;

beforeAll(async () => {
  photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 90, g: 140, b: 60 } } }).jpeg().toBuffer();
  image = await inspectImage(photo, MAX_PIXELS);
});

function settings(output: unknown, extra: Record<string, unknown> = {}): DetectionSettings {
  return settingsSchema.parse({ task: 'detection', input: INPUT, output, labels: LABELS, ...extra });
}

/** Builds the graph for `settings`' outputs, runs the photo through `run`, returns the objects. */
async function detect(
  s: DetectionSettings,
  outputs: Parameters<typeof constantOutputsGraph>[1],
  params: DetectionParams = {},
): Promise<DetectedObject[]> {
  const session = await runSessionFor(constantOutputsGraph({ name: INPUT.name, dims: [1, 3, 320, 320] }, outputs));
  const result = await run({ model: 'onnx/test-detector', bytes: photo, image, maxPixels: MAX_PIXELS }, s, params, session);
  expect(result).toMatchObject({ kind: 'detection', model: 'onnx/test-detector', image: { format: 'jpeg', width: 640, height: 480 } });
  return result.objects;
}

const scores = (objects: DetectedObject[]) => objects.map((o) => [o.label, Number(o.score.toFixed(4))]);

describe('YOLO-style single-output detectors', () => {
  it('reads a YOLOv8 export ([1, 4+C, N], no objectness, cxcywh pixels) back into photo pixels', async () => {
    const yolo = { format: 'yolo', name: 'output0', layout: 'per-attribute', objectness: false };
    const boxes: RawBox[] = [
      { box: A.cxcywh, scores: [0.9, 0.05, 0.05] },
      { box: B.cxcywh, scores: [0.1, 0.8, 0.1] },
      { box: B.cxcywh, scores: [0.1, 0.1, 0.2] },
    ];
    const objects = await detect(settings(yolo), [yoloOutput('output0', boxes, 'per-attribute', false)]);
    expect(objects).toEqual([
      { label: 'person', score: expect.closeTo(0.9, 5), box: A.photo },
      { label: 'dog', score: expect.closeTo(0.8, 5), box: B.photo },
    ]);
  });

  it('reads a YOLOv5 export ([1, N, 5+C]) scoring each box objectness × class score', async () => {
    const yolo = { format: 'yolo', name: 'output', layout: 'per-box', objectness: true };
    const boxes: RawBox[] = [
      { box: A.cxcywh, objectness: 0.9, scores: [0.1, 0.8, 0.1] }, // dog 0.72
      { box: B.cxcywh, objectness: 0.5, scores: [0.6, 0.2, 0.2] }, // person 0.30
      { box: B.cxcywh, objectness: 0.9, scores: [0.1, 0.1, 0.2] }, // cat 0.18: below 0.25
      { box: A.cxcywh, objectness: 0.2, scores: [0, 0, 1] }, // cat 0.20: below 0.25
    ];
    const objects = await detect(settings(yolo), [yoloOutput('output', boxes, 'per-box', true)]);
    expect(scores(objects)).toEqual([['dog', 0.72], ['person', 0.3]]);
    expect(objects.map((o) => o.box)).toEqual([A.photo, B.photo]);
  });

  it('reads [1, 5+C, N] with objectness and normalised corner boxes', async () => {
    const yolo = { format: 'yolo', name: 'out', layout: 'per-attribute', objectness: true, box: 'xyxy', coordinates: 'normalized' };
    const normalised = (xyxy: readonly number[]) => xyxy.map((v) => v / 320) as unknown as RawBox['box'];
    const boxes: RawBox[] = [
      { box: normalised(B.xyxy), objectness: 0.8, scores: [0, 0, 0.9] },
      { box: normalised(A.xyxy), objectness: 1, scores: [0.5, 0, 0] },
    ];
    const objects = await detect(settings(yolo), [yoloOutput('out', boxes, 'per-attribute', true)]);
    expect(scores(objects)).toEqual([['cat', 0.72], ['person', 0.5]]);
    expect(objects.map((o) => o.box)).toEqual([B.photo, A.photo]);
  });

  it('applies a sigmoid to logits when the manifest says the export emits them', async () => {
    const yolo = { format: 'yolo', name: 'logits', layout: 'per-box', objectness: false, activation: 'sigmoid' };
    const boxes: RawBox[] = [{ box: A.cxcywh, scores: [-3, Math.log(4), -3] }]; // sigmoid(ln 4) = 0.8
    const objects = await detect(settings(yolo), [yoloOutput('logits', boxes, 'per-box', false)]);
    expect(scores(objects)).toEqual([['dog', 0.8]]);
  });
});

describe('SSD-style two-output detectors', () => {
  const ssd = { format: 'ssd', boxes: 'boxes', scores: 'scores', box: 'yxyx', coordinates: 'normalized', background: true };
  const yxyx = (xyxy: readonly number[]) => [xyxy[1]! / 320, xyxy[0]! / 320, xyxy[3]! / 320, xyxy[2]! / 320] as const;

  it('reads boxes [1, N, 4] (TensorFlow ymin, xmin, ymax, xmax) and scores [1, N, 1+C], skipping the background column', async () => {
    const boxes: RawBox[] = [
      { box: yxyx(A.xyxy), scores: [0.1, 0.85, 0.03, 0.02] },
      // Background wins here; its best real label (0.05) is below the threshold.
      { box: yxyx(B.xyxy), scores: [0.9, 0.05, 0.03, 0.02] },
      { box: yxyx(B.xyxy), scores: [0.3, 0.0, 0.0, 0.7] },
    ];
    const objects = await detect(settings(ssd), ssdOutputs({ boxes: 'boxes', scores: 'scores' }, boxes));
    expect(scores(objects)).toEqual([['person', 0.85], ['cat', 0.7]]);
    expect(objects.map((o) => o.box)).toEqual([A.photo, B.photo]);
  });

  it('softmaxes each row of logits, background included', async () => {
    // Logits ln(1), ln(1), ln(8): softmax 0.1, 0.1, 0.8 with the background first.
    const boxes: RawBox[] = [{ box: yxyx(A.xyxy), scores: [0, 0, Math.log(8), -Infinity] }];
    const objects = await detect(settings({ ...ssd, activation: 'softmax' }), ssdOutputs({ boxes: 'boxes', scores: 'scores' }, boxes));
    expect(scores(objects)).toEqual([['dog', 0.8]]);
  });
});

describe('class-wise non-maximum suppression and the params', () => {
  const yolo = { format: 'yolo', name: 'output0', layout: 'per-attribute', objectness: false };
  const shifted = (d: number) => [A.cxcywh[0] + d, A.cxcywh[1], A.cxcywh[2], A.cxcywh[3]] as const;
  const boxes: RawBox[] = [
    { box: shifted(6), scores: [0, 0, 0.8] }, // cat, IoU 0.89 with the best cat: a duplicate
    { box: A.cxcywh, scores: [0, 0, 0.9] }, // the best cat
    { box: shifted(-10), scores: [0, 0, 0.7] }, // cat, IoU 0.82: a duplicate
    { box: A.cxcywh, scores: [0, 0.6, 0] }, // a dog exactly where the cat is: a different label, kept
    { box: B.cxcywh, scores: [0, 0, 0.5] }, // a cat elsewhere: kept
  ];
  const outputs = [yoloOutput('output0', boxes, 'per-attribute', false)];

  it('merges overlapping boxes of one label into the best, and keeps a same-place box of another label', async () => {
    const objects = await detect(settings(yolo), outputs);
    expect(scores(objects)).toEqual([['cat', 0.9], ['dog', 0.6], ['cat', 0.5]]);
    expect(objects.map((o) => o.box)).toEqual([A.photo, A.photo, B.photo]);
  });

  it('keeps overlapping boxes apart when iouThreshold allows their overlap', async () => {
    const objects = await detect(settings(yolo), outputs, { iouThreshold: 0.95 });
    expect(scores(objects)).toEqual([['cat', 0.9], ['cat', 0.8], ['cat', 0.7], ['dog', 0.6], ['cat', 0.5]]);
  });

  it('returns at most maxObjects, best first, and nothing under minScore', async () => {
    expect(scores(await detect(settings(yolo), outputs, { maxObjects: 2 }))).toEqual([['cat', 0.9], ['dog', 0.6]]);
    expect(scores(await detect(settings(yolo), outputs, { minScore: 0.55 }))).toEqual([['cat', 0.9], ['dog', 0.6]]);
  });

  it('takes its defaults from the manifest', async () => {
    const objects = await detect(settings(yolo, { minScore: 0.65, maxObjects: 1 }), outputs);
    expect(scores(objects)).toEqual([['cat', 0.9]]);
  });
});

describe('boxes at the edges of the photo', () => {
  const yolo = { format: 'yolo', name: 'output0', layout: 'per-box', objectness: false, box: 'xyxy' };

  it('clips a box reaching into the padding to the photo, and drops one wholly in the padding', async () => {
    const boxes: RawBox[] = [
      // Input y 200–300 reaches 20 px into the bottom padding (the photo ends at input y 280).
      { box: [300, 200, 340, 300], scores: [0.9, 0, 0] },
      // Input y 0–35 lies in the top padding (the photo starts at input y 40).
      { box: [10, 0, 100, 35], scores: [0, 0.9, 0] },
    ];
    const objects = await detect(settings(yolo), [yoloOutput('output0', boxes, 'per-box', false)]);
    expect(objects).toEqual([{ label: 'person', score: expect.closeTo(0.9, 5), box: { x: 600, y: 320, width: 40, height: 160 } }]);
  });
});

describe('a model that disagrees with its manifest', () => {
  it('fails the job with model_error when the output has more classes than labels', async () => {
    const yolo = { format: 'yolo', name: 'output0', layout: 'per-attribute', objectness: false };
    const boxes: RawBox[] = [{ box: A.cxcywh, scores: [0.9, 0, 0, 0] }];
    const failure = await detect(settings(yolo), [yoloOutput('output0', boxes, 'per-attribute', false)]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(JobFailure);
    expect(failure).toMatchObject({ code: 'model_error', permanent: true, message: expect.stringMatching(/\[1, 8, 1\].*\[1, 7, N\]/) });
  });

  it('fails the job with model_error when a named output is missing', async () => {
    const ssd = { format: 'ssd', boxes: 'boxes', scores: 'class_scores' };
    const boxes: RawBox[] = [{ box: [0, 0, 1, 1], scores: [0.9, 0, 0] }];
    const failure = await detect(settings(ssd), ssdOutputs({ boxes: 'boxes', scores: 'scores' }, boxes)).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'model_error', message: expect.stringContaining('no output named class_scores') });
  });
});
