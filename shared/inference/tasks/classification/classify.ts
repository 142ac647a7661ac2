import * as ort from 'onnxruntime-node';
import { getConfig } from '../../../config.ts';
import { JobFailure } from '../../../errors.ts';
import { decodeToRgb, type ImageInfo, toTensor } from '../../image.ts';
import { sessionOf } from '../../onnx/session.ts';
import type { OnnxEntry } from '../../types.ts';
import type { ClassificationResult } from './result.ts';
import { softmax, topK } from './scores.ts';

/** Image classification: the image fitted to the model's input, one score per label, the best labels. */

export async function classify(
  entry: OnnxEntry,
  bytes: Uint8Array,
  image: ImageInfo,
  params: { topK?: number },
): Promise<ClassificationResult> {
  const manifest = entry.manifest;
  const started = performance.now();
  const rgb = await decodeToRgb(bytes, manifest.input, getConfig().MAX_INPUT_PIXELS);
  const tensor = toTensor(rgb, manifest.input);
  const preprocessed = performance.now();

  let scores: Float32Array;
  try {
    const model = await sessionOf(entry);
    const outputs = await model.run({ [manifest.input.name]: new ort.Tensor('float32', tensor.data, tensor.dims) });
    const output = outputs[manifest.output.name];
    if (!output) throw new Error(`the model has no output named ${manifest.output.name}`);
    scores = output.data as Float32Array;
  } catch (error) {
    throw JobFailure.permanent('model_error', `${entry.name} failed: ${(error as Error).message}`, error);
  }
  if (scores.length !== manifest.labels.length) {
    throw JobFailure.permanent(
      'model_error',
      `${entry.name} produced ${scores.length} scores for ${manifest.labels.length} labels`,
    );
  }
  const probabilities = manifest.output.activation === 'softmax' ? softmax(scores) : scores;
  const inferred = performance.now();
  return {
    kind: 'classification',
    model: entry.name,
    labels: topK(probabilities, manifest.labels, params.topK ?? manifest.topK),
    image,
    timings: { preprocessMs: round(preprocessed - started), inferenceMs: round(inferred - preprocessed) },
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;
