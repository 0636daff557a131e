// Optional bearer-token authentication, on both stores, over Connect and REST.
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../gen/codexmanager/settings/v1/session_pb.js";
import { Scope, SettingsService } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { SchemaService } from "../gen/codexmanager/settings/v1/schemas_pb.js";
import { Authenticator } from "../src/auth.js";
import { ConfigError } from "../src/config.js";
import { createLogger } from "../src/observe/log.js";
import { expectFailure } from "./support/errors.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { restClient } from "./support/rest.js";
import { BACKENDS, startTestServer, type Backend, type TestServer } from "./support/server.js";

const TOKENS = {
  reader: `read-${randomUUID()}`,
  writer: `write-${randomUUID()}`,
  admin: `admin-${randomUUID()}`,
};
const SECRET_VALUE = `secret-value-${randomUUID()}`;

function tokensFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), "cm-auth-")), "tokens.json");
  writeFileSync(file, JSON.stringify({
    [TOKENS.reader]: { actor: "reporter", role: "read" },
    [TOKENS.writer]: { actor: "automation", role: "write" },
    [TOKENS.admin]: { actor: "harness", role: "admin" },
  }));
  return file;
}

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe.each(BACKENDS)("authentication on the %s store", (backend) => {
  let server: TestServer;
  const logLines: string[] = [];
  beforeAll(async () => {
    server = await startTestServer({
      backend, redisUrl: redis.url,
      env: { AUTH_TOKENS_FILE: tokensFile(), LOG_LEVEL: "debug" },
      log: createLogger("debug", { write: (line: string) => logLines.push(line) }),
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  const clients = (token?: string) => {
    const transport = createGrpcTransport({
      baseUrl: server.url,
      interceptors: token ? [(next) => (req) => { req.header.set("authorization", `Bearer ${token}`); return next(req); }] : [],
    });
    return { settings: createClient(SettingsService, transport), sessions: createClient(SessionService, transport), schemas: createClient(SchemaService, transport) };
  };
  const rest = (token?: string) => {
    const call = restClient(server.url);
    return (method: string, path: string, body?: unknown) =>
      call(method, path, body, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  };
  const entry = (key: string, value: string) => ({ case: "entry" as const, value: { key, value: { kind: { case: "stringValue" as const, value } } } });

  it("refuses a missing or unknown token with unauthenticated (REST 401)", async () => {
    await expectFailure(clients().sessions.listSessions({}), Code.Unauthenticated, "UNAUTHENTICATED");
    await expectFailure(clients("not-a-token-at-all").sessions.listSessions({}), Code.Unauthenticated, "UNAUTHENTICATED");
    const res = await rest()("GET", "/api/sessions/x/settings");
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ status: "error", code: "unauthenticated" });
    expect((await rest(`${TOKENS.reader}x`)("POST", "/api/sessions", {})).status).toBe(401);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it("lets the read role read but not write (permission_denied, REST 403)", async () => {
    const sessionId = `auth-${randomUUID()}`;
    await clients(TOKENS.writer).sessions.createSession({ sessionId });
    const reader = clients(TOKENS.reader);
    expect((await reader.settings.getSettings({ sessionId })).revision).toBe(0n);
    await expectFailure(reader.settings.setSettings({ sessionId, update: entry("k", "v") }), Code.PermissionDenied, "PERMISSION_DENIED");
    await expectFailure(reader.sessions.createSession({}), Code.PermissionDenied, "PERMISSION_DENIED");
    const res = await rest(TOKENS.reader)("POST", `/api/sessions/${sessionId}/settings`, { key: "k", value: 1 });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ status: "error", code: "forbidden" });
  });

  it("keeps the default scope and system-owned sessions to the admin role", async () => {
    const sessionId = `auth-${randomUUID()}`;
    const writer = clients(TOKENS.writer);
    await writer.sessions.createSession({ sessionId });
    await writer.settings.setSettings({ sessionId, update: entry("k", "v") });
    await expectFailure(writer.settings.setSettings({ sessionId, scope: Scope.DEFAULT, update: entry("k", "v") }), Code.PermissionDenied, "PERMISSION_DENIED");
    await expectFailure(writer.sessions.createSession({ systemOwned: true }), Code.PermissionDenied, "PERMISSION_DENIED");
    expect((await rest(TOKENS.writer)("DELETE", `/api/sessions/${sessionId}/settings/k?scope=default`)).status).toBe(403);
    const admin = clients(TOKENS.admin);
    const key = `d-${randomUUID()}`;
    await admin.settings.setSettings({ sessionId, scope: Scope.DEFAULT, update: entry(key, "v") });
    await admin.settings.unsetSetting({ sessionId, scope: Scope.DEFAULT, key });
    expect((await admin.sessions.createSession({ systemOwned: true })).session?.systemOwned).toBe(true);
  });

  it("keeps changing schemas to the admin role, recording its actor; reading them needs the read role", async () => {
    const key = `typed-${randomUUID().slice(0, 8)}`;
    const schema = { type: "object" } as never;
    for (const token of [TOKENS.reader, TOKENS.writer]) {
      await expectFailure(clients(token).schemas.putSchema({ key, schema }), Code.PermissionDenied, "PERMISSION_DENIED");
      await expectFailure(clients(token).schemas.deleteSchema({ key }), Code.PermissionDenied, "PERMISSION_DENIED");
      expect((await rest(token)("PUT", `/api/schemas/${key}`, { schema: {} })).status).toBe(403);
    }
    await expectFailure(clients().schemas.listSchemas({}), Code.Unauthenticated, "UNAUTHENTICATED");
    const put = await clients(TOKENS.admin).schemas.putSchema({ key, schema, actor: "someone-else" });
    expect(put.changed).toBe(true);
    const got = await clients(TOKENS.reader).schemas.getSchema({ key });
    expect([got.info?.actor, got.history[0]?.actor, got.history[0]?.claimedActor]).toEqual(["harness", "harness", "someone-else"]);
    expect((await rest(TOKENS.reader)("GET", `/api/schemas/${key}/violations`)).status).toBe(200);
    expect((await rest(TOKENS.admin)("DELETE", `/api/schemas/${key}`)).body).toMatchObject({ status: "ok" });
  });

  it("records the token's actor, keeping a self-declared one only as claimedActor", async () => {
    const sessionId = `auth-${randomUUID()}`;
    const writer = clients(TOKENS.writer);
    await writer.sessions.createSession({ sessionId });
    await writer.settings.setSettings({ sessionId, update: entry("a", SECRET_VALUE), actor: "someone-else" });
    await writer.settings.setSettings({ sessionId, update: entry("b", "2") });
    await rest(TOKENS.writer)("POST", `/api/sessions/${sessionId}/settings`, { key: "c", value: 3, actor: "mallory" });
    const { entries } = await writer.settings.listHistory({ sessionId });
    expect(entries.map((e) => [e.actor, e.claimedActor])).toEqual([
      ["automation", "mallory"],
      ["automation", ""],
      ["automation", "someone-else"],
    ]);
    const viaRest = await rest(TOKENS.reader)("GET", `/api/sessions/${sessionId}/settings/history`);
    expect(viaRest.body.entries[0]).toMatchObject({ actor: "automation", claimedActor: "mallory" });
    expect(viaRest.body.entries[1].claimedActor).toBeUndefined();
  });

  it("never logs tokens or setting values", () => {
    const all = logLines.join("\n");
    expect(logLines.length).toBeGreaterThan(10);
    for (const token of Object.values(TOKENS)) expect(all).not.toContain(token);
    expect(all).not.toContain(SECRET_VALUE);
  });
});

describe("the tokens file", () => {
  it("is checked at start-up, naming AUTH_TOKENS_FILE", () => {
    const dir = mkdtempSync(join(tmpdir(), "cm-auth-bad-"));
    const write = (content: string) => {
      const file = join(dir, `${randomUUID()}.json`);
      writeFileSync(file, content);
      return file;
    };
    for (const content of ["not json", "[]", "{}", JSON.stringify({ short: { actor: "a", role: "read" } }), JSON.stringify({ [`t-${randomUUID()}`]: { actor: "a", role: "root" } })]) {
      expect(() => Authenticator.fromFile(write(content))).toThrow(ConfigError);
      expect(() => Authenticator.fromFile(write(content))).toThrow(/AUTH_TOKENS_FILE/);
    }
    expect(() => Authenticator.fromFile(join(dir, "missing.json"))).toThrow(/AUTH_TOKENS_FILE/);
  });
});
