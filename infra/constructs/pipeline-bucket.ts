import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './nag.ts';
import { RESULT_PREFIX, UPLOAD_PREFIX } from '#shared/storage/keys.ts';
import { BUCKET_CORS } from '../../shared/storage/bucket-cors.ts';

export { RESULT_PREFIX, UPLOAD_PREFIX };
/** Bigger models than the bundled demo one are read from here (and cached in /tmp). */
export const MODEL_PREFIX = 'models/';

/** S3 drops parts of multipart uploads nobody completed after this long. */
export const ABORT_INCOMPLETE_MULTIPART_AFTER = Duration.days(1);

export interface PipelineBucketProps {
  readonly allowedOrigins: string[];
  readonly uploadExpirationDays: number;
  readonly resultExpirationDays: number;
  /** Keep the bucket when the stack goes away; otherwise empty and delete it. */
  readonly retain: boolean;
}

/**
 * The bucket: clients PUT images to uploads/<jobId> with presigned URLs (from browsers too, so
 * CORS), large results go to results/<jobId>.json. Private, TLS only, S3-managed encryption.
 */
export class PipelineBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: PipelineBucketProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      cors: [
        {
          // The local cloud's bucket applies the same rule (shared/storage/bucket-cors.ts).
          allowedMethods: BUCKET_CORS.allowedMethods.map((m) => s3.HttpMethods[m]),
          allowedOrigins: props.allowedOrigins,
          allowedHeaders: [...BUCKET_CORS.allowedHeaders],
          exposedHeaders: [...BUCKET_CORS.exposedHeaders],
          maxAge: BUCKET_CORS.maxAgeSeconds,
        },
      ],
      lifecycleRules: [
        { id: 'expire-uploads', prefix: UPLOAD_PREFIX, expiration: Duration.days(props.uploadExpirationDays) },
        { id: 'expire-results', prefix: RESULT_PREFIX, expiration: Duration.days(props.resultExpirationDays) },
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: ABORT_INCOMPLETE_MULTIPART_AFTER },
      ],
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !props.retain,
    });
    acknowledge(
      this.bucket,
      'AwsSolutions-S1',
      'Objects are short-lived per-job uploads reached only through presigned URLs that the API issues to authenticated owners, each recorded in the API access log and the job item. Enable CloudTrail S3 data events if object-level audit is required.',
    );
  }
}
