/**
 * A local S3 server in a process of its own, for crash tests: serves `directory` and prints its
 * URL on stdout, then waits to be killed.  Usage: tsx test/helpers/local-s3-child.ts <directory> <bucket>
 */
import { startLocalS3 } from '../../scripts/local-cloud/s3/server.ts';

const [directory, bucket] = process.argv.slice(2);
if (!directory || !bucket) throw new Error('usage: local-s3-child.ts <directory> <bucket>');
const s3 = await startLocalS3({
  directory,
  region: 'us-east-1',
  credentials: [{ accessKeyId: 'crash-test-key', secretAccessKey: 'crash-test-secret' }],
  buckets: [bucket],
});
process.stdout.write(`${s3.url}\n`);
