// Drop-in for codex-manager's own clients, tested on the wire: the shapes,
// statuses and headers its Python SDK and CLI rely on (checked by hand with
// the real ones; see the README). Runs on each kind of store.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawConnection } from "./support/raw-http.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { restClient, type Rest } from "./support/rest.js";
import { BACKENDS, startTestServer, type Backend, type TestServer } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const start = (backend: Backend, env: Record<string, string> = {}) => startTestServer({ backend, redisUrl: redis.url, env });

/** codex-manager's SessionSummary: every required field, with its type. */
function expectSessionSummary(s: Record<string, unknown>): void {
  expect(s).toMatchObject({
    sessionId: expect.any(String),
    title: expect.any(String),
    materialized: expect.any(Boolean),
    modelProvider: expect.any(String),
    approvalPolicy: expect.stringMatching(/^(untrusted|on-failure|on-request|never)$/),
    sessionControls: expect.objectContaining({ approvalPolicy: expect.any(String), networkAccess: expect.any(String), filesystemSandbox: expect.any(String) }),
    createdAt: expect.any(Number),
    updatedAt: expect.any(Number),
    cwd: expect.any(String),
    source: expect.any(String),
    projectId: null,
  });
  expect("model" in (s.sessionControls as object)).toBe(true);
}

describe.each(BACKENDS)("codex-manager's clients on the %s store", (backend) => {
  let server: TestServer;
  let locked: TestServer;
  let rest: Rest;
  beforeAll(async () => {
    server = await start(backend);
    locked = await start(backend, { SESSION_DEFAULTS_LOCKED: "true" });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.close();
    await locked?.close();
  });

  it("answers sessions in codex-manager's SessionSummary shape, timestamps in Unix seconds", async () => {
    const before = Math.floor(Date.now() / 1000);
    const created = await rest("POST", "/api/sessions", { cwd: "/w" });
    expectSessionSummary(created.body.session);
    expect(created.body.session.createdAt).toBeGreaterThanOrEqual(before);
    const id = created.body.session.sessionId as string;
    const got = await rest("GET", `/api/sessions/${id}`);
    expectSessionSummary(got.body.session);
    expect(got.body.session.sessionControls.settings).toEqual({});
  });

  it("lists sessions as {data, nextCursor, archived}, paged by cursor and limit", async () => {
    const ids = await Promise.all(Array.from({ length: 5 }, async () => (await rest("POST", "/api/sessions", { sessionId: `list-${randomUUID()}` })).body.session.sessionId as string));
    await rest("POST", `/api/sessions/${ids[0]}/settings`, { scope: "session", key: "k", value: 1 });
    const seen: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: Record<string, unknown>[]; nextCursor: string | null; archived: boolean } } =
        await rest("GET", `/api/sessions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.body.archived).toBe(false);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      page.body.data.forEach(expectSessionSummary);
      seen.push(...page.body.data);
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    const listed = seen.map((s) => s.sessionId);
    for (const id of ids) expect(listed).toContain(id);
    expect(new Set(listed).size).toBe(listed.length);
    // A write moves updatedAt, never before createdAt.
    const first = seen.find((s) => s.sessionId === ids[0])!;
    expect(first.updatedAt as number).toBeGreaterThanOrEqual(first.createdAt as number);

    expect((await rest("GET", "/api/sessions?archived=true")).body).toEqual({ data: [], nextCursor: null, archived: true });
    for (const bad of ["limit=0", "limit=201", "limit=abc", "archived=1", "cursor="]) {
      const res = await rest("GET", `/api/sessions?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.code).toBe("invalid_request");
    }
  });

  it("answers 423 on the settings routes with settings, the default scope's map, and the current view", async () => {
    const id = (await restClient(locked.url)("POST", "/api/sessions", {})).body.session.sessionId as string;
    const lockedRest = restClient(locked.url);
    await lockedRest("POST", `/api/sessions/${id}/settings`, { scope: "session", key: "mine", value: 1 });
    for (const [method, path, body] of [
      ["POST", `/api/sessions/${id}/settings`, { scope: "default", key: "k", value: 1 }],
      ["DELETE", `/api/sessions/${id}/settings/k?scope=default`, undefined],
      ["POST", `/api/sessions/${id}/session-controls`, { scope: "default", controls: { model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "read-only" } }],
    ] as const) {
      const res = await lockedRest(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(423);
      expect(res.body).toMatchObject({
        status: "locked", scope: "default", message: "Managed by harness configuration", sessionId: id,
        settings: {}, defaultsEditable: false, defaultLockReason: "Managed by harness configuration",
      });
      expect(res.body.controls.settings).toEqual({ mine: 1 });
    }
  });

  it("refuses a blank actor or source with 400 and zod-shaped issues, and writes nothing", async () => {
    const id = (await rest("POST", "/api/sessions", {})).body.session.sessionId as string;
    const controls = { model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "read-only" };
    for (const [method, path, body, field] of [
      ["POST", `/api/sessions/${id}/settings`, { scope: "session", key: "k", value: 1, actor: "" }, "actor"],
      ["POST", `/api/sessions/${id}/settings`, { scope: "session", key: "k", value: 1, source: "  " }, "source"],
      ["DELETE", `/api/sessions/${id}/settings/k?actor=`, undefined, "actor"],
      ["POST", `/api/sessions/${id}/session-controls`, { scope: "session", controls, actor: " " }, "actor"],
    ] as const) {
      const res = await rest(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body).toMatchObject({ status: "error", code: "invalid_request", message: expect.any(String) });
      expect(res.body.issues).toContainEqual({ code: "too_small", path: [field], message: expect.any(String) });
    }
    const nested = await rest("POST", `/api/sessions/${id}/session-controls`, { scope: "session", controls: { ...controls, approvalPolicy: "always" } });
    expect(nested.body.issues).toContainEqual({ code: "invalid_value", path: ["controls", "approvalPolicy"], message: expect.any(String) });
    expect((await rest("GET", `/api/sessions/${id}/settings`)).body.revision).toBe(0);
    // Absent, they default: actor "user", source "api".
    await rest("POST", `/api/sessions/${id}/settings`, { scope: "session", key: "k", value: 1 });
    const [entry] = (await rest("GET", `/api/sessions/${id}/settings/history?limit=1`)).body.entries;
    expect([entry.actor, entry.source]).toEqual(["user", "api"]);
  });

  it("matches no route with a trailing slash, so a key of '..' resolved by a client deletes nothing", async () => {
    const id = (await rest("POST", "/api/sessions", {})).body.session.sessionId as string;
    for (const [method, path] of [
      ["DELETE", `/api/sessions/${id}/`],
      ["GET", `/api/sessions/${id}/`],
      ["GET", `/api/sessions/${id}/settings/`],
      ["GET", `/api/sessions/${id}/session-controls/`],
    ] as const) {
      const res = await rest(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await rest("GET", `/api/sessions/${id}`)).status).toBe(200);
  });

  it("answers 413 to a client that sends the whole body first, and keeps the connection for the next request", async () => {
    const id = (await rest("POST", "/api/sessions", {})).body.session.sessionId as string;
    const conn = await RawConnection.open(server.port);
    try {
      for (const mib of [4, 8, 4, 8]) {
        const body = JSON.stringify({ scope: "session", key: "big", value: "x".repeat(mib * 1024 * 1024) });
        await conn.send("POST", `/api/sessions/${id}/settings`, body);
        const res = await conn.read();
        expect(res.status, `${mib} MiB`).toBe(413);
        expect(JSON.parse(res.body)).toMatchObject({ status: "error", code: "payload_too_large", limit: 1024 * 1024 });
        expect(res.headers.connection).not.toBe("close");
      }
      await conn.send("GET", `/api/sessions/${id}/settings`);
      expect((await conn.read()).status).toBe(200);
    } finally {
      conn.destroy();
    }
    // fetch, which streams the body while the answer arrives, gets the 413 every time too.
    for (const mib of [4, 8]) {
      const res = await fetch(`${server.url}/api/sessions/${id}/settings`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ scope: "session", key: "big", value: "x".repeat(mib * 1024 * 1024) }),
      });
      expect(res.status, `${mib} MiB by fetch`).toBe(413);
      await res.text();
    }
  });

  it("closes the connection after the 413 when the body is larger than it will drain", async () => {
    const id = (await rest("POST", "/api/sessions", {})).body.session.sessionId as string;
    const conn = await RawConnection.open(server.port);
    try {
      // Declares 100 MiB and sends only the head: the answer comes at once and says close.
      await conn.send("POST", `/api/sessions/${id}/settings`, undefined, { "content-length": String(100 * 1024 * 1024), "content-type": "application/json" });
      const res = await conn.read();
      expect(res.status).toBe(413);
      expect(res.headers.connection).toBe("close");
      expect(await conn.waitClosed(5000)).toBe(true);
    } finally {
      conn.destroy();
    }
  });

  it("closes the connection after refusing a Connect call whose body is larger than it will drain", async () => {
    const conn = await RawConnection.open(server.port);
    try {
      // Declares 100 MiB and sends 2 MiB: refused past the 1 MiB limit, with the rest still to come.
      await conn.send("POST", "/codexmanager.settings.v1.SettingsService/SetSettings", "x".repeat(2 * 1024 * 1024), {
        "content-length": String(100 * 1024 * 1024),
      });
      const res = await conn.read();
      expect(res.status).toBe(429); // Connect's HTTP status for resource_exhausted
      expect(res.headers.connection).toBe("close");
      expect(await conn.waitClosed(5000)).toBe(true);
    } finally {
      conn.destroy();
    }
  });
});
