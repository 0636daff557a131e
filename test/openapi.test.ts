// GET /api/openapi.json is generated from the REST zod schemas; every route's
// real answers, for every status it can give, validate against it. Unknown
// paths answer a JSON 404; only "/" and "/sessions/*" serve the panel.
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "./support/redis.js";
import { restClient, type Rest } from "./support/rest.js";
import { startTestServer, type TestServer } from "./support/server.js";

let redis: TestRedis;
let server: TestServer;
let locked: TestServer;
let authed: TestServer;
let onRedis: TestServer;
let rest: Rest;
let validate: (method: string, route: string, status: number, body: unknown) => void;
const TOKEN = `reader-${randomUUID()}`;

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer({ backend: "sqlite", env: { MAX_SETTINGS_KEYS: "3" } });
  locked = await startTestServer({ backend: "sqlite", env: { SESSION_DEFAULTS_LOCKED: "true" } });
  const tokens = join(mkdtempSync(join(tmpdir(), "cm-oa-")), "tokens.json");
  writeFileSync(tokens, JSON.stringify({ [TOKEN]: { actor: "reader", role: "read" } }));
  authed = await startTestServer({ backend: "sqlite", env: { AUTH_TOKENS_FILE: tokens } });
  onRedis = await startTestServer({ backend: "redis", redisUrl: redis.url, env: { STORE_TIMEOUT_MS: "300" } });
  rest = restClient(server.url);

  const doc = (await rest("GET", "/api/openapi.json")).body;
  expect(doc.openapi).toBe("3.1.0");
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc, "openapi.json");
  validate = (method, route, status, body) => {
    const pointer = ["paths", route, method.toLowerCase(), "responses", String(status), "content", "application/json", "schema"]
      .map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1"))
      .join("/");
    const check = ajv.compile({ $ref: `openapi.json#/${pointer}` });
    expect(check(body), `${method} ${route} ${status}: ${JSON.stringify(check.errors)}\n${JSON.stringify(body)}`).toBe(true);
  };
});

afterAll(async () => {
  await Promise.all([server, locked, authed, onRedis].map((s) => s?.close()));
  await redis?.stop();
});

async function session(on: Rest = rest, extra: object = {}): Promise<string> {
  return (await on("POST", "/api/sessions", extra)).body.session.sessionId as string;
}

describe("the OpenAPI document", () => {
  it("describes every answer of every route, for every status", async () => {
    const id = await session();
    const gone = await session();
    await rest("DELETE", `/api/sessions/${gone}`);
    const system = await session(rest, { systemOwned: true });
    const controls = { model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "read-only" };
    const S = "/api/sessions/{sessionId}";
    const cases: [method: string, route: string, path: string, body?: unknown, on?: Rest][] = [
      ["GET", "/api/sessions", "/api/sessions?limit=2"],
      ["GET", "/api/sessions", "/api/sessions?limit=0"],
      ["POST", "/api/sessions", "/api/sessions", { cwd: "/w" }],
      ["POST", "/api/sessions", "/api/sessions", { sessionId: id }],
      ["POST", "/api/sessions", "/api/sessions", { sessionId: "bad id!" }],
      ["GET", S, `/api/sessions/${id}`],
      ["GET", S, `/api/sessions/missing-${randomUUID()}`],
      ["GET", S, `/api/sessions/${gone}`],
      ["GET", S, `/api/sessions/${system}`],
      ["POST", `${S}/settings`, `/api/sessions/${id}/settings`, { key: "k", value: { a: 1 } }],
      ["POST", `${S}/settings`, `/api/sessions/${id}/settings`, { path: ["k", "b.c"], value: 2, op: "merge" }],
      ["POST", `${S}/settings`, `/api/sessions/${id}/settings`, { key: "k", value: 1, ifRevision: 0 }],
      ["POST", `${S}/settings`, `/api/sessions/${id}/settings`, { key: "", value: 1 }],
      ["POST", `${S}/settings`, `/api/sessions/${id}/settings`, { settings: { x: 1, y: 2, z: 3, w: 4 } }],
      ["POST", `${S}/settings`, `/api/sessions/${id}/settings`, { key: "big", value: "x".repeat(1024 * 1024) }],
      ["GET", `${S}/settings`, `/api/sessions/${id}/settings`],
      ["GET", `${S}/settings`, `/api/sessions/${id}/settings?key=k`],
      ["GET", `${S}/settings`, `/api/sessions/${id}/settings?scope=nope`],
      ["GET", `${S}/settings/history`, `/api/sessions/${id}/settings/history?limit=5`],
      ["DELETE", `${S}/settings/{key}`, `/api/sessions/${id}/settings/k`],
      ["DELETE", `${S}/settings/{key}`, `/api/sessions/${id}/settings/k?ifRevision=99`],
      ["GET", `${S}/session-controls`, `/api/sessions/${id}/session-controls`],
      ["POST", `${S}/session-controls`, `/api/sessions/${id}/session-controls`, { scope: "session", controls }],
      ["POST", `${S}/session-controls`, `/api/sessions/${id}/session-controls`, { scope: "session", controls: { ...controls, model: "" } }],
      ["DELETE", S, `/api/sessions/${id}`],
    ];
    // A write from a foreign web page (403), and a body not declared JSON (415).
    for (const [method, route, path, body] of [
      ["POST", "/api/sessions", "/api/sessions", {}],
      ["DELETE", S, `/api/sessions/${id}`, undefined],
      ["POST", `${S}/settings`, `/api/sessions/${id}/settings`, { key: "k", value: 1 }],
      ["DELETE", `${S}/settings/{key}`, `/api/sessions/${id}/settings/k`, undefined],
      ["POST", `${S}/session-controls`, `/api/sessions/${id}/session-controls`, { controls }],
    ] as const) {
      const foreign = await rest(method, path, body, { headers: { origin: "http://evil.test" } });
      expect(foreign.status).toBe(403);
      validate(method, route, 403, foreign.body);
      if (method !== "POST") continue;
      const plain = await rest(method, path, undefined, { raw: JSON.stringify(body), headers: { "content-type": "text/plain" } });
      expect(plain.status).toBe(415);
      validate(method, route, 415, plain.body);
    }
    const seen = new Set<string>();
    for (const [method, route, path, body, on] of cases) {
      const res = await (on ?? rest)(method, path, body);
      validate(method, route, res.status, res.body);
      seen.add(`${res.status}`);
    }
    // 423 on every write route, 401 and 403 (forbidden) with authentication on, 503 with the store away.
    const lockedRest = restClient(locked.url);
    const lockedId = await session(lockedRest);
    for (const [method, route, path, body] of [
      ["POST", `${S}/settings`, `/api/sessions/${lockedId}/settings`, { scope: "default", key: "k", value: 1 }],
      ["DELETE", `${S}/settings/{key}`, `/api/sessions/${lockedId}/settings/k?scope=default`, undefined],
      ["POST", `${S}/session-controls`, `/api/sessions/${lockedId}/session-controls`, { scope: "default", controls }],
    ] as const) {
      const res = await lockedRest(method, path, body);
      expect(res.status).toBe(423);
      validate(method, route, 423, res.body);
    }
    const anonymous = await restClient(authed.url)("GET", "/api/sessions");
    validate("GET", "/api/sessions", anonymous.status, anonymous.body);
    const reader = await restClient(authed.url)("POST", "/api/sessions", {}, { headers: { authorization: `Bearer ${TOKEN}` } });
    validate("POST", "/api/sessions", reader.status, reader.body);
    await redis.stop();
    try {
      const down = await restClient(onRedis.url)("GET", `/api/sessions/x/settings`);
      validate("GET", `${S}/settings`, down.status, down.body);
      seen.add(`${down.status}`);
    } finally {
      await redis.start();
    }
    for (const status of ["200", "400", "403", "404", "409", "410", "413", "503"]) expect(seen, status).toContain(status);
    expect([anonymous.status, reader.status]).toEqual([401, 403]);
  });
});

describe("the OpenAPI document of the schema registry", () => {
  it("describes every answer of the schema routes, and a write refused by a schema", async () => {
    const key = `typed-${randomUUID().slice(0, 8)}`;
    const K = "/api/schemas/{key}";
    const id = await session();
    const schema = { type: "object", properties: { n: { type: "integer", maximum: 3 } } };
    await rest("POST", `/api/sessions/${id}/settings`, { key, value: { n: 9 } });
    const cases: [method: string, route: string, path: string, body?: unknown, status?: number][] = [
      ["PUT", K, `/api/schemas/${key}`, { schema: { type: "strng" } }, 400],
      ["PUT", K, `/api/schemas/${key}`, { schema }, 409],
      ["GET", K, `/api/schemas/${key}`, undefined, 404],
      ["GET", `${K}/violations`, `/api/schemas/${key}/violations`, undefined, 404],
      ["PUT", K, `/api/schemas/${key}`, { schema, force: true, actor: "ana" }, 200],
      ["PUT", K, `/api/schemas/${key}`, { schema }, 200],
      ["GET", K, `/api/schemas/${key}`, undefined, 200],
      ["GET", "/api/schemas", "/api/schemas", undefined, 200],
      ["GET", `${K}/violations`, `/api/schemas/${key}/violations?limit=1`, undefined, 200],
      ["POST", "/api/sessions/{sessionId}/settings", `/api/sessions/${id}/settings`, { path: [key, "n"], value: 4 }, 400],
      ["DELETE", K, `/api/schemas/${key}?actor=ana`, undefined, 200],
      ["DELETE", K, `/api/schemas/${key}`, undefined, 200],
    ];
    for (const [method, route, path, body, status] of cases) {
      const res = await rest(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(status);
      validate(method, route, res.status, res.body);
    }
    const foreign = await rest("PUT", `/api/schemas/${key}`, { schema }, { headers: { origin: "http://evil.test" } });
    validate("PUT", K, 403, foreign.body);
    const plain = await rest("PUT", `/api/schemas/${key}`, undefined, { raw: "{}", headers: { "content-type": "text/plain" } });
    validate("PUT", K, 415, plain.body);
    const reader = await restClient(authed.url)("PUT", `/api/schemas/${key}`, { schema }, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(reader.status).toBe(403);
    validate("PUT", K, 403, reader.body);
  });
});

describe("paths that are not routes", () => {
  it("answer a JSON 404, except / and /sessions/* which serve the panel", async () => {
    for (const path of ["/nonexistent", "/api", "/api/", "/api/nothing", "/assets/missing.js", "/metrics/x"]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type"), path).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject({ status: "error", code: "not_found" });
    }
    for (const path of ["/", "/sessions/abc"]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toContain("<!doctype html>");
    }
  });

  it("answer a GET on a Connect procedure with a JSON error, not an empty body", async () => {
    const res = await fetch(`${server.url}/codexmanager.settings.v1.SettingsService/GetSettings`);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(await res.json()).toMatchObject({ code: "unimplemented", message: expect.stringContaining("POST") });
  });
});
