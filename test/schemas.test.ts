// Typed settings (issue 24): the contract (test/support/schema-suite.ts) on
// memory, SQLite and a real redis-server over gRPC, Connect JSON and
// gRPC-Web, and the REST routes of the schema registry with their exact
// shapes, on each store.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "./support/redis.js";
import { enc, restClient, type Rest } from "./support/rest.js";
import { schemaSuite, TEAM_SCHEMA } from "./support/schema-suite.js";
import { startTestServer, type TestServer, type TransportName } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const TRANSPORTS: TransportName[] = ["grpc", "connect-json", "grpc-web"];
schemaSuite("the memory store", (env) => startTestServer({ backend: "memory", env }), TRANSPORTS);
schemaSuite("the SQLite store", (env) => startTestServer({ backend: "sqlite", env }), TRANSPORTS);
schemaSuite("the Redis store", (env) => startTestServer({ backend: "redis", redisUrl: redis.url, env }), TRANSPORTS);

describe.each(["sqlite", "redis"] as const)("the schema registry over REST on %s", (backend) => {
  let server: TestServer;
  let rest: Rest;
  beforeAll(async () => {
    server = await startTestServer({ backend, redisUrl: redis.url });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.close();
  });
  const newKey = () => `team ${randomUUID().slice(0, 8)}/x`;
  const session = async () => (await rest("POST", "/api/sessions", {})).body.session.sessionId as string;

  it("answers each route in the shape the issue gives, with keys URL-encoded", async () => {
    const key = newKey();
    const put = await rest("PUT", `/api/schemas/${enc(key)}`, { schema: TEAM_SCHEMA, actor: "ana", source: "ops" });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ status: "ok", key, revision: expect.any(Number), violations: 0 });
    const got = await rest("GET", `/api/schemas/${enc(key)}`);
    expect(got.body).toMatchObject({ key, schema: TEAM_SCHEMA, revision: put.body.revision, actor: "ana", source: "ops" });
    expect(got.body.history).toEqual([{ revision: put.body.revision, op: "put", actor: "ana", source: "ops", time: expect.any(String), forced: false, violations: 0 }]);
    expect((await rest("GET", "/api/schemas")).body.schemas).toContainEqual({ key, revision: put.body.revision });
    expect((await rest("PUT", `/api/schemas/${enc(key)}`, { schema: TEAM_SCHEMA })).body).toMatchObject({ status: "unchanged", revision: put.body.revision });
    expect((await rest("GET", `/api/schemas/${enc(key)}/violations`)).body).toEqual({ key, revision: put.body.revision, count: 0, violations: [] });
    const removed = await rest("DELETE", `/api/schemas/${enc(key)}?actor=ana&source=ops`);
    expect(removed.body).toEqual({ status: "ok", key, revision: put.body.revision + 1 });
    expect((await rest("DELETE", `/api/schemas/${enc(key)}`)).body).toMatchObject({ status: "unchanged" });
    const missing = await rest("GET", `/api/schemas/${enc(key)}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ status: "error", code: "schema_not_found", key, message: expect.any(String) });
  });

  it("refuses a write that breaks the schema with 400 and issues {path, message, keyword}, keeping other issues as they were", async () => {
    const key = newKey();
    await rest("PUT", `/api/schemas/${enc(key)}`, { schema: TEAM_SCHEMA });
    const id = await session();
    const refused = await rest("POST", `/api/sessions/${id}/settings`, { path: [key, "review", "autoApprove"], op: "merge", value: { enabled: true, threshold: -1, level: "lwo" } });
    expect(refused.status).toBe(400);
    const at = `/${key.replace("/", "~1")}/review/autoApprove`;
    expect(refused.body).toEqual({
      status: "error",
      code: "invalid_request",
      message: `the settings do not satisfy their schema: ${at}/level: must be equal to one of the allowed values: "low", "medium", "high" (enum); ${at}/threshold: must be >= 0 (minimum)`,
      issues: [
        { path: `${at}/level`, message: 'must be equal to one of the allowed values: "low", "medium", "high"', keyword: "enum" },
        { path: `${at}/threshold`, message: "must be >= 0", keyword: "minimum" },
      ],
    });
    expect((await rest("GET", `/api/sessions/${id}/settings?key=${enc(key)}`)).body).toMatchObject({ found: false, revision: 0 });
    // A request that is malformed keeps zod's issue shape.
    const malformed = await rest("POST", `/api/sessions/${id}/settings`, { key: "", value: 1 });
    expect(malformed.body.issues).toEqual([{ code: "too_small", path: ["key"], message: "must not be blank" }]);
    const badSchema = await rest("PUT", `/api/schemas/${enc(key)}`, { schema: { type: "object", properties: { a: { minimum: "x" } } } });
    expect(badSchema.status).toBe(400);
    expect(badSchema.body.issues).toEqual([{ code: "invalid_value", path: ["schema", "properties", "a", "minimum"], message: "must be number" }]);
  });

  it("answers 409 schema_violated with the count and the first 20 offenders, unless forced", async () => {
    const key = newKey();
    const ids = await Promise.all(Array.from({ length: 22 }, () => session()));
    for (const id of ids) await rest("POST", `/api/sessions/${id}/settings`, { key, value: { lead: 1 } });
    const refused = await rest("PUT", `/api/schemas/${enc(key)}`, { schema: TEAM_SCHEMA });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ status: "error", code: "schema_violated", key, count: 22 });
    expect(refused.body.violations).toHaveLength(20);
    expect(refused.body.violations[0]).toEqual({ sessionId: [...ids].sort()[0], scope: "session", issues: [{ path: `/${key.replace("/", "~1")}/lead`, message: "must be string", keyword: "type" }] });
    const forced = await rest("PUT", `/api/schemas/${enc(key)}`, { schema: TEAM_SCHEMA, force: true });
    expect(forced.body).toMatchObject({ status: "ok", violations: 22 });
    const listed = await rest("GET", `/api/schemas/${enc(key)}/violations?limit=3`);
    expect(listed.body).toMatchObject({ count: 22, revision: forced.body.revision });
    expect(listed.body.violations.map((v: { sessionId: string }) => v.sessionId)).toEqual([...ids].sort().slice(0, 3));
  });

  it("keeps a \"__proto__\" key as data, in values and in schemas", async () => {
    const key = newKey();
    // Ajv would skip it under "properties": refused, saying what to write instead.
    const skipped = await rest("PUT", `/api/schemas/${enc(key)}`, undefined, { raw: '{"schema":{"properties":{"__proto__":{"type":"string"}}}}' });
    expect(skipped.status).toBe(400);
    expect(skipped.body.issues).toEqual([{ code: "invalid_value", path: ["schema", "properties", "__proto__"], message: expect.stringContaining("patternProperties") }]);
    const schema = JSON.parse('{"type":"object","required":["__proto__"],"patternProperties":{"^__proto__$":{"type":"string"}}}');
    expect((await rest("PUT", `/api/schemas/${enc(key)}`, { schema })).status).toBe(200);
    expect((await rest("GET", `/api/schemas/${enc(key)}`)).body.schema).toEqual(schema);
    const id = await session();
    const missing = await rest("POST", `/api/sessions/${id}/settings`, { key, value: {} });
    expect(missing.body.issues).toEqual([{ path: `/${key.replace("/", "~1")}/__proto__`, message: "must have required property '__proto__'", keyword: "required" }]);
    const wrong = await rest("POST", `/api/sessions/${id}/settings`, undefined, { raw: `{"key":${JSON.stringify(key)},"value":{"__proto__":1}}` });
    expect(wrong.body.issues).toEqual([{ path: `/${key.replace("/", "~1")}/__proto__`, message: "must be string", keyword: "type" }]);
    const ok = await rest("POST", `/api/sessions/${id}/settings`, undefined, { raw: `{"key":${JSON.stringify(key)},"value":{"__proto__":"x"}}` });
    expect(ok.status).toBe(200);
    expect(JSON.stringify(ok.body.settings[key])).toBe('{"__proto__":"x"}');
  });
});
