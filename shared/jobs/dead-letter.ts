import { getConfig } from '../config.ts';
import { jobLogger } from '../logger.ts';
import { transition } from './lifecycle.ts';
import { isTerminal } from './model.ts';
import { getJob } from './store.ts';

/**
 * A job whose upload's message reached the dead-letter queue: its deliveries ran out without a
 * final decision (the worker crashed or timed out on the last one, or they were used up while it
 * ran). It ends failed with its last error, so no job waits forever. A job still running under a
 * live lease is its worker's to decide: 'still-running' asks the caller to look again later.
 */
export async function failDeadLetteredJob(jobId: string): Promise<'failed' | 'nothing-to-do' | 'still-running'> {
  const job = await getJob(jobId);
  if (!job || isTerminal(job.status)) return 'nothing-to-do';
  const last = job.lastError;
  const failed = await transition(jobId, {
    type: 'deadLetter',
    error: {
      code: last?.code ?? 'internal',
      message: `processing gave up after ${getConfig().MAX_RECEIVE_COUNT} deliveries${last ? `: ${last.message}` : ''}`,
    },
  });
  if (failed) {
    jobLogger(jobId).error('job dead-lettered and failed', { error: failed.error, status: job.status });
    return 'failed';
  }
  return (await getJob(jobId))?.status === 'running' ? 'still-running' : 'nothing-to-do';
}
