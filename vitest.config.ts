import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file in its own process: integration files each run a local cloud and set process.env for it.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start servers, so no more files at once than this machine has cores.
    maxWorkers: 2,
    // The SDK's notice that its 2027 releases need Node 22 is for people, not test logs.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
