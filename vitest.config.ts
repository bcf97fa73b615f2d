import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The commit the code runs from, as on a runner: a checkout with edits would otherwise count as
    // new code, so a rerun on the champion's own data would train in development and not in CI.
    env: { GITHUB_SHA: '0000000000000000000000000000000000000000' },
    // GitHub's workflow parser imports JSON without import attributes, which Node 20 refuses outside vite.
    server: { deps: { inline: ['@actions/workflow-parser', '@actions/expressions'] } },
  },
});
