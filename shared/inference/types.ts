import type { Logger } from '@aws-lambda-powertools/logger';
import type { z } from 'zod';
import type { AnalysisResult } from './gemini/result.ts';
import type { GeminiPreset } from './gemini/preset.ts';
import type { ModelManifest, OnnxTask } from './onnx/manifest.ts';
import type { ClassificationResult } from './tasks/classification/result.ts';
import type { DetectionResult } from './tasks/detection/index.ts';
import type { EmbeddingResult } from './tasks/embedding/index.ts';
import type { OcrResult } from './tasks/ocr/result.ts';

/**
 * The types inference shares: what a catalogue entry is, what a run is given and what it returns.
 * A leaf: it imports only types from leaves, so the catalogue, the runtimes (onnx/, gemini/) and the
 * tasks (tasks/<task>/) can all use it without importing each other.
 */

/** What runs a model. */
export type Runtime = 'onnx' | 'gemini';
/** What a model does, and so the shape of its result: an ONNX manifest's task, or Gemini's analysis. */
export type Task = OnnxTask | 'analysis';

interface EntryBase {
  name: string;
  runtime: Runtime;
  task: Task;
  description: string;
  /** Checks `params` at job creation; unknown keys are refused. */
  params: z.ZodType<Record<string, unknown>>;
  /** Human-readable param docs for GET /v1/models. */
  paramsDoc: Record<string, string>;
  available: boolean;
  unavailableReason?: string;
}

export interface OnnxEntry extends EntryBase {
  runtime: 'onnx';
  manifest: ModelManifest;
  /** Absolute path of the .onnx file (bundled models) … */
  modelPath?: string;
  /** … or, for an OCR model (several files), the folder its manifest was read from … */
  manifestDir?: string;
  /** … or where it is in the bucket (models under MODELS_S3_PREFIX), fetched and cached on first use. */
  modelObject?: { key: string; etag: string };
}

/** A Gemini preset (`gemini/<preset>`): available iff a Gemini API key is configured. */
export interface GeminiEntry extends EntryBase {
  runtime: 'gemini';
  task: 'analysis';
  preset: GeminiPreset;
}

/** A model whose manifest could not be read: listed, with why, and never run. */
export interface BrokenEntry extends EntryBase {
  runtime: 'onnx';
  available: false;
  manifest?: undefined;
  modelPath?: undefined;
  manifestDir?: undefined;
  modelObject?: undefined;
}

export type CatalogEntry = OnnxEntry | GeminiEntry | BrokenEntry;

export interface InferenceInput {
  /** The job the result is for: names any object stored beside it (a large embedding's vector). */
  jobId: string;
  /** Handed over: an ONNX run may transfer its memory to a pool thread, leaving it empty here. */
  bytes: Buffer;
  params: Record<string, unknown>;
  /** Epoch ms by which the work must be done. */
  deadline: number;
  log: Logger;
}

/** What a job's result is, by task. */
export type InferenceResult = ClassificationResult | DetectionResult | EmbeddingResult | OcrResult | AnalysisResult;
