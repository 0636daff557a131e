// Typed settings (issue 24): the contract (test/support/schema-suite.ts) on
// memory, SQLite and a real redis-server over gRPC, Connect JSON and
// gRPC-Web, and the REST routes of the schema registry with their exact
// shapes, on each store.
import { afterAll, beforeAll } from "vitest";
import { startRedis, type TestRedis } from "./support/redis.js";
import { schemaSuite } from "./support/schema-suite.js";
import { startTestServer, type TransportName } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const TRANSPORTS: TransportName[] = ["grpc", "connect-json", "grpc-web"];
schemaSuite("the memory store", (env) => startTestServer({ backend: "memory", env }), TRANSPORTS);
schemaSuite("the SQLite store", (env) => startTestServer({ backend: "sqlite", env }), TRANSPORTS);
schemaSuite("the Redis store", (env) => startTestServer({ backend: "redis", redisUrl: redis.url, env }), TRANSPORTS);
