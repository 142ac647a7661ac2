import { randomUUID } from 'node:crypto';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { importHandler, lambdaContext } from './handlers.ts';

/**
 * EventBridge schedules, locally: each entry invokes its function with a real `Scheduled Event`
 * every `everyMs` (on AWS a rate expression; tests set short intervals). A run still going when
 * the next is due is not overlapped; stop() waits for the current runs.
 */

export type ScheduledHandler = (event: ScheduledEvent, context: Context) => Promise<unknown>;

export interface ScheduleDefinition {
  /** The rule's name; also the key of LocalCloudOptions.scheduleEveryMs. */
  name: string;
  /** Module (path from the repository root) exporting the Lambda `handler`. */
  handlerModule: string;
  everyMs: number;
  timeoutSeconds: number;
}

/** A periodic task of the local cloud itself (the TTL sweep) or a scheduled function. */
export interface PeriodicTask {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

export interface Periodic {
  stop(): Promise<void>;
}

export function scheduledEvent(ruleName: string, region: string): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:000000000000:rule/${ruleName}`],
    detail: {},
  };
}

export async function scheduledFunctions(definitions: readonly ScheduleDefinition[], region: string): Promise<PeriodicTask[]> {
  const tasks: PeriodicTask[] = [];
  for (const definition of definitions) {
    const handler = await importHandler<ScheduledHandler>(definition.handlerModule);
    tasks.push({
      name: definition.name,
      everyMs: definition.everyMs,
      run: () => handler(scheduledEvent(definition.name, region), lambdaContext(definition.name, definition.timeoutSeconds * 1000)),
    });
  }
  return tasks;
}

export function startPeriodic(tasks: readonly PeriodicTask[], onError: (task: string, error: unknown) => void): Periodic {
  let stopped = false;
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<void>>();
  for (const task of tasks) {
    let busy = false;
    const timer = setInterval(() => {
      if (stopped || busy) return;
      busy = true;
      const run = task
        .run()
        .then(() => undefined, (error: unknown) => onError(task.name, error))
        .finally(() => {
          busy = false;
          running.delete(run);
        });
      running.add(run);
    }, task.everyMs);
    timer.unref();
    timers.push(timer);
  }
  return {
    async stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      await Promise.allSettled([...running]);
    },
  };
}
