import { z } from 'zod';

/** The params an `onnx/ocr` job accepts; unknown keys are refused. */

/** Above this, detection time and memory grow faster than small text gains legibility. */
export const MAX_SIDE_LIMIT = 1600;

export const OcrParamsSchema = z
  .object({
    minConfidence: z.number().min(0).max(1).optional(),
    sideLimit: z.number().int().min(32).max(MAX_SIDE_LIMIT).optional(),
    classifyOrientation: z.boolean().optional(),
  })
  .strict();

export type OcrParams = z.infer<typeof OcrParamsSchema>;

export const OCR_PARAMS_DOC: Record<keyof OcrParams, string> = {
  minConfidence: 'lines read with a lower mean confidence are dropped (0–1; default from the manifest, 0.5)',
  sideLimit: `the longer image side is scaled down to this for text detection (32–${MAX_SIDE_LIMIT}; default 960); raise it for small text in large photos`,
  classifyOrientation: 'also read upside-down lines, with a 0°/180° line classifier (default false; costs time)',
};
