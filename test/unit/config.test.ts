import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, getConfig, parseConfig, resetConfig } from '#shared/config.ts';

/** The least an environment must set. */
const REQUIRED = { TABLE_NAME: 'jobs', BUCKET_NAME: 'uploads' };

/** The ConfigError a parse throws (fails the test if it parses). */
function configErrorOf(env: Record<string, string | undefined>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected parseConfig to throw a ConfigError');
}

describe('parseConfig', () => {
  it('fills every optional setting with its documented default', () => {
    const config = parseConfig(REQUIRED);
    expect(config).toMatchObject({
      TABLE_NAME: 'jobs',
      BUCKET_NAME: 'uploads',
      AWS_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: false,
      MAX_UPLOAD_BYTES: 50 * 1024 * 1024,
      UPLOAD_URL_TTL_SECONDS: 900,
      RESULT_URL_TTL_SECONDS: 900,
      MAX_INPUT_PIXELS: 40_000_000,
      JOB_RETENTION_DAYS: 30,
      MAX_RECEIVE_COUNT: 5,
      JOB_LEASE_SECONDS: 120,
      POLL_INTERVAL_SECONDS: 1,
      DEFAULT_MODEL: 'onnx/colors',
      ONNX_INTRA_OP_THREADS: 0,
    });
  });

  it('defaults MODELS_DIR to the repository’s models folder, as an absolute path', () => {
    const { MODELS_DIR } = parseConfig(REQUIRED);
    expect(isAbsolute(MODELS_DIR)).toBe(true);
    expect(join(MODELS_DIR)).toBe(join(fileURLToPath(new URL('../../models/', import.meta.url))));
  });

  it('reads numbers from their strings', () => {
    const config = parseConfig({ ...REQUIRED, MAX_UPLOAD_BYTES: '1048576', UPLOAD_URL_TTL_SECONDS: '3600', MAX_RECEIVE_COUNT: '3' });
    expect(config.MAX_UPLOAD_BYTES).toBe(1_048_576);
    expect(config.UPLOAD_URL_TTL_SECONDS).toBe(3600);
    expect(config.MAX_RECEIVE_COUNT).toBe(3);
  });

  it('refuses an environment without TABLE_NAME, naming TABLE_NAME', () => {
    const error = configErrorOf({ BUCKET_NAME: 'uploads' });
    expect(error.name).toBe('ConfigError');
    expect(error.message).toContain('TABLE_NAME');
    expect(error.message).not.toContain('BUCKET_NAME');
  });

  it('refuses an empty TABLE_NAME, naming it', () => {
    expect(configErrorOf({ ...REQUIRED, TABLE_NAME: '' }).message).toContain('TABLE_NAME');
  });

  it('names every missing variable at once', () => {
    const { message } = configErrorOf({});
    expect(message).toContain('TABLE_NAME');
    expect(message).toContain('BUCKET_NAME');
  });

  it('refuses MAX_UPLOAD_BYTES=abc, naming MAX_UPLOAD_BYTES', () => {
    const { message } = configErrorOf({ ...REQUIRED, MAX_UPLOAD_BYTES: 'abc' });
    expect(message).toContain('MAX_UPLOAD_BYTES');
    expect(message).not.toContain('TABLE_NAME');
  });

  it('refuses a fractional or zero count, naming it', () => {
    expect(configErrorOf({ ...REQUIRED, MAX_RECEIVE_COUNT: '2.5' }).message).toContain('MAX_RECEIVE_COUNT');
    expect(configErrorOf({ ...REQUIRED, JOB_LEASE_SECONDS: '0' }).message).toContain('JOB_LEASE_SECONDS');
  });

  it('reads S3_FORCE_PATH_STYLE true and false (and 1 and 0)', () => {
    expect(parseConfig({ ...REQUIRED, S3_FORCE_PATH_STYLE: 'true' }).S3_FORCE_PATH_STYLE).toBe(true);
    expect(parseConfig({ ...REQUIRED, S3_FORCE_PATH_STYLE: 'false' }).S3_FORCE_PATH_STYLE).toBe(false);
    expect(parseConfig({ ...REQUIRED, S3_FORCE_PATH_STYLE: '1' }).S3_FORCE_PATH_STYLE).toBe(true);
    expect(parseConfig({ ...REQUIRED, S3_FORCE_PATH_STYLE: '0' }).S3_FORCE_PATH_STYLE).toBe(false);
  });

  it('refuses any other S3_FORCE_PATH_STYLE rather than guess, naming it', () => {
    for (const value of ['yes', 'True', 'on']) {
      expect(configErrorOf({ ...REQUIRED, S3_FORCE_PATH_STYLE: value }).message, value).toContain('S3_FORCE_PATH_STYLE');
    }
  });

  it('reads an empty variable as unset, so its default applies', () => {
    const config = parseConfig({ ...REQUIRED, MAX_UPLOAD_BYTES: '', S3_FORCE_PATH_STYLE: '', ONNX_INTRA_OP_THREADS: '' });
    expect(config.MAX_UPLOAD_BYTES).toBe(50 * 1024 * 1024);
    expect(config.S3_FORCE_PATH_STYLE).toBe(false);
    expect(config.ONNX_INTRA_OP_THREADS).toBe(0);
    expect(() => parseConfig({ ...REQUIRED, TABLE_NAME: '' })).toThrow(/TABLE_NAME/);
  });

  it('returns a frozen configuration', () => {
    const config = parseConfig(REQUIRED);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('ignores variables it does not know', () => {
    expect(() => parseConfig({ ...REQUIRED, HOME: '/root', SOMETHING_ELSE: 'x' })).not.toThrow();
  });
});

describe('getConfig', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    resetConfig();
  });

  it('reads the process environment once, until resetConfig', () => {
    Object.assign(process.env, REQUIRED, { JOB_RETENTION_DAYS: '7' });
    resetConfig();
    const first = getConfig();
    expect(first.JOB_RETENTION_DAYS).toBe(7);
    process.env.JOB_RETENTION_DAYS = '9';
    expect(getConfig()).toBe(first);
    resetConfig();
    expect(getConfig().JOB_RETENTION_DAYS).toBe(9);
  });

  it('throws a ConfigError for a bad process environment', () => {
    Object.assign(process.env, REQUIRED, { POLL_INTERVAL_SECONDS: 'soon' });
    resetConfig();
    expect(() => getConfig()).toThrow(/POLL_INTERVAL_SECONDS/);
  });
});
