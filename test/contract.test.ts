// The contract suite (test/support/contract-suite.ts) against both stores,
// the embedded one and a real redis-server, over every transport.
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

contractSuite("the embedded store", (env) => startTestServer({ backend: "embedded", env }), TRANSPORTS);
contractSuite("the Redis store", (env) => startTestServer({ backend: "redis", redisUrl: redis.url, env }), TRANSPORTS);
