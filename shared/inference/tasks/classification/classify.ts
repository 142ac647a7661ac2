import { JobFailure } from '../../../errors.ts';
import type { ImageInfo } from '../../image.ts';
import { type RunSession, runFittedImage } from '../session.ts';
import type { ClassificationParams } from './params.ts';
import type { ClassificationResult } from './result.ts';
import { softmax, topK } from './scores.ts';
import type { ClassificationSettings } from './settings.ts';

/** Image classification: the image fitted to the model's input, one score per label, the best labels. */

export interface ClassificationRequest {
  /** The model's public name, e.g. `onnx/colors`. */
  model: string;
  bytes: Uint8Array;
  /** From inspectImage: the validated format and oriented size. */
  image: ImageInfo;
  maxPixels: number;
}

export async function run(
  request: ClassificationRequest,
  settings: ClassificationSettings,
  params: ClassificationParams,
  runSession: RunSession,
): Promise<ClassificationResult> {
  const { output, timings } = await runFittedImage(request, settings.input, settings.output.name, runSession);
  const scores = output.data;
  if (scores.length !== settings.labels.length) {
    throw JobFailure.permanent(
      'model_error',
      `${request.model} produced ${scores.length} scores for ${settings.labels.length} labels`,
    );
  }
  const probabilities = settings.output.activation === 'softmax' ? softmax(scores) : scores;
  return {
    kind: 'classification',
    model: request.model,
    labels: topK(probabilities, settings.labels, params.topK ?? settings.topK),
    image: request.image,
    timings,
  };
}
