// A client that cancels frees what its call held on the server: open watch
// streams (the gauge), their Redis subscriptions, and unary calls in flight
// (the connection goes on serving), on every transport.
import { randomUUID } from "node:crypto";
import { Code, type ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "./support/redis.js";
import { startTestServer, TRANSPORTS, type TestServer } from "./support/server.js";
import { watch } from "./support/watch-suite.js";
import { until } from "./support/until.js";

let redis: TestRedis;
let server: TestServer;
let probe: Redis;
beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer({ backend: "redis", redisUrl: redis.url, env: { STORE_TIMEOUT_MS: "5000" } });
  probe = new Redis(redis.url);
});
afterAll(async () => {
  probe?.disconnect();
  await server?.close();
  await redis?.stop();
});


const openWatches = async () => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return [...text.matchAll(/^settings_watch_streams\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
};
const subscribers = async (sessionId: string) => {
  const [, count] = (await probe.call("PUBSUB", "NUMSUB", `${server.env.REDIS_PREFIX}{s:${sessionId}}:events`)) as [string, number];
  return Number(count);
};

describe.each(TRANSPORTS)("a client cancelling over %s", (transport) => {
  it("closes its watch stream and lets go of its subscription", async () => {
    const sessionId = `cancel-${randomUUID()}`;
    await server.clients(transport).sessions.createSession({ sessionId });
    const w = watch(server.clients(transport), { sessionId });
    await w.opened;
    expect(await subscribers(sessionId)).toBe(1);
    w.stop();
    await until(async () => (await openWatches()) === 0 && (await subscribers(sessionId)) === 0, "the watch to be released");
  });

  it("abandons a unary call in flight, and the connection keeps serving", async () => {
    const c = server.clients(transport);
    const sessionId = `cancel-unary-${randomUUID()}`;
    await c.sessions.createSession({ sessionId });
    redis.pause();
    const abort = new AbortController();
    const pending = c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "k", value: { kind: { case: "numberValue", value: 1 } } } } }, { signal: abort.signal });
    abort.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(Code[(err as ConnectError).code]).toBe("Canceled");
    redis.resume();
    const next = await c.settings.getSettings({ sessionId });
    expect(next.revision).toBeGreaterThanOrEqual(0n);
  });
});

it("closes an SSE watch when its client goes away", async () => {
  const sessionId = `cancel-sse-${randomUUID()}`;
  await server.clients().sessions.createSession({ sessionId });
  const abort = new AbortController();
  const res = await fetch(`${server.url}/api/sessions/${sessionId}/settings/events`, { signal: abort.signal });
  const reader = res.body!.getReader();
  let text = "";
  while (!text.includes("event: created")) text += new TextDecoder().decode((await reader.read()).value);
  expect(await subscribers(sessionId)).toBe(1);
  abort.abort();
  await until(async () => (await openWatches()) === 0 && (await subscribers(sessionId)) === 0, "the SSE watch to be released");
});
