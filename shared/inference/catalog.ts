import { readdirSync, readFileSync } from 'node:fs';
import { ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../aws.ts';
import { logger } from '../logger.ts';
import { join } from 'node:path';
import { z } from 'zod';
import { getConfig } from '../config.ts';
import { issuesLine } from '../validation.ts';
import { geminiEntries } from './gemini/entries.ts';
import { type ModelManifest, ManifestSchema, ONNX_TASK_NAMES, ONNX_TASKS, type OnnxTask } from './onnx/manifest.ts';
import type { BrokenEntry, CatalogEntry, OnnxEntry } from './types.ts';

/**
 * What this deployment serves: model names, what they are, which params they take and whether
 * they can run. Pure metadata (no onnxruntime, no sharp), so the API function stays small; the
 * worker turns an entry into a runner (runners.ts).
 */

/** What the catalogue takes from the task: the params a job may give, and their doc. */
const onnxBase = (name: string, task: OnnxTask) => ({
  name,
  runtime: 'onnx' as const,
  task,
  params: ONNX_TASKS[task].params as z.ZodType<Record<string, unknown>>,
  paramsDoc: ONNX_TASKS[task].paramsDoc,
});

/** The task a manifest claims, even when the rest of it is invalid; classification when it names none we serve. */
function claimedTask(text: string): OnnxTask {
  try {
    const task = (JSON.parse(text) as { task?: unknown }).task;
    return ONNX_TASK_NAMES.find((t) => t === task) ?? 'classification';
  } catch {
    return 'classification';
  }
}

/** A manifest's text as a catalogue entry; a bad one is listed as unavailable with why. */
function onnxEntry(source: string, name: string, text: string, locate: (manifest: ModelManifest) => Partial<OnnxEntry>): OnnxEntry | BrokenEntry {
  try {
    const manifest = ManifestSchema.parse(JSON.parse(text));
    return { ...onnxBase(name, manifest.task), description: manifest.description, manifest, ...locate(manifest), available: true };
  } catch (error) {
    const reason = error instanceof z.ZodError ? issuesLine(error, Infinity) : (error as Error).message;
    return { ...onnxBase(name, claimedTask(text)), description: 'invalid manifest', available: false, unavailableReason: `${source}: ${reason}` };
  }
}

/**
 * Read every `<name>.json` manifest in a folder as `onnx/<name>`. Only the manifests are read: the
 * API function ships them without the weights; a missing .onnx file fails the job (model_error).
 */
export function loadOnnxEntries(modelsDir: string): (OnnxEntry | BrokenEntry)[] {
  let files: string[];
  try {
    files = readdirSync(modelsDir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return files.map((file) =>
    onnxEntry(file, `onnx/${file.slice(0, -'.json'.length)}`, readFileSync(join(modelsDir, file), 'utf8'), (manifest) =>
      // An OCR manifest names several files, beside it or in an installed package: they are found from its folder.
      manifest.task === 'ocr' ? { manifestDir: modelsDir } : { modelPath: join(modelsDir, manifest.file) },
    ),
  );
}

/** Models too big to bundle: manifests and .onnx files under MODELS_S3_PREFIX in the bucket. */
export async function loadS3OnnxEntries(bucket: string, prefix: string): Promise<(OnnxEntry | BrokenEntry)[]> {
  const objects: { key: string; etag: string }[] = [];
  let token: string | undefined;
  do {
    const page = await s3Client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) objects.push({ key: o.Key, etag: (o.ETag ?? '').replace(/"/g, '') });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const byKey = new Map(objects.map((o) => [o.key, o]));
  const manifests = objects.filter((o) => o.key.endsWith('.json') && !o.key.slice(prefix.length).includes('/'));
  return Promise.all(
    manifests.map(async ({ key }) => {
      const body = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const file = key.slice(prefix.length);
      return onnxEntry(`s3://${bucket}/${key}`, `onnx/${file.slice(0, -'.json'.length)}`, await body.Body!.transformToString(), (manifest) => {
        if (manifest.task === 'ocr') throw new Error('an OCR model is served only from the bundled models (its files are not fetched from the bucket)');
        const weights = byKey.get(prefix + manifest.file);
        if (!weights) throw new Error(`${manifest.file} is missing beside the manifest`);
        return { modelObject: weights };
      });
    }),
  );
}

/** How often a process looks for models added to or changed in the bucket. */
export const CATALOG_REFRESH_MS = 5 * 60_000;

let catalog: { entries: Map<string, CatalogEntry>; loadedAt: number } | undefined;
let refreshing: Promise<void> | undefined;

function assemble(config: ReturnType<typeof getConfig>, s3Entries: CatalogEntry[]): Map<string, CatalogEntry> {
  const entries = new Map<string, CatalogEntry>();
  // Bundled models win over bucket models of the same name.
  for (const entry of [...loadOnnxEntries(config.MODELS_DIR), ...s3Entries, ...geminiEntries(config)]) {
    if (entries.has(entry.name)) logger.warn('model defined twice; the first is served', { model: entry.name });
    else entries.set(entry.name, entry);
  }
  return entries;
}

/**
 * Load the catalogue, including models in the bucket when MODELS_S3_PREFIX is set, and refresh it
 * every CATALOG_REFRESH_MS. Handlers await it before looking models up; if the bucket cannot be
 * listed, the previous catalogue stays in service.
 */
export async function ensureCatalog(): Promise<void> {
  const config = getConfig();
  const prefix = config.MODELS_S3_PREFIX;
  if (catalog && (!prefix || Date.now() - catalog.loadedAt < CATALOG_REFRESH_MS)) return;
  refreshing ??= (async () => {
    try {
      const s3Entries = prefix ? await loadS3OnnxEntries(config.BUCKET_NAME, prefix) : [];
      catalog = { entries: assemble(config, s3Entries), loadedAt: Date.now() };
    } catch (error) {
      if (!catalog) throw error;
      logger.warn('could not refresh models from the bucket; serving the previous catalogue', { error: error as Error });
      catalog.loadedAt = Date.now();
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

/** Make the next ensureCatalog read the bucket again, without waiting out CATALOG_REFRESH_MS. */
export function expireCatalog(): void {
  if (catalog) catalog.loadedAt = 0;
}

/** The models this process serves (bundled and Gemini only, until ensureCatalog has read the bucket). */
export function getCatalog(): Map<string, CatalogEntry> {
  catalog ??= { entries: assemble(getConfig(), []), loadedAt: 0 };
  return catalog.entries;
}

export function findModel(name: string): CatalogEntry | undefined {
  return getCatalog().get(name);
}
