import { z } from 'zod';
import { MAX_OBJECTS_LIMIT } from './params.ts';

/**
 * What a detection manifest says beyond the common fields (description, file): how to letterbox
 * the image into the model, and how to read boxes and scores out of the two export shapes in common
 * use. Strict, so a misspelt field is an error naming it rather than a silent default.
 */

const rgb = z.tuple([z.number(), z.number(), z.number()]);
const rgb255 = z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]);
const outputName = z.string().min(1);

/** Every detector export here is letterboxed: aspect kept, the rest padded. */
const input = z
  .object({
    name: z.string().min(1),
    layout: z.enum(['NCHW', 'NHWC']),
    width: z.number().int().min(1).max(4096),
    height: z.number().int().min(1).max(4096),
    /** Per-channel (R, G, B) normalisation applied to pixel/255: (x - mean) / std. */
    mean: rgb.default([0, 0, 0]),
    std: rgb.refine((s) => s.every((v) => v > 0), 'std values must be > 0').default([1, 1, 1]),
    /** The letterbox padding, 0–255 RGB; YOLO models are trained with grey 114. */
    padColor: rgb255.default([114, 114, 114]),
  })
  .strict();

/** How a box's four numbers are laid out. `yxyx` is TensorFlow's (ymin, xmin, ymax, xmax). */
const boxFormat = z.enum(['cxcywh', 'xyxy', 'yxyx']);
/** `pixels` of the model input, or `normalized` to [0,1] of its width and height. */
const coordinates = z.enum(['pixels', 'normalized']);

/**
 * One output holding, per candidate box, 4 box numbers, an optional objectness and one score per
 * label. `per-attribute` is [1, 4+C(+1), N] (YOLOv8 and later exports: one row per attribute);
 * `per-box` is [1, N, 4+C(+1)] (YOLOv5 exports: one row per box). With `objectness`, column 4 is
 * the probability that the box holds any object and a label's score is objectness × class score.
 */
const yoloOutput = z
  .object({
    format: z.literal('yolo'),
    name: outputName,
    layout: z.enum(['per-attribute', 'per-box']),
    objectness: z.boolean(),
    box: boxFormat.default('cxcywh'),
    coordinates: coordinates.default('pixels'),
    /** `sigmoid` if the export emits logits; exports with their decode head emit probabilities. */
    activation: z.enum(['none', 'sigmoid']).default('none'),
  })
  .strict();

/**
 * Two outputs: boxes [1, N, 4] and scores [1, N, C] (SSD, RetinaNet-style exports without their
 * NMS). With `background`, score column 0 is "no object" and the labels name columns 1…C.
 */
const ssdOutput = z
  .object({
    format: z.literal('ssd'),
    boxes: outputName,
    scores: outputName,
    box: boxFormat.default('xyxy'),
    coordinates: coordinates.default('normalized'),
    activation: z.enum(['none', 'sigmoid', 'softmax']).default('none'),
    background: z.boolean().default(false),
  })
  .strict();

export const settingsSchema = z
  .object({
    task: z.literal('detection'),
    input,
    output: z.discriminatedUnion('format', [yoloOutput, ssdOutput]),
    labels: z.array(z.string().min(1)).min(1),
    /** Defaults for the job params of the same names (params.ts). */
    minScore: z.number().min(0).max(1).default(0.25),
    iouThreshold: z.number().min(0).max(1).default(0.45),
    maxObjects: z.number().int().min(1).max(MAX_OBJECTS_LIMIT).default(100),
  })
  .strict();

export type DetectionSettings = z.infer<typeof settingsSchema>;
export type DetectionInput = DetectionSettings['input'];
export type DetectionOutput = DetectionSettings['output'];
export type BoxFormat = z.infer<typeof boxFormat>;
