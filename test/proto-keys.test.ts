// A "__proto__" key in a request's settings is a key like any other, on every
// protocol. protobuf-es reads a Struct's entries into a plain object, where
// assigning "__proto__" sets the prototype: without care the key was dropped
// and the write acknowledged. The server reads such requests with shadow
// types (transport/rpc/wire.ts, transport/connect-fallback.ts).
//
// Binary requests are sent as a client that keeps the key would encode them:
// the real wire bytes, written here through the shadow type (maps as lists
// of entries). JSON requests are the text itself.
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { fromJson, toJsonString, type DescMessage } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { ChangesService } from "../gen/codexmanager/settings/v1/changes_pb.js";
import { SchemaService } from "../gen/codexmanager/settings/v1/schemas_pb.js";
import { SetSettingsRequestSchema, SettingsService } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { json } from "../src/client/convert.js";
import { sdkJsonOptions } from "../src/client/json-keys.js";
import { keepingProtoKeys, keepProtoKeys, sdkBinaryOptions } from "../src/client/proto-keys.js";
import { restClient, settingsPath, type Rest } from "./support/rest.js";
import { FALLBACK_TRANSPORTS, makeTransport, startTestServer, TRANSPORTS, type TestServer, type TransportName } from "./support/server.js";

const OBJECT = '{"__proto__":{"x":1},"a":{"__proto__":2,"b":3}}';
const VALUE = '{"__proto__":[{"__proto__":null}],"y":"z"}';

let server: TestServer;
let rest: Rest;
beforeAll(async () => {
  server = await startTestServer({ backend: "memory" });
  rest = restClient(server.url);
});
afterAll(async () => server?.close());

async function newSession(): Promise<string> {
  const sessionId = `keys-${randomUUID()}`;
  expect((await rest("POST", "/api/sessions", { sessionId })).status).toBe(200);
  return sessionId;
}

/** The map as stored, read over REST (JSON.parse keeps "__proto__" as an own key). */
async function stored(sessionId: string): Promise<unknown> {
  const res = await fetch(`${server.url}${settingsPath(sessionId)}`);
  return (JSON.parse(await res.text()) as { settings: unknown }).settings;
}

const expected = () => JSON.parse(`{"__proto__":{"x":1},"a":{"__proto__":2,"b":3},"c":${VALUE}}`) as unknown;

/** A raw Value (the shadow's: a map as a list of entries) for a JSON text's value. */
function rawValue(v: unknown): unknown {
  if (v === null) return { null_value: 0 };
  if (Array.isArray(v)) return { list_value: { values: v.map(rawValue) } };
  if (typeof v === "object") return { struct_value: rawStruct(v as Record<string, unknown>) };
  return typeof v === "number" ? { number_value: v } : typeof v === "string" ? { string_value: v } : { bool_value: v };
}
const rawStruct = (o: Record<string, unknown>) => ({ fields: Object.keys(o).map((key) => ({ key, value: rawValue(o[key]) })) });

describe.each(["grpc", "connect-binary-h2", "grpc-web", "grpc-gzip", "connect-gzip-h2"] as TransportName[])("binary over %s", (name) => {
  it("stores every \"__proto__\" key of an object update and of a value, nested ones too", async () => {
    const sessionId = await newSession();
    const { shadow } = keepingProtoKeys(SetSettingsRequestSchema)!;
    const transport = makeTransport(server.url, name);
    const method = { ...SettingsService.method.setSettings, input: shadow as DescMessage } as typeof SettingsService.method.setSettings;
    const send = (update: unknown) => transport.unary(method, undefined, undefined, undefined, fromJson(shadow, { sessionId, ...(update as object) }) as never);
    await send({ object: { settings__raw: rawStruct(JSON.parse(OBJECT) as Record<string, unknown>) } });
    const answer = await send({ entry: { key: "c", value__raw: rawValue(JSON.parse(VALUE)) } });
    expect(answer.message.changed).toBe(true);
    expect(await stored(sessionId)).toEqual(expected());
  });

  it("reads \"__proto__\" keys as deep as any other: 32 levels, and refuses 33 as invalid", async () => {
    const sessionId = await newSession();
    const { shadow } = keepingProtoKeys(SetSettingsRequestSchema)!;
    const transport = makeTransport(server.url, name);
    const method = { ...SettingsService.method.setSettings, input: shadow as DescMessage } as typeof SettingsService.method.setSettings;
    const nest = (n: number): unknown => (n === 0 ? 1 : JSON.parse(`{"__proto__":${JSON.stringify(nest(n - 1))}}`));
    const send = (depth: number) => transport.unary(method, undefined, undefined, undefined, fromJson(shadow, { sessionId, entry: { key: "deep", value__raw: rawValue(nest(depth)) } } as never, { recursionLimit: 200 }) as never);
    await send(32);
    expect(JSON.stringify(await stored(sessionId))).toBe(JSON.stringify({ deep: nest(32) }));
    const refused = await send(33).catch((e: ConnectError) => e);
    expect((refused as ConnectError).code).toBe(Code.InvalidArgument);
  });
});

describe("JSON over Connect", () => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/${SettingsService.typeName}/SetSettings`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  it("stores every \"__proto__\" key, written plainly or escaped", async () => {
    const sessionId = await newSession();
    expect((await post(`{"sessionId":"${sessionId}","object":{"settings":${OBJECT}}}`)).status).toBe(200);
    const escaped = VALUE.replace('"__proto__":[', '"\\u005f_proto__":[');
    expect((await post(`{"sessionId":"${sessionId}","entry":{"key":"c","value":${escaped}}}`)).status).toBe(200);
    expect(await stored(sessionId)).toEqual(expected());
  });

  it("answers them in JSON too: a write's value, and a one-key read", async () => {
    const sessionId = await newSession();
    const written = await post(`{"sessionId":"${sessionId}","entry":{"key":"c","value":${VALUE}}}`);
    expect(JSON.parse(await written.text())).toEqual(JSON.parse(`{"changed":true,"revision":"1","key":"c","value":${VALUE}}`));
    const read = await fetch(`${server.url}/${SettingsService.typeName}/GetSettings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionId, key: "c" }),
    });
    expect(JSON.parse(await read.text())).toEqual(JSON.parse(`{"revision":"1","found":true,"value":${VALUE}}`));
  });

  it("stores them from a compressed body too (connect-node's path)", async () => {
    const sessionId = await newSession();
    const zipped = async (text: string) => new Uint8Array(await promisify(gzip)(text));
    expect((await post(await zipped(`{"sessionId":"${sessionId}","object":{"settings":${OBJECT}}}`) as never, { "content-encoding": "gzip" })).status).toBe(200);
    expect((await post(await zipped(`{"sessionId":"${sessionId}","entry":{"key":"c","value":${VALUE}}}`) as never, { "content-encoding": "gzip" })).status).toBe(200);
    expect(await stored(sessionId)).toEqual(expected());
  });

  it("names a key that merely looks like a marked one as it was sent", async () => {
    const sessionId = await newSession();
    const text = toJsonString(SetSettingsRequestSchema, fromJson(SetSettingsRequestSchema, { sessionId, object: { settings: { "\u0000__proto__": 1 } } }));
    const res = await post(text);
    // Refused for its control character, as over REST, under its own name.
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe("settings.\u0000__proto__: must not contain control characters");
  });
});

// Every answer that carries settings or a schema gives the key back, read as the SDK reads
// (client/proto-keys.ts): a protobuf-es Struct field is written into a plain object by
// assignment, so binary answers are written with own keys (rpc/struct-answers.ts) and
// connect-node's JSON answers with the key marked (exact-json.ts).
describe.each([...TRANSPORTS, ...FALLBACK_TRANSPORTS])("every answer over %s", (name) => {
  const ownKeys = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? String(x) : x)));
  const holdsKey = (v: unknown) => JSON.stringify(ownKeys(v)).includes('"__proto__"');

  it("keeps \"__proto__\" keys: settings, one key, controls, a write, history, the list, a watch, a schema", async () => {
    const sessionId = await newSession();
    expect((await rest("POST", settingsPath(sessionId), JSON.parse('{"settings":{"__proto__":{"x":1},"k":{"__proto__":2}}}'))).status).toBe(200);
    const schemaKey = `s${randomUUID().slice(0, 8)}`;
    const schema = JSON.parse('{"type":"object","patternProperties":{"^__proto__$":{"type":"number"}},"examples":[{"__proto__":1}]}');
    expect((await rest("PUT", `/api/schemas/${schemaKey}`, { schema })).status).toBe(200);

    const transport = keepProtoKeys(makeTransport(server.url, name, { jsonOptions: sdkJsonOptions, binaryOptions: sdkBinaryOptions }));
    const settings = createClient(SettingsService, transport);
    const all = await settings.getSettings({ sessionId });
    expect(ownKeys(all.settings)).toEqual(JSON.parse('{"__proto__":{"x":1},"k":{"__proto__":2}}'));
    expect(ownKeys(all.settings)).toEqual(ownKeys((await settings.getControls({ sessionId })).session?.controls?.settings));
    expect(holdsKey((await settings.getSettings({ sessionId, key: "k" })).value)).toBe(true);
    const written = await settings.setSettings({ sessionId, update: { case: "path", value: { path: "k.y", value: { kind: { case: "numberValue", value: 1 } } } } });
    expect(ownKeys(json(written.value))).toEqual(JSON.parse('{"__proto__":2,"y":1}'));
    expect(holdsKey((await settings.listHistory({ sessionId })).entries)).toBe(true);

    const scopes = (await createClient(ChangesService, transport).listSettings({ pageSize: 500 })).items;
    expect(ownKeys(scopes.find((s) => s.sessionId === sessionId)?.settings)).toEqual(JSON.parse('{"__proto__":{"x":1},"k":{"__proto__":2,"y":1}}'));

    const watch = new AbortController();
    const stream = settings.watchSettings({ sessionId, fromRevision: 1n, includeSettings: true }, { signal: watch.signal });
    for await (const m of stream) {
      if (!m.entry) continue;
      expect(ownKeys(m.settings)).toEqual(JSON.parse('{"__proto__":{"x":1},"k":{"__proto__":2,"y":1}}'));
      break;
    }
    watch.abort();

    const got = await createClient(SchemaService, transport).getSchema({ key: schemaKey });
    expect(ownKeys(got.schema)).toEqual(schema);
  });
});
