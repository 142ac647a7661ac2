import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * The process's one Powertools Metrics instance (CloudWatch EMF: metrics as structured log lines,
 * so locally they appear in the logs). Namespace and service from POWERTOOLS_METRICS_NAMESPACE /
 * POWERTOOLS_SERVICE_NAME; handlers publish what was added at the end of each invocation.
 */
export const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'InferencePipeline' });
