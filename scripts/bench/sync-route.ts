import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { findModel } from '#shared/inference/catalog.ts';
import { runModel } from '#shared/inference/runners.ts';
import { logger } from '#shared/logger.ts';
import type { BenchImage, BenchModel } from './fixtures.ts';
import { type Summary, summarize } from './stats.ts';
import { readBodyWithin } from '../lib/http.ts';

/**
 * Measurement 7, the synchronous comparator: the seed-style route the async pipeline replaces
 * (base64 image in a JSON body, result in the reply), built here only, calling the same
 * validation, preprocessing and inference as the worker. It holds Lambda's synchronous payload
 * limit, so images whose body would exceed it are refused, as they would be on AWS.
 */

/** Lambda's synchronous invocation payload limit ("6 MB"), request and response alike. */
export const SYNC_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;


export interface SyncRoute {
  url: string;
  close(): Promise<void>;
}

/** POST /v1/infer {model, image: base64} → 200 {result}. */
export async function startSyncRoute(): Promise<SyncRoute> {
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    (async () => {
      const body = await readBodyWithin(req, SYNC_PAYLOAD_LIMIT_BYTES);
      if (body === 'too_large') return reply(413, { error: { code: 'payload_too_large', message: 'the request exceeds 6 MB' } });
      const { model, image } = JSON.parse(body.toString('utf8')) as { model: string; image: string };
      const entry = findModel(model);
      if (!entry?.available || entry.runtime !== 'onnx') return reply(422, { error: { code: 'unknown_model', message: model } });
      const bytes = Buffer.from(image, 'base64');
      const deadline = Date.now() + 30_000;
      reply(200, { result: await runModel(entry, { jobId: 'sync-route', bytes, params: {}, deadline, log: logger }) });
    })().catch((error: unknown) => reply(500, { error: { code: 'internal', message: String(error) } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/infer`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface SyncMeasurement {
  model: string;
  image: string;
  /** The JSON request's size. */
  bodyBytes: number;
  /** Undefined when the body is over the limit: the route cannot take this image. */
  latencyMs?: Summary;
}

export function syncBody(model: BenchModel, image: BenchImage): string {
  return JSON.stringify({ model: model.name, image: image.bytes.toString('base64') });
}

export async function measureSyncRoute(options: {
  url: string;
  model: BenchModel;
  images: BenchImage[];
  iterations: number;
  warmup: number;
}): Promise<SyncMeasurement> {
  const bodies = options.images.map((image) => syncBody(options.model, image));
  const bodyBytes = Math.max(...bodies.map((b) => Buffer.byteLength(b)));
  const base = { model: options.model.label, image: options.images[0]!.size.label, bodyBytes };
  if (bodyBytes > SYNC_PAYLOAD_LIMIT_BYTES) return base;
  const samples: number[] = [];
  for (let i = 0; i < options.warmup + options.iterations; i++) {
    // The client's work counts: encoding the image is part of the synchronous path.
    const start = performance.now();
    const body = syncBody(options.model, options.images[i % options.images.length]!);
    const response = await fetch(options.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const reply = (await response.json()) as { result?: unknown; error?: unknown };
    const elapsed = performance.now() - start;
    if (!response.ok) throw new Error(`the sync route answered ${response.status}: ${JSON.stringify(reply.error)}`);
    if (i >= options.warmup) samples.push(elapsed);
  }
  return { ...base, latencyMs: summarize(samples) };
}
