/**
 * The uploads-landed function's settings, shared by the AWS stack and the local cloud. Its work
 * per message is one conditional UpdateItem per upload named (milliseconds), so it is small.
 */

/** Far above a batch of ten single-item writes; the queue hides a message 6 × this long. */
export const LANDED_TIMEOUT_SECONDS = 30;
/** Invocations at once at most: enough for a backfill's stream of uploads, never a rival to the worker for account concurrency. */
export const LANDED_MAX_CONCURRENCY = 5;
/** Messages per invocation (SQS's maximum without a batching window). */
export const LANDED_BATCH_SIZE = 10;
