import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real processes and servers on a two-core machine shared with them.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The JSON report is what .ci/run counts, so a run that executed no test shows as such.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest/results.json' },
  },
});
