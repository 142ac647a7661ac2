import { z } from 'zod';
import { fittedInputSchema } from '../classification/settings.ts';

/**
 * What an embedding manifest says beyond the common fields, and the params a job may give. Apart
 * from index.ts (which decodes images with sharp) so the API function can read it without sharp.
 */

export const settingsSchema = z
  .object({
    task: z.literal('embedding'),
    /** The same image fitting and normalisation as a classifier's. */
    input: fittedInputSchema,
    output: z
      .object({
        /** The graph output holding the embedding, [1, D] or [1, D, 1, 1]. */
        name: z.string().min(1),
        /** Scale the vector to unit L2 length, for exports that do not. */
        normalize: z.boolean().default(true),
      })
      .strict(),
  })
  .strict();

export type EmbeddingSettings = z.infer<typeof settingsSchema>;

/** An embedding takes no params; the object is strict so a misspelt one is refused, not ignored. */
export const paramsSchema = z.object({}).strict();
export type EmbeddingParams = z.infer<typeof paramsSchema>;
export const paramsDoc: Record<string, string> = {};
