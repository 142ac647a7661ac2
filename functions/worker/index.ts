import { handleJobsBatch } from '#shared/worker/handler.ts';

export const handler = handleJobsBatch;
