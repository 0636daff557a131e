// Durability across a server restart on the same SQLite directory and on the
// same Redis: data, revisions, history, tombstones and the system-owned flag
// all survive.
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Scope } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { Redis } from "ioredis";
import { expectFailure } from "./support/errors.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { startTestServer, tempDataDir, type StartOptions } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const durable: [string, () => StartOptions][] = [
  ["SQLite", () => ({ backend: "sqlite", dataDir: tempDataDir() })],
  ["Redis", () => ({ backend: "redis", redisUrl: redis.url, env: { REDIS_PREFIX: `restart${randomUUID().slice(0, 8)}:` } })],
];

it.each(durable)("keeps data, revisions, history, tombstones and system sessions across a restart on %s", async (_, options) => {
  const same = options();
  const live = `live-${randomUUID()}`;
  const gone = `gone-${randomUUID()}`;
  const system = `system-${randomUUID()}`;

  const first = await startTestServer(same);
  const c1 = first.clients("grpc");
  await c1.sessions.createSession({ sessionId: live, cwd: "/keep" });
  await c1.settings.setSettings({ sessionId: live, update: { case: "path", value: { path: "team.review", value: { kind: { case: "boolValue", value: true } } } } });
  await c1.settings.setSettings({ sessionId: live, scope: Scope.DEFAULT, update: { case: "entry", value: { key: "d", value: { kind: { case: "numberValue", value: 1 } } } } });
  await c1.sessions.createSession({ sessionId: gone });
  await c1.sessions.deleteSession({ sessionId: gone });
  await c1.sessions.createSession({ sessionId: system, systemOwned: true });
  await first.close();

  const second = await startTestServer(same);
  try {
    const c2 = second.clients("connect-json");
    const got = await c2.settings.getSettings({ sessionId: live });
    expect(got.settings).toEqual({ team: { review: true } });
    expect(got.revision).toBe(1n);
    expect((await c2.sessions.getSession({ sessionId: live })).session?.cwd).toBe("/keep");
    const defaults = await c2.settings.getSettings({ sessionId: live, scope: Scope.DEFAULT });
    expect(defaults.settings).toEqual({ d: 1 });
    expect(defaults.revision).toBe(1n);
    expect((await c2.settings.listHistory({ sessionId: live })).entries).toHaveLength(1);
    await expectFailure(c2.settings.getSettings({ sessionId: gone }), Code.NotFound, "SESSION_DELETED");
    await expectFailure(c2.settings.getSettings({ sessionId: system }), Code.PermissionDenied, "SYSTEM_SESSION");
    // The next write continues the revision sequence.
    const next = await c2.settings.setSettings({ sessionId: live, update: { case: "entry", value: { key: "k", value: { kind: { case: "numberValue", value: 2 } } } } });
    expect(next.revision).toBe(2n);
  } finally {
    await second.close();
  }
});

it("reloads its functions library by itself when Redis has forgotten it (FUNCTION FLUSH)", async () => {
  const server = await startTestServer({ backend: "redis", redisUrl: redis.url });
  try {
    const c = server.clients("grpc");
    const sessionId = `noscript-${randomUUID()}`;
    await c.sessions.createSession({ sessionId });
    const raw = new Redis(redis.url);
    await raw.call("FUNCTION", "FLUSH");
    expect(await raw.call("FUNCTION", "LIST")).toEqual([]);
    raw.disconnect();
    const res = await c.settings.setSettings({ sessionId, update: { case: "path", value: { path: "a.b", value: { kind: { case: "numberValue", value: 1 } } } } });
    expect(res.revision).toBe(1n);
    expect((await c.settings.getSettings({ sessionId })).settings).toEqual({ a: { b: 1 } });
  } finally {
    await server.close();
  }
});
