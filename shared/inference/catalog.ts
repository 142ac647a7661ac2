import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { getConfig } from '../config.ts';
import { geminiEntries } from './gemini/entries.ts';
import type { GeminiPreset } from './gemini/preset.ts';
import { type ModelManifest, ManifestSchema } from './manifest.ts';

/**
 * What this deployment serves: model names, what they are, which params they take and whether
 * they can run. Pure metadata (no onnxruntime, no sharp), so the API function stays small; the
 * worker turns an entry into a runner (runners.ts).
 */

export type ModelKind = 'onnx' | 'gemini';

interface EntryBase {
  name: string;
  kind: ModelKind;
  description: string;
  /** Checks `params` at job creation; unknown keys are refused. */
  params: z.ZodType<Record<string, unknown>>;
  /** Human-readable param docs for GET /v1/models. */
  paramsDoc: Record<string, string>;
  available: boolean;
  unavailableReason?: string;
}

export interface OnnxEntry extends EntryBase {
  kind: 'onnx';
  manifest?: ModelManifest;
  /** Absolute path of the .onnx file. */
  modelPath?: string;
}

/** A Gemini preset (`gemini/<preset>`): available iff a Gemini API key is configured. */
export interface GeminiEntry extends EntryBase {
  kind: 'gemini';
  preset: GeminiPreset;
}

export type CatalogEntry = OnnxEntry | GeminiEntry;

const onnxParams = z
  .object({ topK: z.number().int().min(1).max(100).optional() })
  .strict() as z.ZodType<Record<string, unknown>>;

/** Read every `<name>.json` manifest in a folder as `onnx/<name>`. A bad manifest is listed as unavailable with why. */
export function loadOnnxEntries(modelsDir: string): OnnxEntry[] {
  let files: string[];
  try {
    files = readdirSync(modelsDir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return files.map((file): OnnxEntry => {
    const name = `onnx/${file.slice(0, -'.json'.length)}`;
    const base = {
      name,
      kind: 'onnx' as const,
      params: onnxParams,
      paramsDoc: { topK: 'how many labels to return, best first (1–100; default from the manifest)' },
    };
    try {
      const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(modelsDir, file), 'utf8')));
      if (!existsSync(join(modelsDir, manifest.file))) throw new Error(`${manifest.file} is missing beside the manifest`);
      return { ...base, description: manifest.description, manifest, modelPath: join(modelsDir, manifest.file), available: true };
    } catch (error) {
      const reason =
        error instanceof z.ZodError
          ? error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
          : (error as Error).message;
      return { ...base, description: 'invalid manifest', available: false, unavailableReason: `${file}: ${reason}` };
    }
  });
}

let catalog: Map<string, CatalogEntry> | undefined;

/** The models this process serves, read once. */
export function getCatalog(): Map<string, CatalogEntry> {
  const config = getConfig();
  catalog ??= new Map(
    [...loadOnnxEntries(config.MODELS_DIR), ...geminiEntries(config)].map((entry): [string, CatalogEntry] => [entry.name, entry]),
  );
  return catalog;
}

export function findModel(name: string): CatalogEntry | undefined {
  return getCatalog().get(name);
}
