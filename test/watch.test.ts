// WatchSettings and history: ordered, resumable, no gap and no duplicate,
// fan-out through one subscriber connection, across two server processes
// on one Redis, and Server-Sent Events over plain HTTP.
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PathOp, Scope, type WatchSettingsResponse } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { expectFailure } from "./support/errors.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { restClient } from "./support/rest.js";
import { startTestServer, type Backend, type Clients, type TestServer, type TransportName } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const num = (n: number) => ({ kind: { case: "numberValue" as const, value: n } });
const newId = () => `w-${randomUUID()}`;

/** Opens a watch and collects its change messages in the background. */
function watch(c: Clients, request: Parameters<Clients["settings"]["watchSettings"]>[0]) {
  const abort = new AbortController();
  const changes: WatchSettingsResponse[] = [];
  let heartbeats = 0;
  let error: unknown;
  let ended = false;
  const done = (async () => {
    try {
      for await (const msg of c.settings.watchSettings(request, { signal: abort.signal })) {
        if (msg.heartbeat) heartbeats++;
        else changes.push(msg);
      }
    } catch (err) {
      error = err;
    } finally {
      ended = true;
    }
  })();
  return {
    changes,
    get heartbeats() { return heartbeats; },
    get error() { return error; },
    get ended() { return ended; },
    done,
    async until(predicate: () => boolean, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out; got ${changes.length} changes, error ${String(error)}`);
        if (ended && !predicate()) throw new Error(`stream ended early: ${String(error)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    stop: () => abort.abort(),
  };
}

const revisions = (w: { changes: WatchSettingsResponse[] }) => w.changes.map((m) => Number(m.entry!.revision));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const CASES: [Backend, TransportName][] = [
  ["embedded", "grpc"], ["embedded", "connect-json"], ["embedded", "grpc-web"],
  ["redis", "grpc"], ["redis", "connect-json"], ["redis", "grpc-web"],
];

describe.each(CASES)("WatchSettings on the %s store over %s", (backend, transport) => {
  let server: TestServer;
  let c: Clients;
  beforeAll(async () => {
    server = await startTestServer({ backend, redisUrl: redis.url, env: { HISTORY_LIMIT: "50", WATCH_HEARTBEAT_MS: "100" } });
    c = server.clients(transport);
  });
  afterAll(async () => {
    await server?.close();
  });

  async function session(): Promise<string> {
    const sessionId = newId();
    await c.sessions.createSession({ sessionId });
    return sessionId;
  }
  const set = (sessionId: string, key: string, value: number, extra: Record<string, unknown> = {}) =>
    c.settings.setSettings({ sessionId, update: { case: "entry", value: { key, value: num(value) } }, ...extra });

  it("sends each change once, in revision order, with provenance and new values; unchanged writes send nothing", async () => {
    const sessionId = await session();
    const w = watch(c, { sessionId, includeSettings: true });
    await new Promise((r) => setTimeout(r, 100));
    await set(sessionId, "a", 1, { actor: "bot", source: "cli" });
    await set(sessionId, "a", 1);
    await c.settings.setSettings({ sessionId, update: { case: "path", value: { path: "team.x", value: num(2), op: PathOp.SET } } });
    await c.settings.applyControls({ sessionId, controls: { model: "m", approvalPolicy: 4, networkAccess: 2, filesystemSandbox: 2 } });
    await w.until(() => w.changes.length >= 3);
    await new Promise((r) => setTimeout(r, 150));
    w.stop();
    expect(revisions(w)).toEqual([1, 2, 3]);
    const [first, second, third] = w.changes;
    expect(first!.entry).toMatchObject({ op: "set", actor: "bot", source: "cli", scope: Scope.SESSION });
    expect(first!.entry!.time).toBeDefined();
    expect(first!.entry!.changes[0]!.key).toBe("a");
    expect(first!.settings).toEqual({ a: 1 });
    expect(second!.entry!.op).toBe("path");
    expect(second!.settings).toEqual({ a: 1, team: { x: 2 } });
    expect(third!.entry!.op).toBe("controls");
    expect(third!.entry!.changes.map((ch) => ch.key)).toContain("model");
  });

  it("replays retained history after fromRevision, then goes live, with no gap or duplicate under concurrent writes", async () => {
    const sessionId = await session();
    for (let i = 1; i <= 10; i++) await set(sessionId, `k${i % 3}`, i);
    const writers = Promise.all(Array.from({ length: 20 }, (_, i) => set(sessionId, `c${i}`, i)));
    const w = watch(c, { sessionId, fromRevision: 4n, includeSettings: true });
    await writers;
    await w.until(() => w.changes.length >= 26);
    await set(sessionId, "after", 1);
    await w.until(() => w.changes.length >= 27);
    w.stop();
    expect(revisions(w)).toEqual(range(5, 31));
    // The map carried by each message is the map at that revision.
    const final = await c.settings.getSettings({ sessionId });
    expect(w.changes.at(-1)!.settings).toEqual(final.settings);
    expect(w.changes[0]!.settings).toEqual({ k0: 3, k1: 4, k2: 5 });
  });

  it("orders 20 concurrent writers' events without duplicates", async () => {
    const sessionId = await session();
    const w = watch(c, { sessionId });
    await new Promise((r) => setTimeout(r, 100));
    await Promise.all(Array.from({ length: 20 }, (_, i) => set(sessionId, `k${i}`, i)));
    await w.until(() => w.changes.length >= 20);
    w.stop();
    expect(revisions(w)).toEqual(range(1, 20));
  });

  it("refuses a fromRevision older than retained history with out_of_range", async () => {
    const sessionId = await session();
    for (let i = 1; i <= 55; i++) await set(sessionId, "k", i);
    const stale = watch(c, { sessionId, fromRevision: 2n });
    await stale.done;
    expect(stale.error).toBeInstanceOf(ConnectError);
    expect(Code[(stale.error as ConnectError).code]).toBe("OutOfRange");
    const ok = watch(c, { sessionId, fromRevision: 5n });
    await ok.until(() => ok.changes.length >= 50);
    ok.stop();
    expect(revisions(ok)).toEqual(range(6, 55));
  });

  it("fails like any call for unknown, deleted and system-owned sessions", async () => {
    await expectFailure(drain(c, { sessionId: newId() }), Code.NotFound, "SESSION_NOT_FOUND");
    const gone = await session();
    await c.sessions.deleteSession({ sessionId: gone });
    await expectFailure(drain(c, { sessionId: gone }), Code.NotFound, "SESSION_DELETED");
    const system = newId();
    await c.sessions.createSession({ sessionId: system, systemOwned: true });
    await expectFailure(drain(c, { sessionId: system }), Code.PermissionDenied, "SYSTEM_SESSION");
  });

  it("ends a watched session's streams with SESSION_DELETED when it is deleted", async () => {
    const sessionId = await session();
    const w = watch(c, { sessionId });
    const d = watch(c, { sessionId, scope: Scope.DEFAULT });
    await new Promise((r) => setTimeout(r, 100));
    await set(sessionId, "k", 1);
    await w.until(() => w.changes.length === 1);
    await c.sessions.deleteSession({ sessionId });
    await Promise.all([w.done, d.done]);
    for (const stream of [w, d]) {
      expect(stream.error).toBeInstanceOf(ConnectError);
      expect(Code[(stream.error as ConnectError).code]).toBe("NotFound");
    }
  });

  it("watches the default scope through any session", async () => {
    const sessionId = await session();
    const w = watch(c, { sessionId, scope: Scope.DEFAULT, includeSettings: true });
    await new Promise((r) => setTimeout(r, 100));
    const key = `d-${randomUUID()}`;
    const res = await c.settings.setSettings({ sessionId, scope: Scope.DEFAULT, update: { case: "entry", value: { key, value: num(1) } } });
    await c.settings.unsetSetting({ sessionId, scope: Scope.DEFAULT, key });
    await w.until(() => w.changes.length >= 2);
    w.stop();
    expect(revisions(w)).toEqual([Number(res.revision), Number(res.revision) + 1]);
    expect(w.changes[0]!.entry!.scope).toBe(Scope.DEFAULT);
    expect(w.changes[0]!.settings![key]).toBe(1);
    expect(w.changes[1]!.settings![key]).toBeUndefined();
  });

  it("sends heartbeats on an idle stream", async () => {
    const sessionId = await session();
    const w = watch(c, { sessionId });
    await w.until(() => w.heartbeats >= 2, 5000);
    w.stop();
    expect(w.changes).toHaveLength(0);
  });
});

async function drain(c: Clients, request: Parameters<Clients["settings"]["watchSettings"]>[0]): Promise<void> {
  for await (const _ of c.settings.watchSettings(request)) {
    // Only the error matters.
  }
}

describe.each(["embedded", "redis"] as Backend[])("fan-out and history on the %s store", (backend) => {
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
    await new Promise((r) => setTimeout(r, 500));
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
    const reader = res.body!.getReader();
    let text = "";
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil(/id: 1\n/);
    await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "b", value: num(2) } } });
    await readUntil(/id: 2\nevent: change\ndata: .*\n\n/);
    const events = text.split("\n\n").filter((e) => e.includes("event: change"));
    const data = events.map((e) => JSON.parse(e.split("\ndata: ")[1]!));
    expect(data.map((d) => d.revision)).toEqual([1, 2]);
    expect(data[1]).toMatchObject({ op: "set", actor: "user", source: "api", settings: { a: 1, b: 2 } });
    await c.sessions.deleteSession({ sessionId });
    await readUntil(/event: error\ndata: .*\n\n/);
    expect(text).toContain('"status":"deleted"');
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
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await own.close();
    await w.done;
    expect(Date.now() - started).toBeLessThan(3000);
    if (w.error) expect(["Unavailable", "Canceled", "Aborted"]).toContain(Code[(w.error as ConnectError).code]);
  });
});

describe("two server processes on one Redis", () => {
  it("see each other's writes and events", async () => {
    const env = { REDIS_PREFIX: `two${randomUUID().slice(0, 8)}:` };
    const a = await startTestServer({ backend: "redis", redisUrl: redis.url, env });
    const b = await startTestServer({ backend: "redis", redisUrl: redis.url, env });
    try {
      const sessionId = newId();
      await a.clients("grpc").sessions.createSession({ sessionId });
      const onA = watch(a.clients("grpc"), { sessionId });
      const onB = watch(b.clients("connect-json"), { sessionId });
      await new Promise((r) => setTimeout(r, 200));
      await a.clients("grpc").settings.setSettings({ sessionId, update: { case: "entry", value: { key: "from", value: num(1) } } });
      await b.clients("grpc").settings.setSettings({ sessionId, update: { case: "entry", value: { key: "from", value: num(2) } } });
      await Promise.all([onA.until(() => onA.changes.length === 2), onB.until(() => onB.changes.length === 2)]);
      onA.stop();
      onB.stop();
      expect(revisions(onA)).toEqual([1, 2]);
      expect(revisions(onB)).toEqual([1, 2]);
      expect((await b.clients().settings.getSettings({ sessionId })).settings).toEqual({ from: 2 });
    } finally {
      await a.close();
      await b.close();
    }
  });
});
