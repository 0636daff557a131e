// The contract suite (test/support/contract-suite.ts) against both stores,
// memory, SQLite and a real redis-server, over every transport.
import { afterAll, beforeAll } from "vitest";
import { contractSuite } from "./support/contract-suite.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { startTestServer, TRANSPORTS } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

contractSuite("the memory store", (env) => startTestServer({ backend: "memory", env }), TRANSPORTS);
contractSuite("the SQLite store", (env) => startTestServer({ backend: "sqlite", env }), TRANSPORTS);
contractSuite("the Redis store", (env) => startTestServer({ backend: "redis", redisUrl: redis.url, env }), TRANSPORTS);
