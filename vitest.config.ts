import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Load tests run by themselves afterwards (vitest.abuse.config.ts).
    exclude: ["test/abuse/**", "**/node_modules/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Files start their own redis-server and server; two at a time fits the 2-core machines.
    maxWorkers: 2,
  },
});
