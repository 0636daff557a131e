// The contract suite (test/support/contract-suite.ts) against every store,
// memory, SQLite and a real redis-server, over every transport: those the
// fast path serves and those it leaves to connect-node (gRPC with JSON,
// compressed gRPC and Connect).
import { afterAll, beforeAll } from "vitest";
import { contractSuite } from "./support/contract-suite.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { FALLBACK_TRANSPORTS, startTestServer, TRANSPORTS } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const transports = [...TRANSPORTS, ...FALLBACK_TRANSPORTS];
contractSuite("the memory store", (env) => startTestServer({ backend: "memory", env }), transports);
contractSuite("the SQLite store", (env) => startTestServer({ backend: "sqlite", env }), transports);
contractSuite("the Redis store", (env) => startTestServer({ backend: "redis", redisUrl: redis.url, env }), transports);
