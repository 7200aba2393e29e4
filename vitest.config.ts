import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Inference tests run real ONNX models on 2 cores: generous, but still bounded.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files run in separate forks so that worker pools and ports never collide.
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
