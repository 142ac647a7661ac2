import { z } from 'zod';

/**
 * A Gemini preset, served as `gemini/<name>`: what to ask about an image and the shape the answer
 * must have. The schema is sent to Gemini as the response JSON schema and checked again on the way
 * back. Preset files import only zod: the API function reads them to list models and check jobs.
 */
export interface GeminiPreset<Schema extends z.ZodObject = z.ZodObject> {
  name: string;
  /** One line for GET /v1/models. */
  description: string;
  /** The instruction sent with the image. */
  prompt: string;
  /** The answer's shape: every field required (nullable where it may be unknown), described for the model. */
  schema: Schema;
  /** A valid answer: documentation, and what the tests' fake Gemini replies with. */
  example: z.output<Schema>;
}

/** Declares a preset; typed so `example` is checked against `schema` at compile time. */
export function definePreset<Schema extends z.ZodObject>(preset: GeminiPreset<Schema>): GeminiPreset<Schema> {
  return preset;
}

/**
 * A zod schema as the JSON Schema Gemini takes in `responseJsonSchema` (draft 2020-12 subset:
 * type, properties, required, items, enum, anyOf, minimum/maximum, minItems/maxItems, description…).
 * `$schema` is dropped: it says nothing to the model.
 */
export function responseJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...jsonSchema } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output' });
  return jsonSchema;
}
