import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real processes and servers on a two-core machine shared with them.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The tests mostly wait (on the processes they start, start graces, servers, timeouts), so
    // vitest's default of one worker per core but one leaves a two-core machine idle: there, two
    // files at a time (8 of the slowest files: 150 s with one worker, 121 s with two).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // The JSON report is what .ci/run counts, so a run that executed no test shows as such.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest/results.json' },
  },
});
