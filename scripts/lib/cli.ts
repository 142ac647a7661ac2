import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { ACCEPTED_CONTENT_TYPES, detectImageFormat } from '#shared/inference/formats.ts';

/** What the command-line scripts share: where the API is, and what a file's content type is. */

export interface Target {
  apiUrl: string;
  apiKey: string;
}

/** --api/--key, else API_URL/API_KEY, else the running local cloud's .local/endpoints.json. */
export function resolveTarget(flags: { api?: string; key?: string }, stateDir = '.local'): Target {
  let local: Partial<Target> = {};
  try {
    local = JSON.parse(readFileSync(`${stateDir}/endpoints.json`, 'utf8')) as Partial<Target>;
  } catch {
    // no local cloud has run here
  }
  const apiUrl = flags.api ?? process.env.API_URL ?? local.apiUrl;
  const apiKey = flags.key ?? process.env.API_KEY ?? local.apiKey;
  if (!apiUrl || !apiKey) {
    throw new Error('no API to talk to: start the local cloud with `npm start`, or pass --api URL --key KEY');
  }
  return { apiUrl, apiKey };
}

const BY_EXTENSION: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.avif': 'image/avif',
};

/** The content type to declare for a file: from its first bytes, else its extension. */
export function contentTypeOf(path: string): string | undefined {
  const head = Buffer.alloc(64);
  const fd = openSync(path, 'r');
  let read: number;
  try {
    read = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const format = detectImageFormat(head.subarray(0, read));
  if (format) return Object.entries(ACCEPTED_CONTENT_TYPES).find(([, f]) => f === format)![0];
  return BY_EXTENSION[extname(path).toLowerCase()];
}

/** `--param k=v` values: numbers and booleans parsed, the rest kept as strings. */
export function parseKeyValues(pairs: string[] | undefined): Record<string, unknown> | undefined {
  if (!pairs?.length) return undefined;
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`expected key=value, got "${pair}"`);
    const raw = pair.slice(at + 1);
    out[pair.slice(0, at)] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}
