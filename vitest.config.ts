import { defineConfig } from 'vitest/config';

/**
 * Tests that run a whole topology (several node processes with inference workers, emulated links)
 * check how placement reacts to load and links: they run after everything else, one file at a
 * time, so that the rest of the suite does not load the two cores under them.
 */
const TOPOLOGY_TESTS = ['test/e2e/placement.test.ts', 'test/e2e/mec-up.test.ts', 'test/client/device-client.test.ts', 'test/blueprint/up.test.ts', 'test/dashboard/dashboard-browser.test.ts'];

const common = {
  // Inference tests run real ONNX models on 2 cores: generous, but still bounded.
  testTimeout: 60_000,
  hookTimeout: 60_000,
  // Files run in separate forks so that worker pools and ports never collide.
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        test: { ...common, name: 'unit-and-integration', include: ['test/**/*.test.ts'], exclude: [...TOPOLOGY_TESTS, 'test/faults/**'], fileParallelism: true, sequence: { groupOrder: 0 } },
      },
      {
        test: { ...common, name: 'topology', include: TOPOLOGY_TESTS, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
      {
        // The fault suite (npm run test:faults): real processes killed, frozen and cut off; one file
        // at a time, after everything else, and a table of its figures at the end.
        test: {
          ...common,
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 2 },
          globalSetup: ['test/faults/support/print-table.ts'],
        },
      },
    ],
  },
});
