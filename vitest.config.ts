import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration suites start real API servers and Prometheus; two cores cannot run many at once.
    maxWorkers: 2,
    // A safety net against hangs, not a speed target: on a loaded 2-core machine an integration
    // test's waits (each with its own deadline) add up past 30 s.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.cache/vitest-report.json' }]] : ['default'],
  },
});
