// The REST routes of SPEC §5 over real HTTP, against both stores: every
// route, every status, every 400 case, and SPEC §4's order of checks.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "./support/redis.js";
import { enc, restClient, type Rest } from "./support/rest.js";
import { BACKENDS, startTestServer, type Backend, type TestServer } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const CONTROLS = { model: "gpt-5", approvalPolicy: "on-request", networkAccess: "enabled", filesystemSandbox: "workspace-write" };
const newId = () => `r-${randomUUID()}`;

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

  async function session(extra: Record<string, unknown> = {}): Promise<string> {
    const sessionId = newId();
    const res = await rest("POST", "/api/sessions", { sessionId, cwd: "/w", ...extra });
    expect(res.status).toBe(200);
    return sessionId;
  }
  const settingsPath = (id: string) => `/api/sessions/${id}/settings`;

  describe("sessions", () => {
    it("POST /api/sessions creates, with copied default controls and any overrides", async () => {
      const res = await rest("POST", "/api/sessions", { cwd: "/repo", model: "m", networkAccess: "enabled" });
      expect(res.status).toBe(200);
      const s = res.body.session;
      expect(s.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(s).toMatchObject({ cwd: "/repo", systemOwned: false });
      expect(new Date(s.createdAt).getTime()).toBeGreaterThan(0);
      expect(s.sessionControls).toMatchObject({ model: "m", approvalPolicy: "untrusted", networkAccess: "enabled", filesystemSandbox: "read-only", settings: {} });
    });

    it("GET and DELETE /api/sessions/:id, then 410 for every route", async () => {
      const id = await session();
      const got = await rest("GET", `/api/sessions/${id}`);
      expect(got.status).toBe(200);
      expect(got.body.session.sessionId).toBe(id);
      const del = await rest("DELETE", `/api/sessions/${id}`);
      expect(del.status).toBe(200);
      expect(del.body).toMatchObject({ status: "ok", sessionId: id });
      for (const [method, path, body] of [
        ["GET", `/api/sessions/${id}`],
        ["DELETE", `/api/sessions/${id}`],
        ["GET", settingsPath(id)],
        ["POST", settingsPath(id), { key: "k", value: 1 }],
        ["DELETE", `${settingsPath(id)}/k`],
        ["GET", `/api/sessions/${id}/session-controls`],
        ["POST", `/api/sessions/${id}/session-controls`, { controls: CONTROLS }],
        ["POST", "/api/sessions", { sessionId: id }],
      ] as [string, string, unknown?][]) {
        const res = await rest(method, path, body);
        expect(res.status, `${method} ${path}`).toBe(410);
        expect(res.body).toMatchObject({ status: "deleted", sessionId: id });
        expect(typeof res.body.message).toBe("string");
        expect(new Date(res.body.deletedAt).getTime()).toBeGreaterThan(0);
      }
    });

    it("answers 404 {status:not_found, sessionId} for an unknown session", async () => {
      const id = newId();
      for (const [method, path] of [["GET", `/api/sessions/${id}`], ["GET", settingsPath(id)], ["GET", `/api/sessions/${id}/session-controls`], ["DELETE", `${settingsPath(id)}/k`]]) {
        const res = await rest(method!, path!);
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ status: "not_found", sessionId: id });
      }
    });

    it("answers 403 system_session for a system-owned session", async () => {
      const id = await session({ systemOwned: true });
      const res = await rest("GET", settingsPath(id));
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ status: "error", code: "system_session", sessionId: id });
      expect(typeof res.body.message).toBe("string");
    });

    it("answers 409 when the session already exists", async () => {
      const id = await session();
      const res = await rest("POST", "/api/sessions", { sessionId: id });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ status: "error", code: "session_exists", sessionId: id });
    });
  });

  describe("settings", () => {
    it("GET answers the map with its revision, or one key with found and value", async () => {
      const id = await session();
      await rest("POST", settingsPath(id), { settings: { a: 1, n: null } });
      const all = await rest("GET", settingsPath(id));
      expect(all.body).toEqual({ status: "ok", sessionId: id, scope: "session", settings: { a: 1, n: null }, revision: 1 });
      const one = await rest("GET", `${settingsPath(id)}?key=n`);
      expect(one.body).toEqual({ status: "ok", sessionId: id, scope: "session", key: "n", found: true, value: null, revision: 1 });
      const none = await rest("GET", `${settingsPath(id)}?key=zzz`);
      expect(none.body).toMatchObject({ found: false, value: null });
    });

    it("POST merges, replaces, sets an entry (null kept) and writes a path", async () => {
      const id = await session();
      let res = await rest("POST", settingsPath(id), { settings: { a: 1, b: { x: 1 } } });
      expect(res.body).toEqual({ status: "ok", sessionId: id, scope: "session", settings: { a: 1, b: { x: 1 } }, revision: 1 });
      res = await rest("POST", settingsPath(id), { settings: { b: { y: 2 } }, mode: "merge" });
      expect(res.body.settings).toEqual({ a: 1, b: { y: 2 } });
      res = await rest("POST", settingsPath(id), { key: "n", value: null });
      expect(res.body).toMatchObject({ status: "ok", key: "n", revision: 3 });
      expect(res.body.settings.n).toBeNull();
      res = await rest("POST", settingsPath(id), { path: "team.review.owner", value: "ana" });
      expect(res.body).toMatchObject({ status: "ok", key: "team" });
      res = await rest("POST", settingsPath(id), { path: "team.review", value: { extra: true }, op: "merge" });
      expect(res.body.settings.team).toEqual({ review: { owner: "ana", extra: true } });
      res = await rest("POST", settingsPath(id), { path: "team.review.owner", op: "unset" });
      expect(res.body).toMatchObject({ status: "ok", removed: true });
      res = await rest("POST", settingsPath(id), { settings: {}, mode: "replace" });
      expect(res.body).toMatchObject({ status: "ok", settings: {}, revision: 7 });
    });

    it("POST takes a path as an array of segments, so keys with dots are reachable", async () => {
      const id = await session();
      await rest("POST", settingsPath(id), { key: "a.b", value: { keep: 1 } });
      let res = await rest("POST", settingsPath(id), { path: ["a.b", "c"], value: 2 });
      expect(res.body).toMatchObject({ status: "ok", key: "a.b", settings: { "a.b": { keep: 1, c: 2 } } });
      res = await rest("POST", settingsPath(id), { path: ["team", "v1.2"], value: { on: true }, op: "merge" });
      expect(res.body.settings.team).toEqual({ "v1.2": { on: true } });
      res = await rest("POST", settingsPath(id), { path: ["team", "v1.2", "on"], op: "unset" });
      expect(res.body).toMatchObject({ status: "ok", removed: true, settings: { team: { "v1.2": {} } } });
      const history = await rest("GET", `${settingsPath(id)}/history?limit=3`);
      expect(history.body.entries.map((e: { path?: unknown }) => e.path)).toEqual([
        { segments: ["team", "v1.2", "on"], op: "unset" },
        { segments: ["team", "v1.2"], op: "merge" },
        { segments: ["a.b", "c"], op: "set" },
      ]);
    });

    it("answers a retried Idempotency-Key with the first result, marked replayed, and applies nothing twice", async () => {
      const id = await session();
      const headers = { "idempotency-key": `k-${randomUUID()}` };
      const first = await rest("POST", settingsPath(id), { key: "n", value: 1 }, { headers });
      expect(first.headers.get("idempotent-replayed")).toBeNull();
      await rest("POST", settingsPath(id), { key: "m", value: 2 });
      const again = await rest("POST", settingsPath(id), { key: "n", value: 1 }, { headers });
      expect(again.status).toBe(200);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.body).toMatchObject({ status: "ok", key: "n", revision: 1 });
      const del = { "idempotency-key": `d-${randomUUID()}` };
      expect((await rest("DELETE", `${settingsPath(id)}/m`, undefined, { headers: del })).body.removed).toBe(true);
      expect((await rest("DELETE", `${settingsPath(id)}/m`, undefined, { headers: del })).headers.get("idempotent-replayed")).toBe("true");
      const other = await rest("POST", settingsPath(id), { key: "n", value: 5 }, { headers });
      expect(other.status).toBe(400);
      expect(other.body.issues[0].path).toEqual(["requestId"]);
      expect((await rest("GET", settingsPath(id))).body).toMatchObject({ settings: { n: 1 }, revision: 3 });
    });

    it("answers status unchanged, at the same revision, for a write that changes nothing", async () => {
      const id = await session();
      await rest("POST", settingsPath(id), { key: "k", value: [1] });
      const res = await rest("POST", settingsPath(id), { key: "k", value: [1] });
      expect(res.body).toMatchObject({ status: "unchanged", revision: 1 });
      const del = await rest("DELETE", `${settingsPath(id)}/missing`);
      expect(del.body).toMatchObject({ status: "unchanged", removed: false, revision: 1 });
    });

    it("DELETE removes any key of up to 240 characters, URL-decoded", async () => {
      const id = await session();
      const keys = ["a/b", "what?", "hash#tag", "100%", "with space", "dots.in.key", "...", "ключ 😀", "x".repeat(240), `${"/?#% .é".repeat(30)}`];
      for (const key of keys) {
        await rest("POST", settingsPath(id), { key, value: 1 });
        const res = await rest("DELETE", `${settingsPath(id)}/${enc(key)}?actor=cleaner&source=test`);
        expect(res.status, key).toBe(200);
        expect(res.body).toMatchObject({ status: "ok", sessionId: id, scope: "session", key, removed: true });
        expect(res.body.settings[key]).toBeUndefined();
      }
      const history = await server.clients().settings.listHistory({ sessionId: id, limit: 1 });
      expect([history.entries[0]!.actor, history.entries[0]!.source]).toEqual(["cleaner", "test"]);
    });

    it("refuses a stale ifRevision with 409 and changes nothing", async () => {
      const id = await session();
      await rest("POST", settingsPath(id), { key: "k", value: 1 });
      const res = await rest("POST", settingsPath(id), { key: "k", value: 2, ifRevision: 0 });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ status: "conflict", code: "revision_mismatch", sessionId: id, scope: "session", expectedRevision: 0, currentRevision: 1 });
      const del = await rest("DELETE", `${settingsPath(id)}/k?ifRevision=7`);
      expect(del.status).toBe(409);
      const now = await rest("GET", settingsPath(id));
      expect(now.body).toMatchObject({ settings: { k: 1 }, revision: 1 });
      const good = await rest("POST", settingsPath(id), { key: "k", value: 2, ifRevision: 1 });
      expect(good.body).toMatchObject({ status: "ok", revision: 2 });
    });

    it("answers 413 for a body over 1 MiB, and for a map over its limits", async () => {
      const id = await session();
      const res = await rest("POST", settingsPath(id), { key: "big", value: "x".repeat(1024 * 1024) });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ status: "error", code: "payload_too_large", limit: 1024 * 1024 });
      // The connection stays usable for the next call.
      expect((await rest("GET", settingsPath(id))).status).toBe(200);
    });

    it("loses no update among many REST clients writing sibling nested paths", async () => {
      const id = await session();
      const writes = Array.from({ length: 60 }, (_, i) => rest("POST", settingsPath(id), { path: `team.w${i}`, value: i, actor: `w${i}` }));
      const replies = await Promise.all(writes);
      expect(replies.every((r) => r.status === 200)).toBe(true);
      const final = await rest("GET", settingsPath(id));
      expect(final.body.revision).toBe(60);
      expect(Object.keys(final.body.settings.team)).toHaveLength(60);
    });
  });

  describe("session-controls", () => {
    it("GET answers both tuples and whether defaults are editable", async () => {
      const id = await session();
      const res = await rest("GET", `/api/sessions/${id}/session-controls`);
      expect(res.body).toMatchObject({
        status: "ok", sessionId: id, defaultsEditable: true, defaultLockReason: null,
        controls: { model: null, approvalPolicy: "untrusted", networkAccess: "restricted", filesystemSandbox: "read-only", settings: {} },
        defaults: { approvalPolicy: "untrusted" },
      });
    });

    it("POST applies controls, keeps settings unless given, and answers the summary and view", async () => {
      const id = await session();
      await rest("POST", settingsPath(id), { key: "keep", value: 1 });
      const res = await rest("POST", `/api/sessions/${id}/session-controls`, { scope: "session", controls: CONTROLS, actor: "ana" });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: "ok", scope: "session", sessionId: id,
        applied: { ...CONTROLS, settings: { keep: 1 } },
        summary: "gpt-5 | on-request | enabled | workspace-write | settings:1",
        controls: { ...CONTROLS, settings: { keep: 1 } },
        defaultsEditable: true, defaultLockReason: null,
      });
      const again = await rest("POST", `/api/sessions/${id}/session-controls`, { controls: CONTROLS });
      expect(again.body.status).toBe("unchanged");
      const replaced = await rest("POST", `/api/sessions/${id}/session-controls`, { controls: { ...CONTROLS, model: null, settings: { only: true } } });
      expect(replaced.body.applied).toEqual({ ...CONTROLS, model: null, settings: { only: true } });
      expect(replaced.body.summary).toBe("default | on-request | enabled | workspace-write | settings:1");
    });
  });

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
