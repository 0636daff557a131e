// The REST routes of SPEC §5 over real HTTP, against every store: every
// route and what it answers. Refusals (400s, SPEC §4's order of checks,
// locked defaults) and outages are in rest-refusals.test.ts.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "./support/redis.js";
import { CONTROLS, createSession, enc, newId, restClient, settingsPath, type Rest } from "./support/rest.js";
import { BACKENDS, startTestServer, type Backend, type TestServer } from "./support/server.js";

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

    it("answers a write with the whole map built from its stored texts, a \"__proto__\" key and exact integers included", async () => {
      const id = await session();
      const raw = '{"settings":{"__proto__":{"x":1},"big":9007199254740991,"a":[1,"é"]}}';
      let res = await rest("POST", settingsPath(id), undefined, { raw });
      expect(res.status).toBe(200);
      const expected = JSON.parse('{"__proto__":{"x":1},"big":9007199254740991,"a":[1,"é"]}');
      expect(Object.hasOwn(res.body.settings, "__proto__")).toBe(true);
      expect(res.body.settings).toEqual(expected);
      res = await rest("DELETE", `${settingsPath(id)}/a`);
      expect(res.body).toMatchObject({ status: "ok", key: "a", removed: true, revision: 2 });
      expect(Object.hasOwn(res.body.settings, "__proto__")).toBe(true);
      expect(res.body.settings).toEqual(JSON.parse('{"__proto__":{"x":1},"big":9007199254740991}'));
      expect((await rest("GET", settingsPath(id))).body.settings).toEqual(res.body.settings);
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
});
