import { defineConfig } from "vitest/config";

// Tests that load the machine on purpose (hostile clients, slow readers) run
// after the main suite and one file at a time: their latency bounds would
// otherwise measure the other test files, and slow them down in turn.
export default defineConfig({
  test: {
    include: ["test/abuse/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
