import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * The process's one Powertools Metrics instance (CloudWatch EMF: metrics as structured log lines,
 * so locally they appear in the logs). Namespace and service from POWERTOOLS_METRICS_NAMESPACE /
 * POWERTOOLS_SERVICE_NAME; POWERTOOLS_METRICS_DISABLED=true silences them (the tests).
 */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'InferencePipeline',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'inference-pipeline',
});

/** Flush what an invocation added (nothing to flush is not worth a warning line). */
export function publishMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}
