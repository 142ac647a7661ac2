import { parseNotification } from '#shared/events/s3-event.ts';
import { jobIdFromUploadKey } from '#shared/storage/keys.ts';

/**
 * What one message on the uploads-landed queue says: the S3 notification the jobs queue gets too
 * (the topic delivers the same raw body to both), read for the jobs whose uploads landed.
 */
export type LandedMessage =
  /** Job ids (each once) whose uploads landed; keys under uploads/ that no job was given, kept for the log. */
  | { kind: 'uploads'; jobIds: string[]; foreignKeys: string[] }
  /** The s3:TestEvent S3 sends when the notification is configured. */
  | { kind: 'test' }
  /** Not an S3 notification: no delivery could ever make sense of it. */
  | { kind: 'malformed'; reason: string };

export function readLandedMessage(body: string): LandedMessage {
  let notification;
  try {
    notification = parseNotification(body);
  } catch (error) {
    return { kind: 'malformed', reason: error instanceof Error ? error.message.slice(0, 500) : String(error) };
  }
  if (notification.kind === 'test') return { kind: 'test' };
  const jobIds = new Set<string>();
  const foreignKeys: string[] = [];
  for (const { key } of notification.objects) {
    const jobId = jobIdFromUploadKey(key);
    if (jobId) jobIds.add(jobId);
    else foreignKeys.push(key);
  }
  return { kind: 'uploads', jobIds: [...jobIds], foreignKeys };
}
