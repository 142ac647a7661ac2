import { z } from 'zod';

/** A job's detection params: each overrides the manifest default of the same name. */

/** More boxes than this is a list nobody reads, and a result that outgrows its item. */
export const MAX_OBJECTS_LIMIT = 300;

export const paramsSchema = z
  .object({
    minScore: z.number().min(0).max(1).optional(),
    iouThreshold: z.number().min(0).max(1).optional(),
    maxObjects: z.number().int().min(1).max(MAX_OBJECTS_LIMIT).optional(),
  })
  .strict();

export type DetectionParams = z.infer<typeof paramsSchema>;

export const paramsDoc: Record<keyof DetectionParams, string> = {
  minScore: 'the lowest score an object is reported with (0–1; default from the manifest, usually 0.25)',
  iouThreshold:
    'how much two boxes of the same label may overlap (intersection over union, 0–1) before the weaker is dropped as a duplicate; default from the manifest, usually 0.45',
  maxObjects: `how many objects to return at most, best first (1–${MAX_OBJECTS_LIMIT}; default from the manifest)`,
};
