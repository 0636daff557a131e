// Redis Sentinel: the store never stays disconnected for good. ioredis ends a
// Sentinel client (status "end", no more reconnects) when its failover
// detector hears +switch-master while the client is asking a sentinel for
// the primary in a reconnect; sentinel.test.ts hit that race now and then
// under load, and the store then refused every call until a restart. Here
// the race is made certain: the sentinel the client asks first is frozen
// while the other one fails the primary over.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { until, untilServed } from "./support/failover.js";
import { onPort, unreadBytes } from "./support/redis.js";
import { startSentinel, type TestSentinel } from "./support/sentinel.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { num } from "./support/watch-suite.js";

let sentinel: TestSentinel;
let server: TestServer;
beforeAll(async () => {
  sentinel = await startSentinel({ sentinels: 2 });
  server = await startTestServer({
    backend: "redis",
    env: { REDIS_SENTINELS: sentinel.sentinels, REDIS_SENTINEL_NAME: sentinel.name, STORE_TIMEOUT_MS: "1000", REDIS_PREFIX: `r${randomUUID().slice(0, 6)}:` },
  });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await sentinel?.stop();
});

it("reconnects by itself after a failover notice that arrives while it is asking a sentinel for the primary", async () => {
  const c = server.clients("grpc");
  const sessionId = `reconnect-${randomUUID()}`;
  await c.sessions.createSession({ sessionId });
  const [first, second] = sentinel.sentinelPorts as [number, number];
  const primary = await sentinel.primaryNow();
  const clients = (await onPort(first, (s) => s.call("CLIENT", "LIST"))) as string;
  const known = new Set([...clients.matchAll(/ addr=(\S+)/g)].map((m) => m[1]!));

  // The announcement the store's failover detector listens to.
  const announcements = new Redis(second, "127.0.0.1");
  let switched = false;
  announcements.on("message", () => (switched = true));
  await announcements.subscribe("+switch-master");

  // The store asks the first sentinel; frozen, it holds the store's next reconnect there.
  sentinel.pause(first);
  try {
    await onPort(primary, (p) => p.call("CLIENT", "KILL", "TYPE", "normal"));
    await until(() => unreadBytes(first, (address) => !known.has(address)) > 0, "the store to ask the frozen sentinel for the primary");
    await sentinel.forceFailover(second);
    await until(() => switched, "the second sentinel to announce the new primary");
  } finally {
    sentinel.resume(first);
    announcements.disconnect();
  }

  // Served again without a restart, by the new primary.
  await untilServed(() => c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "after", value: num(1) } } }), "a write to succeed", {
    timeoutMs: 30_000,
    explain: () => seen(sentinel),
  });
}, 60_000);

/** What each sentinel names as the primary, and each Redis's role: for a failure's message. */
async function seen(s: TestSentinel): Promise<string> {
  const views = await Promise.all(s.sentinelPorts.map((p) => s.primaryNow(p).then(String, (e: Error) => e.message)));
  const roles = await Promise.all([s.primaryPort, s.replicaPort].map((p) => onPort(p, (r) => r.call("ROLE")).then((r) => String((r as unknown[])[0]), (e: Error) => e.message)));
  return `sentinels name ${views.join(", ")}; ${s.primaryPort} is ${roles[0]}, ${s.replicaPort} is ${roles[1]}`;
}
