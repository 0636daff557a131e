// What the REST routes refuse, over real HTTP against every store: every
// 400 case with its issues, SPEC §4's order of checks, unknown routes, the
// 423 of locked defaults; and on Redis, 410 and 403 across a restart, 503
// while Redis is down and a bare 500 for corrupt data.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "./support/redis.js";
import { CONTROLS, createSession, newId, restClient, settingsPath, type Rest } from "./support/rest.js";
import { BACKENDS, startTestServer, type TestServer } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe.each(BACKENDS)("REST on the %s store", (backend) => {
  let server: TestServer;
  let rest: Rest;
  beforeAll(async () => {
    server = await startTestServer({ backend, redisUrl: redis.url });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.close();
  });

  const session = (extra: Record<string, unknown> = {}) => createSession(rest, extra);

  describe("400 invalid_request, with issues", () => {
    const cases: [string, string, string | object][] = [
      ["both settings and key/value", "settings", { settings: { a: 1 }, key: "a", value: 1 }],
      ["neither settings nor key/value", "settings", {}],
      ["key without value", "settings", { key: "a" }],
      ["value without key", "settings", { value: 1 }],
      ["settings not an object", "settings", { settings: [1, 2] }],
      ["settings a string", "settings", { settings: "x" }],
      ["an unknown mode", "settings", { settings: { a: 1 }, mode: "upsert" }],
      ["an unknown scope", "settings", { scope: "global", key: "a", value: 1 }],
      ["a blank key", "settings", { key: "   ", value: 1 }],
      ["an over-long key", "settings", { key: "k".repeat(241), value: 1 }],
      ["an over-long key inside settings", "settings", { settings: { ["k".repeat(241)]: 1 } }],
      ["a blank actor", "settings", { key: "a", value: 1, actor: " " }],
      ["an over-long actor", "settings", { key: "a", value: 1, actor: "a".repeat(121) }],
      ["an over-long source", "settings", { key: "a", value: 1, source: "s".repeat(65) }],
      ["a value nested too deep", "settings", { key: "a", value: JSON.parse(`${"[".repeat(33)}${"]".repeat(33)}`) }],
      ["a wrong type for ifRevision", "settings", { key: "a", value: 1, ifRevision: "latest" }],
      ["malformed JSON", "settings", "{\"key\": "],
      ["a JSON array body", "settings", "[1,2]"],
      ["a bad approvalPolicy", "session-controls", { controls: { ...CONTROLS, approvalPolicy: "always" } }],
      ["a bad networkAccess", "session-controls", { controls: { ...CONTROLS, networkAccess: "open" } }],
      ["a bad filesystemSandbox", "session-controls", { controls: { ...CONTROLS, filesystemSandbox: "rw" } }],
      ["a blank model", "session-controls", { controls: { ...CONTROLS, model: "  " } }],
      ["a missing control field", "session-controls", { controls: { model: null, approvalPolicy: "never", networkAccess: "enabled" } }],
      ["missing controls", "session-controls", { scope: "session" }],
      ["controls.settings not an object", "session-controls", { controls: { ...CONTROLS, settings: 3 } }],
      ["an unknown scope for controls", "session-controls", { scope: "everything", controls: CONTROLS }],
      ["malformed JSON for controls", "session-controls", "nope"],
      ["an empty path array", "settings", { path: [], value: 1 }],
      ["an empty path segment", "settings", { path: ["team", ""], value: 1 }],
      ["a blank path segment", "settings", { path: ["team", "  "], value: 1 }],
      ["a non-string path segment", "settings", { path: ["team", 3], value: 1 }],
      ["a path segment with a control character", "settings", { path: ["team", "a\u0000"], value: 1 }],
      ["a path segment over the key length", "settings", { path: ["team", "x".repeat(241)], value: 1 }],
      ["more path segments than the depth limit", "settings", { path: Array.from({ length: 33 }, (_, i) => `s${i}`), value: 1 }],
      ["a path that is neither a string nor an array", "settings", { path: { a: 1 }, value: 1 }],
    ];
    it.each(cases)("for %s", async (_, route, body) => {
      const id = await session();
      const res = typeof body === "string"
        ? await rest("POST", `/api/sessions/${id}/${route}`, undefined, { raw: body })
        : await rest("POST", `/api/sessions/${id}/${route}`, body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: "error", code: "invalid_request" });
      expect(typeof res.body.message).toBe("string");
      expect(Array.isArray(res.body.issues) && res.body.issues.length > 0).toBe(true);
      // Nothing changed.
      expect((await rest("GET", `/api/sessions/${id}/settings`)).body.revision).toBe(0);
    });

    it("for a malformed session id, a bad scope query, and bad create bodies", async () => {
      expect((await rest("GET", "/api/sessions/bad%20id/settings")).status).toBe(400);
      const id = await session();
      expect((await rest("GET", `${settingsPath(id)}?scope=nope`)).status).toBe(400);
      expect((await rest("GET", `${settingsPath(id)}?key=%20`)).status).toBe(400);
      expect((await rest("DELETE", `${settingsPath(id)}/${"k".repeat(241)}`)).status).toBe(400);
      expect((await rest("POST", "/api/sessions", { sessionId: "no/slash" })).status).toBe(400);
      expect((await rest("POST", "/api/sessions", { approvalPolicy: "whatever" })).status).toBe(400);
      expect((await rest("POST", "/api/sessions", { systemOwned: "yes" })).status).toBe(400);
      expect((await rest("POST", "/api/sessions", undefined, { raw: "{" })).status).toBe(400);
    });
  });

  describe("order of checks", () => {
    it("answers 404, not 400, for a bad body sent to an unknown session", async () => {
      const id = newId();
      for (const body of ["{bad json", JSON.stringify({ key: "a" }), JSON.stringify({ settings: 1 })]) {
        const res = await rest("POST", settingsPath(id), undefined, { raw: body });
        expect(res.status).toBe(404);
      }
      expect((await rest("POST", `/api/sessions/${id}/session-controls`, {})).status).toBe(404);
    });

    it("answers 410 and 403 before 400 for deleted and system sessions", async () => {
      const gone = await session();
      await rest("DELETE", `/api/sessions/${gone}`);
      expect((await rest("POST", settingsPath(gone), { key: "a" })).status).toBe(410);
      const system = await session({ systemOwned: true });
      expect((await rest("POST", settingsPath(system), { key: "a" })).status).toBe(403);
    });

    it("answers 400 for a bad payload before 409 for a stale revision", async () => {
      const id = await session();
      expect((await rest("POST", settingsPath(id), { key: " ", value: 1, ifRevision: 99 })).status).toBe(400);
    });
  });

  it("answers 404 JSON for an unknown /api route", async () => {
    for (const [method, path] of [["GET", "/api/nothing"], ["PUT", "/api/sessions/x"], ["GET", "/api/sessions/x/other"]]) {
      const res = await rest(method!, path!);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      expect(res.body).toMatchObject({ status: "error", code: "not_found" });
    }
  });
});

describe.each(BACKENDS)("REST with SESSION_DEFAULTS_LOCKED on the %s store", (backend) => {
  let server: TestServer;
  let rest: Rest;
  beforeAll(async () => {
    server = await startTestServer({ backend, redisUrl: redis.url, env: { SESSION_DEFAULTS_LOCKED: "true" } });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("answers 423 with the current view for all three default-scope writes; reads and session writes work", async () => {
    const id = newId();
    await rest("POST", "/api/sessions", { sessionId: id });
    const writes: [string, string, unknown?][] = [
      ["POST", `/api/sessions/${id}/settings`, { scope: "default", key: "k", value: 1 }],
      ["DELETE", `/api/sessions/${id}/settings/k?scope=default`],
      ["POST", `/api/sessions/${id}/session-controls`, { scope: "default", controls: CONTROLS }],
    ];
    for (const [method, path, body] of writes) {
      const res = await rest(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(423);
      expect(res.body).toMatchObject({
        status: "locked", scope: "default", message: "Managed by harness configuration", sessionId: id,
        defaultsEditable: false, defaultLockReason: "Managed by harness configuration",
      });
      expect(res.body.defaults).toMatchObject({ approvalPolicy: "untrusted" });
      expect(res.body.controls).toBeDefined();
    }
    expect((await rest("GET", `/api/sessions/${id}/settings?scope=default`)).status).toBe(200);
    const controls = await rest("GET", `/api/sessions/${id}/session-controls`);
    expect(controls.body).toMatchObject({ defaultsEditable: false, defaultLockReason: "Managed by harness configuration" });
    expect((await rest("POST", `/api/sessions/${id}/settings`, { key: "k", value: 1 })).status).toBe(200);
    expect((await rest("POST", `/api/sessions/${id}/session-controls`, { controls: CONTROLS })).status).toBe(200);
  });

  it("answers 410 for a deleted session even on a locked default-scope write", async () => {
    const id = newId();
    await rest("POST", "/api/sessions", { sessionId: id });
    await rest("DELETE", `/api/sessions/${id}`);
    expect((await rest("POST", `/api/sessions/${id}/settings`, { scope: "default", key: "k", value: 1 })).status).toBe(410);
    expect((await rest("POST", `/api/sessions/${id}/session-controls`, { scope: "default", controls: CONTROLS })).status).toBe(410);
  });
});

describe("REST on Redis across restarts and outages", () => {
  it("keeps 410 and 403 across a server restart", async () => {
    const env = { REDIS_PREFIX: `rr${randomUUID().slice(0, 8)}:` };
    const first = await startTestServer({ backend: "redis", redisUrl: redis.url, env });
    const rest1 = restClient(first.url);
    const gone = newId();
    const system = newId();
    await rest1("POST", "/api/sessions", { sessionId: gone });
    await rest1("DELETE", `/api/sessions/${gone}`);
    await rest1("POST", "/api/sessions", { sessionId: system, systemOwned: true });
    await first.close();
    const second = await startTestServer({ backend: "redis", redisUrl: redis.url, env });
    try {
      const rest2 = restClient(second.url);
      expect((await rest2("GET", `/api/sessions/${gone}/settings`)).status).toBe(410);
      expect((await rest2("GET", `/api/sessions/${system}/settings`)).status).toBe(403);
    } finally {
      await second.close();
    }
  });

  it("answers 503 unavailable when Redis is down, and 500 without internals on corrupt data", async () => {
    const own = await startRedis({ extraArgs: [] });
    const server = await startTestServer({ backend: "redis", redisUrl: own.url, env: { STORE_TIMEOUT_MS: "500" } });
    const rest = restClient(server.url);
    try {
      const id = newId();
      await rest("POST", "/api/sessions", { sessionId: id });
      const { Redis } = await import("ioredis");
      const raw = new Redis(own.url);
      await raw.hset(`${server.env.REDIS_PREFIX}{s:${id}}:settings`, "broken", "{not json");
      raw.disconnect();
      const corrupt = await rest("GET", `/api/sessions/${id}/settings`);
      expect(corrupt.status).toBe(500);
      expect(corrupt.body).toEqual({ status: "error", code: "internal_error", message: "internal server error" });

      await own.stop();
      const started = Date.now();
      const down = await rest("POST", `/api/sessions/${id}/settings`, { key: "k", value: 1 });
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: "error", code: "unavailable" });
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    } finally {
      await server.close();
      await own.stop();
    }
  });
});
