import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../../scripts/local-cloud/s3/server.ts';

/**
 * The AWS CLI's `s3` commands against the local S3: `aws` from PATH, else `python3 -m awscli`.
 * With neither installed this test fails (it does not skip): install awscli to run it.
 */

const run = promisify(execFile);
const BUCKET = 'cli-test';
const CREDENTIALS = { accessKeyId: 'cli-test-key', secretAccessKey: 'cli-test-secret' };
/** Over the CLI's 8 MiB multipart threshold, so `cp` uploads it in parts. */
const LARGE_BYTES = 20 * 1024 * 1024;

let s3: LocalS3;
let workDir: string;
let cli: { command: string; prefix: string[] };

async function findCli(): Promise<{ command: string; prefix: string[] }> {
  for (const candidate of [
    { command: 'aws', prefix: [] },
    { command: '/root/.pyenv/shims/aws', prefix: [] },
    { command: 'python3', prefix: ['-m', 'awscli'] },
  ]) {
    const found = await run(candidate.command, [...candidate.prefix, '--version']).then(
      () => true,
      () => false,
    );
    if (found) return candidate;
  }
  throw new Error('the AWS CLI is not installed (neither `aws` nor `python3 -m awscli`): install awscli to run this test');
}

async function aws(...args: string[]): Promise<string> {
  const { stdout } = await run(cli.command, [...cli.prefix, '--endpoint-url', s3.url, ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: workDir,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: path.join(workDir, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(workDir, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'local-s3-cli-'));
  s3 = await startLocalS3({ directory: path.join(workDir, 's3'), region: 'us-east-1', credentials: [CREDENTIALS], buckets: [BUCKET] });
  cli = await findCli();
});

afterAll(async () => {
  await s3?.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('the AWS CLI', () => {
  it('copies up and down (a multipart upload included), lists, syncs and removes', async () => {
    const files = path.join(workDir, 'files');
    await mkdir(path.join(files, 'tree', 'sub'), { recursive: true });
    const large = randomBytes(LARGE_BYTES);
    await writeFile(path.join(files, 'large.bin'), large);
    await writeFile(path.join(files, 'small photo.txt'), 'small');
    await writeFile(path.join(files, 'tree', 'a.txt'), 'a');
    await writeFile(path.join(files, 'tree', 'sub', 'b.txt'), 'b');

    await aws('s3', 'cp', '--no-progress', path.join(files, 'large.bin'), `s3://${BUCKET}/cli/large.bin`);
    await aws('s3', 'cp', '--no-progress', path.join(files, 'small photo.txt'), `s3://${BUCKET}/cli/small photo.txt`);
    await aws('s3', 'sync', '--no-progress', path.join(files, 'tree'), `s3://${BUCKET}/tree/`);

    const listing = await aws('s3', 'ls', `s3://${BUCKET}/cli/`);
    expect(listing).toMatch(new RegExp(`\\s${LARGE_BYTES} large\\.bin`));
    expect(listing).toMatch(/\s5 small photo\.txt/);
    expect(await aws('s3', 'ls', '--recursive', `s3://${BUCKET}/tree/`)).toMatch(/tree\/a\.txt[\s\S]*tree\/sub\/b\.txt/);
    expect(await aws('s3', 'ls')).toContain(BUCKET);

    await aws('s3', 'cp', '--no-progress', `s3://${BUCKET}/cli/large.bin`, path.join(files, 'large.down'));
    expect((await readFile(path.join(files, 'large.down'))).equals(large)).toBe(true);
    // A second sync finds nothing to upload: sizes and times agree with the listing.
    expect((await aws('s3', 'sync', '--no-progress', path.join(files, 'tree'), `s3://${BUCKET}/tree/`)).trim()).toBe('');

    await aws('s3', 'rm', `s3://${BUCKET}/cli/small photo.txt`);
    await aws('s3', 'rm', '--recursive', `s3://${BUCKET}/tree/`);
    const after = await aws('s3', 'ls', '--recursive', `s3://${BUCKET}/`);
    expect(after.trim().split('\n')).toHaveLength(1);
    expect(after).toContain('cli/large.bin');
  });
});
