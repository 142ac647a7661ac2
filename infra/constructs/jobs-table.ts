import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_INDEXES, TABLE_SCHEMA } from '#shared/jobs/table.ts';

export interface JobsTableProps {
  /** Keep the table (and refuse deletion) when the stack goes away. */
  readonly retain: boolean;
}

/**
 * One table for jobs (`pk = job#<jobId>`) and hashed API keys (`pk = apikey#<sha256 hex>`, with
 * ownerId, name, createdAt, revokedAt?). Single-item conditional writes only, so the same code
 * runs on dynalite locally.
 */
export class JobsTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: JobsTableProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.retain,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const type = { S: dynamodb.AttributeType.STRING, N: dynamodb.AttributeType.NUMBER } as const;
    for (const index of TABLE_INDEXES) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: type[index.keyTypes[0]] },
        sortKey: { name: index.sortKey, type: type[index.keyTypes[1]] },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
  }
}
