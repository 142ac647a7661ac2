import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * The process's one Powertools Tracer: on Lambda (active tracing) each SDK call becomes an X-Ray
 * subsegment; elsewhere (the local cloud, tests) it is off and costs nothing.
 */
export const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'inference-pipeline' });
