import { z } from 'zod';

/**
 * What a classification manifest says beyond the common fields (description, file): how to fit the
 * image into the model, and how to read one score per label out of it.
 */

const rgb = z.tuple([z.number(), z.number(), z.number()]);

/** How an image becomes the model's input tensor; embeddings fit their input the same way. */
export const fittedInputSchema = z.object({
  /** The graph input's name. */
  name: z.string().min(1),
  /** NCHW (PyTorch exports) or NHWC (TensorFlow exports). */
  layout: z.enum(['NCHW', 'NHWC']),
  width: z.number().int().min(1).max(4096),
  height: z.number().int().min(1).max(4096),
  /**
   * How the image is fitted to width×height: `fill` stretches, `cover` scales then
   * centre-crops (the usual ImageNet eval transform), `contain` letterboxes in black.
   */
  resize: z.enum(['fill', 'cover', 'contain']).default('cover'),
  /** Per-channel (R, G, B) normalisation applied to pixel/255: (x - mean) / std. */
  mean: rgb.default([0, 0, 0]),
  std: rgb.refine((s) => s.every((v) => v > 0), 'std values must be > 0').default([1, 1, 1]),
});

export type FittedInput = z.infer<typeof fittedInputSchema>;

export const settingsSchema = z
  .object({
    task: z.literal('classification'),
    input: fittedInputSchema,
    output: z.object({
      /** The graph output holding one score per label. */
      name: z.string().min(1),
      /** `softmax` if the model emits logits; `none` if it already emits probabilities. */
      activation: z.enum(['softmax', 'none']),
    }),
    labels: z.array(z.string().min(1)).min(1),
    /** How many labels the result lists, best first. */
    topK: z.number().int().min(1).max(100).default(5),
  })
  .strict();

export type ClassificationSettings = z.infer<typeof settingsSchema>;
