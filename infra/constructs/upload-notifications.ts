import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface UploadNotificationsProps {
  readonly bucket: s3.IBucket;
  /** Only objects created under this prefix are announced. */
  readonly prefix: string;
  /** Each queue receives every notification, its body the exact S3 event JSON (raw delivery). */
  readonly subscribers: readonly sqs.IQueue[];
}

/**
 * The bucket's ObjectCreated notifications for one prefix, fanned out through an SNS topic: S3
 * allows one destination per event type and prefix, and more than one consumer needs the event
 * (the worker's jobs queue, and the uploads-landed queue that marks jobs queued at once).
 *
 * Raw message delivery keeps each queue's message body the S3 event itself, exactly what a direct
 * S3 → SQS notification sent (shared/events/s3-event.ts parseNotification refuses an SNS envelope).
 *
 * The topic has no server-side encryption, by choice: S3 can publish to an encrypted topic only
 * through a customer-managed KMS key (the aws/sns key's policy cannot admit S3), which adds a key
 * to administer and KMS requests on every upload, while a message here is an S3 event record
 * (bucket, a key naming a random job id, size, ETag): no image, no owner, no secret. SNS keeps it
 * only until it is delivered, over TLS, to the two queues, which encrypt it at rest (SSE-SQS).
 * cdk-nag AwsSolutions does not check topic SSE (SNS2 is in other packs), so nothing is acknowledged.
 */
export class UploadNotifications extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: UploadNotificationsProps) {
    super(scope, id);
    const topic = new sns.Topic(this, 'Topic', { displayName: `Objects created under ${props.prefix}`, enforceSSL: true });
    this.topic = topic;
    // Only this bucket, in this account, may publish. (CDK's SnsDestination would grant with an
    // ArnLike on the bucket alone; bucket names are global, so the owner account is pinned as well.)
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyThePipelineBucketPublishes',
        principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          ArnEquals: { 'aws:SourceArn': props.bucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        },
      }),
    );
    // The notification depends on the topic and its policy: S3 checks that it may publish when it is configured.
    const destination: s3.IBucketNotificationDestination = {
      bind: () => ({ arn: topic.topicArn, type: s3.BucketNotificationDestinationType.TOPIC, dependencies: [topic] }),
    };
    props.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination, { prefix: props.prefix });
    for (const queue of props.subscribers) topic.addSubscription(new SqsSubscription(queue, { rawMessageDelivery: true }));
  }
}
