import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The process's one structured JSON logger (Powertools). Service name and level come from
 * POWERTOOLS_SERVICE_NAME / POWERTOOLS_LOG_LEVEL. Code about a job logs through jobLogger(jobId)
 * so every line about it carries `jobId`.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'inference-pipeline' });

export function jobLogger(jobId: string): Logger {
  return logger.createChild({ persistentKeys: { jobId } });
}
