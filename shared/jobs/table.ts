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
  ownerIndex: { name: 'byOwner', partitionKey: 'ownerId', sortKey: 'createdAt', keyTypes: ['S', 'S'] },
  /**
   * The lifecycle's timers: jobs that should have left their state by `deadlineAt` (sparse: only
   * unfinished jobs carry it). One partition (`deadlineShard = "jobs"`): the sweep reads the due
   * ones in order. Past ~1,000 state changes a second it would want sharding (several shard values).
   */
  deadlineIndex: { name: 'byDeadline', partitionKey: 'deadlineShard', sortKey: 'deadlineAt', keyTypes: ['S', 'N'] },
  /** Items (jobs, batches) with webhook events to deliver, by when (sparse, like byDeadline). */
  webhookIndex: { name: 'byWebhookDue', partitionKey: 'webhookShard', sortKey: 'webhookDueAt', keyTypes: ['S', 'N'] },
  /** DynamoDB TTL attribute (epoch seconds). */
  ttlAttribute: 'expiresAt',
} as const;

/** Every global secondary index of the table, for whoever creates it. */
export const TABLE_INDEXES = [TABLE_SCHEMA.ownerIndex, TABLE_SCHEMA.deadlineIndex, TABLE_SCHEMA.webhookIndex] as const;

/** Queue settings the AWS stack and the local cloud share. */
export const QUEUE_SETTINGS = {
  /** AWS guidance for SQS-triggered Lambdas: visibility timeout ≥ 6 × the function timeout. */
  visibilityTimeoutFactor: 6,
  /** Lambda's default batch size for SQS. */
  batchSize: 10,
  /** How long a message waits in the DLQ for a person (the SQS maximum). */
  dlqRetentionDays: 14,
} as const;
