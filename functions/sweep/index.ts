import type { Context, ScheduledEvent } from 'aws-lambda';
import { sweep } from '#shared/jobs/sweep.ts';
import { logger } from '#shared/logger.ts';
import { metrics, publishMetrics } from '#shared/metrics.ts';

/** The scheduled sweep (EventBridge, every minute): expires lapsed uploads, re-notifies stalled jobs, hands due webhooks to delivery. */
export async function handler(event: Pick<ScheduledEvent, 'time'>, context?: Context): Promise<void> {
  if (context) logger.addContext(context);
  // The schedule's own time, so a late invocation judges by when it was due.
  const now = Math.max(Date.parse(event.time) || 0, Date.now());
  const report = await sweep(now);
  metrics.addMetric('JobsExpired', 'Count', report.expired);
  metrics.addMetric('JobsRenotified', 'Count', report.renotified);
  metrics.addMetric('WebhookDeliveriesRequested', 'Count', report.deliveriesRequested);
  publishMetrics();
}
