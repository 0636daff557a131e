// The change feed (test/support/feed-suite.ts) against every store, over
// gRPC, Connect JSON and gRPC-Web.
import { afterAll, beforeAll } from "vitest";
import { feedSuite } from "./support/feed-suite.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { startTestServer, type TransportName } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const TRANSPORTS: TransportName[] = ["grpc", "connect-json", "grpc-web"];
feedSuite("the memory store", (env) => startTestServer({ backend: "memory", env }), TRANSPORTS);
feedSuite("the SQLite store", (env) => startTestServer({ backend: "sqlite", env }), TRANSPORTS);
feedSuite("the Redis store", (env) => startTestServer({ backend: "redis", redisUrl: redis.url, env }), TRANSPORTS, { shared: true });
