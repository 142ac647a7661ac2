import { createWriteStream, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../../aws.ts';
import { getConfig } from '../../config.ts';
import type { OnnxEntry } from '../types.ts';
import type { ModelFiles } from './infer.ts';

/**
 * The local path of a model's weights: bundled ones as they are; bucket ones downloaded once into
 * MODELS_CACHE_DIR under a name carrying their ETag, so a changed model is fetched again and an
 * unchanged one survives across warm invocations without a request.
 */

const downloads = new Map<string, Promise<string>>();

/** Where a model's files are on this machine: an OCR model's manifest folder, or the one .onnx file. */
export async function localModelFiles(entry: OnnxEntry): Promise<ModelFiles> {
  if (entry.manifestDir) return { manifestDir: entry.manifestDir };
  return { modelPath: await localModelPath(entry) };
}

export function localModelPath(entry: OnnxEntry): Promise<string> {
  if (entry.modelPath) return Promise.resolve(entry.modelPath);
  const object = entry.modelObject;
  if (!object) return Promise.reject(new Error(`${entry.name} has no weights`));
  const dir = getConfig().MODELS_CACHE_DIR;
  const path = join(dir, `${entry.name.replace(/\W+/g, '_')}-${object.etag.replace(/\W+/g, '')}.onnx`);
  let pending = downloads.get(path);
  if (!pending) {
    pending = (async () => {
      if (existsSync(path)) return path;
      mkdirSync(dir, { recursive: true });
      const { Body } = await s3Client().send(new GetObjectCommand({ Bucket: getConfig().BUCKET_NAME, Key: object.key }));
      // Written aside and renamed, so a concurrent or interrupted download never leaves half a model in place.
      const partial = `${path}.${process.pid}.partial`;
      await pipeline(Body as Readable, createWriteStream(partial));
      renameSync(partial, path);
      return path;
    })();
    pending.catch(() => downloads.delete(path));
    downloads.set(path, pending);
  }
  return pending;
}
