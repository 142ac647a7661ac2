import { z } from 'zod';
import { CLASSIFICATION_PARAMS_DOC, ClassificationParams } from '../tasks/classification/params.ts';
import * as classification from '../tasks/classification/settings.ts';
import * as detectionParams from '../tasks/detection/params.ts';
import * as detection from '../tasks/detection/settings.ts';
import * as embedding from '../tasks/embedding/settings.ts';
import { OcrManifestSchema } from '../tasks/ocr/manifest.ts';
import { OCR_PARAMS_DOC, OcrParamsSchema } from '../tasks/ocr/params.ts';

/**
 * An ONNX model is a manifest `models/<name>.json` beside its `.onnx` file; it is served as
 * `onnx/<name>`. `task` says what the model does; the rest of the manifest is that task's
 * settings (tasks/<task>/settings.ts): how to turn an image into the input tensor and how to read
 * the outputs. Checked at load, strictly: a bad manifest names the model and the field.
 *
 * Only schemas are imported here (zod, no sharp or onnxruntime): the API function reads manifests.
 */

/** The fields every manifest has, whatever its task (an OCR manifest names several files, so `file` is apart). */
const described = {
  description: z.string().min(1),
  /** The weights' licence (an SPDX id or a sentence). */
  license: z.string().min(1).optional(),
  /** Who made the weights, when their licence asks to be credited. */
  attribution: z.string().min(1).optional(),
};

/** A single-graph model's fields: the common ones and its .onnx file, relative to the manifest. */
const common = {
  ...described,
  file: z.string().regex(/^[\w.-]+\.onnx$/, 'a file name ending in .onnx, beside the manifest'),
};

/**
 * Each task an ONNX model can serve: its manifest settings and the params a job may give. A new
 * task is a row here and a case in onnx/infer.ts.
 */
export const ONNX_TASKS = {
  classification: { settings: classification.settingsSchema, params: ClassificationParams, paramsDoc: CLASSIFICATION_PARAMS_DOC },
  detection: { settings: detection.settingsSchema, params: detectionParams.paramsSchema, paramsDoc: detectionParams.paramsDoc },
  embedding: { settings: embedding.settingsSchema, params: embedding.paramsSchema, paramsDoc: embedding.paramsDoc },
  /** Several networks and a dictionary, so its manifest names its own `files` and has no `file`. */
  ocr: { settings: OcrManifestSchema, params: OcrParamsSchema, paramsDoc: OCR_PARAMS_DOC },
} as const;

export const ManifestSchema = z.discriminatedUnion('task', [
  ONNX_TASKS.classification.settings.extend(common),
  ONNX_TASKS.detection.settings.extend(common),
  ONNX_TASKS.embedding.settings.extend(common),
  ONNX_TASKS.ocr.settings,
]);

export type ModelManifest = z.infer<typeof ManifestSchema>;
export type OnnxTask = ModelManifest['task'];
export const ONNX_TASK_NAMES = Object.keys(ONNX_TASKS) as OnnxTask[];
/** The manifest of one task, e.g. `ManifestOf<'detection'>`. */
export type ManifestOf<T extends OnnxTask> = Extract<ModelManifest, { task: T }>;
/** A manifest whose model is one .onnx file (every task but OCR). */
export type SingleFileManifest = Exclude<ModelManifest, { task: 'ocr' }>;
/** A classifier's manifest: what the demo models and the random benchmark nets are. */
export type ClassificationManifest = ManifestOf<'classification'>;
