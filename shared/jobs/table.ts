/**
 * The one DynamoDB table's shape, shared by the AWS stack (infra/) and the local cloud so both
 * create the same thing: jobs (`job#<id>`), batches (`batch#<id>`, holding their ordered job ids,
 * so no batch index is needed) and API keys (`apikey#<sha256>`) under one partition key.
 */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  /**
   * Jobs by owner, newest last. Written on every job (ownerId, createdAt) and read by listing
   * (GET /v1/jobs); kept even while nothing queries it, because adding an index later backfills every item.
   */
  ownerIndex: { name: 'byOwner', partitionKey: 'ownerId', sortKey: 'createdAt' },
  /** DynamoDB TTL attribute (epoch seconds). */
  ttlAttribute: 'expiresAt',
} as const;

/** Queue settings the AWS stack and the local cloud share. */
export const QUEUE_SETTINGS = {
  /** AWS guidance for SQS-triggered Lambdas: visibility timeout ≥ 6 × the function timeout. */
  visibilityTimeoutFactor: 6,
  /** Lambda's default batch size for SQS. */
  batchSize: 10,
  /** How long a message waits in the DLQ for a person (the SQS maximum). */
  dlqRetentionDays: 14,
} as const;
