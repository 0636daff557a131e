// Redis Sentinel: the service follows a failover by itself. Writers keep
// going across it; every write acknowledged after the failover is there, and
// what the failover window lost (asynchronous replication) is reported.
import { randomUUID } from "node:crypto";
import { Code, type ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startSentinel, type TestSentinel } from "./support/sentinel.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { until } from "./support/until.js";

const num = (n: number) => ({ kind: { case: "numberValue" as const, value: n } });

let sentinel: TestSentinel;
let server: TestServer;
beforeAll(async () => {
  sentinel = await startSentinel();
  server = await startTestServer({
    backend: "redis",
    env: { REDIS_SENTINELS: sentinel.sentinels, REDIS_SENTINEL_NAME: sentinel.name, STORE_TIMEOUT_MS: "1000", REDIS_PREFIX: `s${randomUUID().slice(0, 6)}:` },
  });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await sentinel?.stop();
});


it("follows a failover: writers keep going, and every write acknowledged after it is kept", async () => {
  expect(server.store.kind).toBe("redis-sentinel");
  const c = server.clients("grpc");
  const sessionId = `failover-${randomUUID()}`;
  await c.sessions.createSession({ sessionId });
  const acked: { key: string; afterFailover: boolean }[] = [];
  const failures: string[] = [];
  let failedOver = false;
  let stop = false;
  const writers = Promise.all(Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const key = `w${w}-${i}`;
      const requestId = randomUUID();
      // A write that failed is retried with its request id until it lands: never twice.
      for (;;) {
        try {
          await c.settings.setSettings({ sessionId, requestId, update: { case: "entry", value: { key, value: num(i) } } });
          acked.push({ key, afterFailover: failedOver });
          break;
        } catch (err) {
          failures.push(Code[(err as ConnectError).code]);
          if (stop) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  }));
  await until(() => acked.length >= 200, "200 writes before the failover", 30_000);
  const before = sentinel.primaryPort;
  await sentinel.killPrimary();
  await until(async () => (await sentinel.primaryNow()) !== before, "the sentinel to promote the replica", 30_000);
  failedOver = true;
  await until(() => acked.filter((a) => a.afterFailover).length >= 200, "200 writes after the failover", 30_000);
  stop = true;
  await writers;

  const stored = (await c.settings.getSettings({ sessionId })).settings!;
  const lostAfter = acked.filter((a) => a.afterFailover && !(a.key in stored));
  const lostWindow = acked.filter((a) => !a.afterFailover && !(a.key in stored));
  console.log(`sentinel failover: ${acked.length} writes acknowledged, ${lostWindow.length} of those before the failover lost in its window; failures seen: ${JSON.stringify(countBy(failures))}`);
  expect(lostAfter).toEqual([]);
  expect(failures.every((f) => f === "Unavailable" || f === "DeadlineExceeded")).toBe(true);
  expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
}, 90_000);

function countBy(values: string[]): Record<string, number> {
  return values.reduce<Record<string, number>>((out, v) => ({ ...out, [v]: (out[v] ?? 0) + 1 }), {});
}
