// JSON integers past 2^53 - 1 would be stored rounded (Value holds a
// double): such a literal is refused with INVALID_REQUEST naming its path,
// on REST and on Connect JSON (the fast path and connect-node's fallback),
// before anything is applied. gRPC and Connect binary carry doubles already.
import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SettingsService } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { inexactIntegers } from "../src/domain/exact-integers.js";
import { expectFailure } from "./support/errors.js";
import { restClient, type Rest } from "./support/rest.js";
import { startTestServer, type TestServer } from "./support/server.js";

const SETTINGS = "codexmanager.settings.v1.SettingsService";
const paths = (text: string) => inexactIntegers(Buffer.from(text)).map((i) => i.path);

describe("the integer rule", () => {
  it("refuses integer literals past ±(2^53 - 1), and only those", () => {
    expect(paths("9007199254740991")).toEqual([]);
    expect(paths("-9007199254740991")).toEqual([]);
    expect(paths("9007199254740992")).toEqual([[]]);
    expect(paths("-9007199254740992")).toEqual([[]]);
    expect(paths("[18446744073709551615, 10000000000000000, 99999999999999999999999]")).toEqual([[0], [1], [2]]);
    // Written as doubles on purpose (a fraction or an exponent): the nearest double, as JSON allows.
    expect(paths("[9007199254740993.0, 1e400, 6.02e23, 12345678901234567890e-5, 0.12345678901234567890]")).toEqual([]);
    // Digits inside strings are text.
    expect(paths('{"id":"123456789012345678901234","k12345678901234567890":1}')).toEqual([]);
  });

  it("names the path of each: keys (escapes decoded) and array indexes", () => {
    const text = '{"a":[1,{"b\\u00e9":9007199254740993}],"c":{"d":[[0,-12345678901234567890]]},"e":"9007199254740993","f":2}';
    expect(paths(text)).toEqual([["a", 1, "bé"], ["c", "d", 0, 1]]);
    expect(inexactIntegers(Buffer.from('{"v":9007199254740993}'))[0]).toMatchObject({
      code: "too_big",
      message: expect.stringMatching(/9007199254740993 is outside ±9007199254740991 .* send it as a string/),
    });
  });

  it("never throws on text that is not JSON, and lists at most ten", () => {
    for (const bad of ['{"a":12345678901234567890', '{"a\\x":99999999999999999', "]]]]}}}12345678901234567", '"unterminated 12345678901234567', "{,,:99999999999999999}"]) {
      expect(() => inexactIntegers(Buffer.from(bad)), bad).not.toThrow();
    }
    expect(paths(`[${Array(50).fill("99999999999999999").join(",")}]`)).toHaveLength(10);
  });
});

let server: TestServer;
let rest: Rest;
beforeAll(async () => {
  server = await startTestServer({ backend: "sqlite" });
  rest = restClient(server.url);
});
afterAll(async () => {
  await server?.close();
});

async function session(): Promise<string> {
  const sessionId = `n-${randomUUID()}`;
  await rest("POST", "/api/sessions", { sessionId });
  return sessionId;
}
const stored = async (sessionId: string) => (await rest("GET", `/api/sessions/${sessionId}/settings`)).body;

describe("over the network, nothing is applied", () => {
  it("REST answers 400 invalid_request with the path, for settings, a value, a path write and ifRevision", async () => {
    const sessionId = await session();
    const route = `/api/sessions/${sessionId}/settings`;
    const cases: [string, (string | number)[]][] = [
      ['{"key":"n","value":9007199254740993}', ["value"]],
      ['{"settings":{"ids":[1,18446744073709551615]}}', ["settings", "ids", 1]],
      ['{"path":"a.b","value":{"big":-9007199254740993},"op":"merge"}', ["value", "big"]],
      ['{"key":"n","value":1,"ifRevision":9007199254740993}', ["ifRevision"]],
    ];
    for (const [raw, path] of cases) {
      const res = await rest("POST", route, undefined, { raw });
      expect(res.status, raw).toBe(400);
      expect(res.body).toMatchObject({ status: "error", code: "invalid_request", issues: [{ path, code: "too_big" }] });
    }
    const controls = await rest("POST", `/api/sessions/${sessionId}/session-controls`, undefined, {
      raw: '{"controls":{"model":null,"approvalPolicy":"never","networkAccess":"enabled","filesystemSandbox":"read-only","settings":{"n":12345678901234567890}}}',
    });
    expect(controls.status).toBe(400);
    expect(controls.body.issues[0].path).toEqual(["controls", "settings", "n"]);
    expect(await stored(sessionId)).toMatchObject({ settings: {}, revision: 0 });
    // The largest exact integer, and a double written as one, are stored as sent.
    await rest("POST", route, undefined, { raw: '{"settings":{"max":9007199254740991,"min":-9007199254740991,"big":1e300}}' });
    expect((await stored(sessionId)).settings).toEqual({ max: 9007199254740991, min: -9007199254740991, big: 1e300 });
  });

  it("Connect JSON answers invalid_argument with reason INVALID_REQUEST and the path, on the fast path and through connect-node", async () => {
    const sessionId = await session();
    const body = `{"sessionId":"${sessionId}","entry":{"key":"n","value":{"id":9007199254740993}}}`;
    const fast = await fetch(`${server.url}/${SETTINGS}/SetSettings`, { method: "POST", headers: { "content-type": "application/json" }, body });
    // Compressed: left to connect-node.
    const fallback = await fetch(`${server.url}/${SETTINGS}/SetSettings`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(body),
    });
    for (const res of [fast, fallback]) {
      expect(res.status).toBe(400);
      const err = (await res.json()) as { code: string; details: { debug: unknown }[] };
      expect(err).toMatchObject({ code: "invalid_argument", message: expect.stringContaining("entry.value.id: the integer 9007199254740993") });
      expect(err.details[0]!.debug).toMatchObject({ reason: "INVALID_REQUEST", issues: [{ path: "entry.value.id", pathSegments: ["entry", "value", "id"] }] });
    }
    expect(await stored(sessionId)).toMatchObject({ settings: {}, revision: 0 });
  });

  it("gRPC with JSON messages (connect-node) refuses 2^53 sent as a number; gRPC binary carries the double", async () => {
    const sessionId = await session();
    const update = { case: "entry" as const, value: { key: "n", value: { kind: { case: "numberValue" as const, value: 2 ** 53 } } } };
    const json = createClient(SettingsService, createGrpcTransport({ baseUrl: server.url, useBinaryFormat: false }));
    const detail = await expectFailure(json.setSettings({ sessionId, update }), Code.InvalidArgument, "INVALID_REQUEST");
    expect(detail?.issues[0]?.pathSegments).toEqual(["entry", "value"]);
    expect(await stored(sessionId)).toMatchObject({ revision: 0 });
    // Binary protobuf has no integer literal to lose: the double arrives as sent.
    await server.clients("grpc").settings.setSettings({ sessionId, update });
    expect((await stored(sessionId)).settings).toEqual({ n: 2 ** 53 });
  });

  it("reports a malformed body as malformed, not as a number", async () => {
    const sessionId = await session();
    const res = await rest("POST", `/api/sessions/${sessionId}/settings`, undefined, { raw: '{"key":"n","value":99999999999999999999' });
    expect(res.status).toBe(400);
    expect(res.body.issues[0].message).toMatch(/malformed JSON/);
  });
});

