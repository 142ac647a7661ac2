/**
 * Where a pool thread's code lives. A worker thread starts from a file of its own: locally the
 * TypeScript source (loaded through tsx), on AWS a second file esbuild bundles beside the worker's
 * index.mjs (infra/constructs/bundling.ts). A leaf, so the infra code can name both paths.
 */

/** The thread's source, relative to the project root. */
export const THREAD_SOURCE = 'shared/inference/pool/thread.ts';
/** The thread's bundle, beside the function's index.mjs. */
export const THREAD_BUNDLE = 'inference-thread.mjs';
