import { JobFailure } from '../../../errors.ts';
import type { ImageInfo } from '../../image.ts';
import { type FloatTensor, type RunSession, runFittedImage } from '../session.ts';
import type { EmbeddingParams, EmbeddingSettings } from './settings.ts';

export { type EmbeddingParams, type EmbeddingSettings, paramsDoc, paramsSchema, settingsSchema } from './settings.ts';

/**
 * Image embeddings: the image fitted and normalised as for classification, one output read as a
 * vector, optionally scaled to unit length (so a dot product is a cosine similarity). A vector of
 * a few thousand floats can outgrow a result item; whether it is stored inline or as an object is
 * the caller's choice, made with {@link fitsInline}.
 */

interface EmbeddingBase {
  kind: 'embedding';
  model: string;
  dimensions: number;
  image: ImageInfo;
  timings: { preprocessMs: number; inferenceMs: number };
}
/** The vector in the result itself … */
export interface InlineEmbeddingResult extends EmbeddingBase {
  vector: number[];
}
/**
 * … or, when too large for the result item, stored aside as a JSON array: the job records the
 * object's key, and the status route shows it as a presigned `vectorUrl`.
 */
export interface StoredEmbeddingResult extends EmbeddingBase {
  vectorKey: string;
}
export type EmbeddingResult = InlineEmbeddingResult | StoredEmbeddingResult;

/** Nine significant digits always give a float32 back exactly (IEEE 754: FLT_DECIMAL_DIG). */
const FLOAT32_DIGITS = 9;

/**
 * The shortest decimal that reads back as the same float32: the vector's JSON is about half as
 * long as with the float64 expansion of each float32 (0.2f is 0.20000000298023224), at no loss.
 */
function shortestFloat32(v: number): number {
  const target = Math.fround(v);
  for (let digits = 1; digits < FLOAT32_DIGITS; digits++) {
    const candidate = Number(target.toPrecision(digits));
    if (Math.fround(candidate) === target) return candidate;
  }
  return Number(target.toPrecision(FLOAT32_DIGITS));
}

/**
 * The output as a flat vector, L2-normalised when the manifest asks. Batch 1 and trailing 1×1
 * spatial dims are flattened away; a non-finite value is the model's fault.
 */
export function postprocess(model: string, output: FloatTensor, settings: Pick<EmbeddingSettings, 'output'>): number[] {
  const { dims, data } = output;
  const dimensions = data.length;
  const squeezable = dims.filter((d) => d !== 1).length <= 1;
  if (dimensions === 0 || !squeezable) {
    throw JobFailure.permanent('model_error', `${model}: output ${settings.output.name} has shape [${dims.join(', ')}]; an embedding is [1, D]`);
  }
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) throw JobFailure.permanent('model_error', `${model}: the embedding holds ${v} at ${i}`);
    norm += v * v;
  }
  // A zero vector has no direction; it is returned as it is rather than divided by zero.
  const scale = settings.output.normalize && norm > 0 ? 1 / Math.sqrt(norm) : 1;
  return Array.from(data, (v) => shortestFloat32(v * scale));
}

/** The bytes the vector takes in the result's JSON. */
export function inlineVectorBytes(vector: readonly number[]): number {
  return Buffer.byteLength(JSON.stringify(vector));
}

/** Whether the vector fits in the result item within `maxBytes` of JSON. */
export function fitsInline(vector: readonly number[], maxBytes: number): boolean {
  return inlineVectorBytes(vector) <= maxBytes;
}

export interface EmbeddingRequest {
  model: string;
  bytes: Uint8Array;
  image: ImageInfo;
  maxPixels: number;
}


export async function run(
  request: EmbeddingRequest,
  settings: EmbeddingSettings,
  _params: EmbeddingParams,
  runSession: RunSession,
): Promise<InlineEmbeddingResult> {
  const { output, timings } = await runFittedImage(request, settings.input, settings.output.name, runSession);
  const vector = postprocess(request.model, output, settings);
  return {
    kind: 'embedding',
    model: request.model,
    dimensions: vector.length,
    vector,
    image: request.image,
    timings,
  };
}
