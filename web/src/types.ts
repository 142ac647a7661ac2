/**
 * The API's wire format as the page reads it (README "HTTP API v1"). The page is a client like any
 * other: it depends on the JSON, not on the server's modules.
 */

export type JobStatus = 'awaiting_upload' | 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled' | 'expired';

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set<JobStatus>(['succeeded', 'failed', 'canceled', 'expired']);

export interface ApiErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export interface UploadInstructions {
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
  expiresAt: string;
}

export interface JobView {
  jobId: string;
  status: JobStatus;
  model: string;
  createdAt: string;
  updatedAt: string;
  attempts: number;
  result?: InferenceResult;
  resultUrl?: string;
  error?: { code: string; message: string };
  upload?: UploadInstructions;
}

export interface ModelInfo {
  name: string;
  kind: string;
  description: string;
  available: boolean;
  reason?: string;
  default: boolean;
  /** Param name → what it does, in words. */
  params: Record<string, string>;
}

/**
 * A box as the tasks may give it: `{x, y, width, height}`, `[x1, y1, x2, y2]`, or a polygon of
 * points (OCR's rotated quadrilaterals). Pixels of the original image, or 0–1 fractions of it.
 */
export type Box = { x: number; y: number; width: number; height: number } | [number, number, number, number] | [number, number][];

export interface ImageInfo {
  width: number;
  height: number;
  format?: string;
}

interface ResultBase {
  model?: string;
  image?: ImageInfo;
  timings?: Record<string, number>;
}

export interface ClassificationResult extends ResultBase {
  kind: 'classification';
  labels: { label: string; score: number }[];
}

export interface DetectionResult extends ResultBase {
  kind: 'detection';
  objects: { label: string; score: number; box: Box }[];
}

export interface EmbeddingResult extends ResultBase {
  kind: 'embedding';
  dimensions: number;
  vector: number[];
}

export interface OcrResult extends ResultBase {
  kind: 'ocr';
  lines: { text: string; confidence: number; box: Box }[];
  text: string;
}

export interface AnalysisResult extends ResultBase {
  kind: 'analysis';
  data: unknown;
  usage?: Record<string, number>;
  modelVersion?: string;
}

export type InferenceResult = ClassificationResult | DetectionResult | EmbeddingResult | OcrResult | AnalysisResult;
