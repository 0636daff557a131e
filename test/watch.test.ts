// WatchSettings and history: ordered, resumable, no gap and no duplicate,
// fan-out through one subscriber connection, two servers on one Redis, and
// Server-Sent Events over plain HTTP.
import { randomUUID } from "node:crypto";
import { Code, type ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "./support/redis.js";
import { restClient } from "./support/rest.js";
import { BACKENDS, startTestServer, type Backend, type Clients, type TestServer, type TransportName } from "./support/server.js";
import { newId, num, twoInstancesSuite, watch, watchSuite } from "./support/watch-suite.js";
import { startMain } from "./support/process.js";
import { sseReader } from "./support/sse.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SettingsService } from "../gen/codexmanager/settings/v1/settings_pb.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const TRANSPORTS: TransportName[] = ["grpc", "connect-json", "grpc-web"];
watchSuite("the memory store", (env) => startTestServer({ backend: "memory", env }), TRANSPORTS);
watchSuite("the SQLite store", (env) => startTestServer({ backend: "sqlite", env }), TRANSPORTS);
watchSuite("the Redis store", (env) => startTestServer({ backend: "redis", redisUrl: redis.url, env }), TRANSPORTS);
twoInstancesSuite("one Redis", (env) => startTestServer({ backend: "redis", redisUrl: redis.url, env }));

describe.each(BACKENDS)("fan-out and history on the %s store", (backend) => {
  let server: TestServer;
  let c: Clients;
  beforeAll(async () => {
    server = await startTestServer({ backend, redisUrl: redis.url, env: { HISTORY_LIMIT: "5" } });
    c = server.clients("grpc");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("delivers one change to 200 concurrent watchers of one process", async () => {
    const sessionId = newId();
    await c.sessions.createSession({ sessionId });
    const watchers = Array.from({ length: 200 }, () => watch(c, { sessionId }));
    await Promise.all(watchers.map((w) => w.opened));
    if (backend === "redis") {
      // However many watchers, the process holds one subscriber connection.
      const raw = new Redis(redis.url);
      const pubsub = (await raw.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
      raw.disconnect();
      expect(pubsub.trim().split("\n").filter(Boolean)).toHaveLength(1);
    }
    await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "k", value: num(1) } } });
    await Promise.all(watchers.map((w) => w.until(() => w.changes.length === 1)));
    watchers.forEach((w) => w.stop());
    expect(watchers.every((w) => Number(w.changes[0]!.entry!.revision) === 1)).toBe(true);
  });

  it("keeps only the newest HISTORY_LIMIT entries and pages them newest first", async () => {
    const sessionId = newId();
    await c.sessions.createSession({ sessionId });
    for (let i = 1; i <= 8; i++) {
      await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "k", value: num(i) } } });
    }
    const all = await c.settings.listHistory({ sessionId, limit: 100 });
    expect(all.entries.map((e) => Number(e.revision))).toEqual([8, 7, 6, 5, 4]);
    const first = await c.settings.listHistory({ sessionId, limit: 3 });
    expect(first.entries.map((e) => Number(e.revision))).toEqual([8, 7, 6]);
    const second = await c.settings.listHistory({ sessionId, limit: 3, beforeRevision: first.nextBeforeRevision });
    expect(second.entries.map((e) => Number(e.revision))).toEqual([5, 4]);
    expect(second.nextBeforeRevision).toBeUndefined();
    const rest = restClient(server.url);
    const viaRest = await rest("GET", `/api/sessions/${sessionId}/settings/history?limit=2&before=8`);
    expect(viaRest.status).toBe(200);
    expect(viaRest.body.entries.map((e: { revision: number }) => e.revision)).toEqual([7, 6]);
    expect(viaRest.body.nextBefore).toBe(6);
    expect(viaRest.body.entries[0]).toMatchObject({ op: "set", actor: "user", source: "api", changes: [{ kind: "setting", key: "k", before: 6, after: 7 }] });
    expect((await rest("GET", `/api/sessions/${sessionId}/settings/history?limit=x`)).status).toBe(400);
  });

  it("streams Server-Sent Events over plain HTTP, resuming from a revision", async () => {
    const sessionId = newId();
    await c.sessions.createSession({ sessionId });
    await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "a", value: num(1) } } });
    const abort = new AbortController();
    const res = await fetch(`${server.url}/api/sessions/${sessionId}/settings/events?fromRevision=0&includeSettings=true`, { signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const sse = sseReader(res);
    const readUntil = (pattern: RegExp) => sse.readUntil(pattern);
    await readUntil(/^retry: 2000\n\nevent: created\ndata: \{"revision":1\}\n\n/);
    await readUntil(/id: 1\n/);
    await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "b", value: num(2) } } });
    await readUntil(/id: 2\nevent: change\ndata: .*\n\n/);
    const events = sse.text.split("\n\n").filter((e) => e.includes("event: change"));
    const data = events.map((e) => JSON.parse(e.split("\ndata: ")[1]!));
    expect(data.map((d) => d.revision)).toEqual([1, 2]);
    expect(data[1]).toMatchObject({ op: "set", actor: "user", source: "api", settings: { a: 1, b: 2 } });
    await c.sessions.deleteSession({ sessionId });
    await readUntil(/event: error\ndata: .*\n\n/);
    expect(sse.text).toContain('"status":"deleted"');
    abort.abort();
    const missing = await fetch(`${server.url}/api/sessions/${newId()}/settings/events`);
    expect(missing.status).toBe(404);
  });

  it("ends open streams cleanly when the server shuts down", async () => {
    const own = await startTestServer({ backend, redisUrl: redis.url });
    const cc = own.clients("grpc");
    const sessionId = newId();
    await cc.sessions.createSession({ sessionId });
    const w = watch(cc, { sessionId });
    await w.opened;
    const started = Date.now();
    await own.close();
    await w.done;
    expect(Date.now() - started).toBeLessThan(3000);
    if (w.error) expect(["Unavailable", "Canceled", "Aborted"]).toContain(Code[(w.error as ConnectError).code]);
  });
});


describe("two server processes on one Redis", () => {
  it("see each other's writes and events across process boundaries", async () => {
    const prefix = `proc${randomUUID().slice(0, 8)}:`;
    const inProcess = await startTestServer({ backend: "redis", redisUrl: redis.url, env: { REDIS_PREFIX: prefix } });
    const child = startMain({ REDIS_URL: redis.url, REDIS_PREFIX: prefix, LOG_LEVEL: "info" });
    try {
      const { address } = await child.line(/"msg":"listening"/);
      const a = inProcess.clients("grpc");
      const b = createClient(SettingsService, createGrpcTransport({ baseUrl: address }));
      const sessionId = newId();
      await a.sessions.createSession({ sessionId });
      const onA = watch(a, { sessionId });
      const onB = watch({ settings: b } as Clients, { sessionId });
      await Promise.all([onA.opened, onB.opened]);
      await a.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "from", value: num(1) } } });
      await b.setSettings({ sessionId, update: { case: "entry", value: { key: "from", value: num(2) } } });
      await Promise.all([onA.until(() => onA.changes.length === 2), onB.until(() => onB.changes.length === 2)]);
      onA.stop();
      onB.stop();
      expect(onA.changes.map((m) => Number(m.entry!.revision))).toEqual([1, 2]);
      expect(onB.changes.map((m) => Number(m.entry!.revision))).toEqual([1, 2]);
      expect((await b.getSettings({ sessionId })).settings).toEqual({ from: 2 });
    } finally {
      child.child.kill("SIGTERM");
      await child.exited;
      await inProcess.close();
    }
  }, 60_000);
});
