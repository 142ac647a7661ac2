import { z } from 'zod';

/** What a classification job may ask for (`params` of POST /v1/jobs); unknown keys are refused. */
export const ClassificationParams = z.object({ topK: z.number().int().min(1).max(100).optional() }).strict();
export type ClassificationParams = z.infer<typeof ClassificationParams>;

export const CLASSIFICATION_PARAMS_DOC: Record<keyof ClassificationParams, string> = {
  topK: 'how many labels to return, best first (1–100; default from the manifest)',
};
