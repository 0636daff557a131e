// After every reconnect the Redis store reads its dataset id back before it
// serves anything (store/redis/dataset.ts). When Redis refuses that read on a
// connection that stays up (LOADING on a primary being turned into a replica
// by a failover; here an ACL, which refuses the same way), the store must read
// it again: it refuses every call without sending it, so no error of its own
// would make the connection drop and say "ready" again.
import { randomUUID } from "node:crypto";
import { Code, type ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRedis, type TestRedis } from "./support/redis.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { until, untilServed } from "./support/failover.js";
import { num } from "./support/watch-suite.js";

let redis: TestRedis;
let server: TestServer;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer({ backend: "redis", redisUrl: redis.url });
  admin = new Redis(redis.url);
}, 60_000);
afterAll(async () => {
  admin?.disconnect();
  await server?.close();
  await redis?.stop();
});

/** GETs Redis refused (ACL), from INFO commandstats. */
async function refusedGets(): Promise<number> {
  const stats = await admin.info("commandstats");
  return Number(/cmdstat_get:.*rejected_calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

it("reads the dataset id again when Redis refuses the read after a reconnect, and serves once it answers", async () => {
  const c = server.clients("grpc");
  const sessionId = `recheck-${randomUUID()}`;
  await c.sessions.createSession({ sessionId });

  await admin.call("ACL", "SETUSER", "default", "-get");
  try {
    const before = await refusedGets();
    // Every connection but this one: the store reconnects, and its read of the id is refused.
    await admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
    await until(async () => (await refusedGets()) >= before + 2, "the store to read its dataset id again after a refusal");
    const refused = await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "k", value: num(1) } } }).catch((e: ConnectError) => e);
    expect((refused as ConnectError).code).toBe(Code.Unavailable);
  } finally {
    await admin.call("ACL", "SETUSER", "default", "+get");
  }

  // Served again on the same connection, without a restart.
  await untilServed(() => c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "k", value: num(2) } } }), "a write to succeed");
  const got = await c.settings.getSettings({ sessionId, key: "k" });
  expect(got.found).toBe(true);
}, 60_000);
