import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { responseJsonSchema } from '#shared/inference/gemini/preset.ts';
import { GEMINI_PRESETS } from '#shared/inference/gemini/presets/index.ts';

/** Presets: valid examples, response schemas Gemini accepts, and nothing heavy reachable from the API function. */

const presetsDir = fileURLToPath(new URL('../../shared/inference/gemini/presets/', import.meta.url));

/** JSON Schema keywords Gemini's responseJsonSchema supports (others are ignored or refused). */
const SUPPORTED_KEYWORDS = new Set([
  '$id', '$defs', '$ref', '$anchor', 'type', 'format', 'title', 'description', 'enum', 'const', 'items', 'prefixItems',
  'minItems', 'maxItems', 'minimum', 'maximum', 'anyOf', 'oneOf', 'properties', 'additionalProperties', 'required',
]);

/** Every schema node (a property map's values, items, anyOf branches…), depth first. */
function* schemaNodes(node: Record<string, unknown>): Generator<Record<string, unknown>> {
  yield node;
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'properties' || key === '$defs') && value && typeof value === 'object') {
      for (const child of Object.values(value)) yield* schemaNodes(child as Record<string, unknown>);
    } else if (key === 'items' && value && typeof value === 'object' && !Array.isArray(value)) {
      yield* schemaNodes(value as Record<string, unknown>);
    } else if ((key === 'anyOf' || key === 'oneOf' || key === 'prefixItems') && Array.isArray(value)) {
      for (const child of value) yield* schemaNodes(child as Record<string, unknown>);
    }
  }
}

describe.each(GEMINI_PRESETS.map((p) => [p.name, p] as const))('preset %s', (_name, preset) => {
  it('has a URL-safe name and a prompt', () => {
    expect(preset.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(preset.prompt.length).toBeGreaterThan(20);
  });

  it('has an example that its schema accepts', () => {
    expect(preset.schema.safeParse(preset.example).success).toBe(true);
  });

  it('converts to a response JSON schema using only keywords Gemini supports', () => {
    const jsonSchema = responseJsonSchema(preset.schema);
    expect(jsonSchema).not.toHaveProperty('$schema');
    expect(jsonSchema.type).toBe('object');
    for (const node of schemaNodes(jsonSchema)) {
      for (const keyword of Object.keys(node)) expect(SUPPORTED_KEYWORDS, `keyword ${keyword}`).toContain(keyword);
    }
  });

  it('requires every property, so the model always fills each field', () => {
    for (const node of schemaNodes(responseJsonSchema(preset.schema))) {
      if (node.properties) expect(node.required).toEqual(Object.keys(node.properties as object));
    }
  });
});

describe('the preset list', () => {
  it('has unique names and registers every preset file', () => {
    const names = GEMINI_PRESETS.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    const files = readdirSync(presetsDir).filter((f) => f.endsWith('.ts') && f !== 'index.ts').map((f) => f.slice(0, -3));
    expect(names.sort()).toEqual(files.sort());
  });

  it('ships describe and egyptian-art', () => {
    expect(GEMINI_PRESETS.map((p) => p.name)).toEqual(expect.arrayContaining(['describe', 'egyptian-art']));
  });

  it('preset files import nothing but zod and the preset helpers (the index: the presets)', () => {
    for (const file of readdirSync(presetsDir)) {
      const imports = [...readFileSync(presetsDir + file, 'utf8').matchAll(/(?:from|import)\s+'([^']+)'/g)].map((m) => m[1]!);
      expect(imports.length, file).toBeGreaterThan(0);
      for (const spec of imports) {
        const allowed = spec === 'zod' || spec === '../preset.ts' || (file === 'index.ts' && /^\.\/[a-z0-9-]+\.ts$/.test(spec));
        expect(allowed, `${file} imports ${spec}`).toBe(true);
      }
    }
  });
});

describe('the API function', () => {
  it('does not reach @google/genai, sharp or the Secrets Manager client', async () => {
    const entry = fileURLToPath(new URL('../../functions/api/index.ts', import.meta.url));
    const { metafile } = await build({ entryPoints: [entry], bundle: true, write: false, platform: 'node', format: 'esm', packages: 'external', metafile: true, logLevel: 'silent' });
    const imported = Object.values(metafile.inputs).flatMap((input) => input.imports.filter((i) => i.external).map((i) => i.path));
    expect(imported).toContain('zod'); // the check sees package imports at all
    for (const heavy of ['@google/genai', 'sharp', 'onnxruntime-node', '@aws-sdk/client-secrets-manager']) expect(imported).not.toContain(heavy);
  });
});
