// The TypeScript SDK's reading and its Node transports: "__proto__" keys
// show as over REST, on every protocol and codec (protobuf-es alone drops
// them), and HTTP/2 sessions get a window that takes a 4 MiB map at once.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { create, fromBinary, fromJsonString, toBinary, type DescMessage } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { GetSettingsResponseSchema, ListHistoryResponseSchema, WatchSettingsResponseSchema } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { valueOf } from "../src/client/convert.js";
import { createSettingsSdk, sdkJsonOptions } from "../src/client/index.js";
import { originalKeys } from "../src/client/json-keys.js";
import { createSettingsTransport, HTTP2_WINDOW_BYTES, type SettingsTransportOptions } from "../src/client/node.js";
import type { JsonObject } from "../src/domain/types.js";
import { restClient, type Rest } from "./support/rest.js";
import { makeTransport, startTestServer, type TestServer } from "./support/server.js";

// Top level, nested, inside arrays, and beside a key that only looks like it.
const TRICKY = '{"__proto__":{"a":1,"__proto__":2},"n":{"__proto__":[{"__proto__":3},"x"]},"constructor":{"prototype":{"__proto__":null}},"plain":true}';
const SDK_TRANSPORTS: [string, SettingsTransportOptions["protocol"], SettingsTransportOptions["httpVersion"], boolean][] = [
  ["gRPC", "grpc", "2", true],
  ["Connect binary, HTTP/1.1 (as cm)", "connect", "1.1", true],
  ["Connect JSON, HTTP/1.1", "connect", "1.1", false],
  ["Connect JSON, HTTP/2", "connect", "2", false],
  ["Connect binary, HTTP/2", "connect", "2", true],
  ["gRPC-Web binary", "grpc-web", "1.1", true],
  ["gRPC-Web JSON", "grpc-web", "2", false],
];

let server: TestServer;
let rest: Rest;
beforeAll(async () => {
  server = await startTestServer({ backend: "sqlite" });
  rest = restClient(server.url);
});
afterAll(async () => {
  await server?.close();
});

async function sessionWith(settingsJson: string): Promise<string> {
  const sessionId = `p-${randomUUID()}`;
  await rest("POST", "/api/sessions", { sessionId });
  expect((await rest("POST", `/api/sessions/${sessionId}/settings`, undefined, { raw: `{"settings":${settingsJson}}` })).status).toBe(200);
  return sessionId;
}

/** Every object in `v` has the plain prototype and the keys JSON.parse gives it. */
function expectPlain(v: unknown): void {
  if (v === null || typeof v !== "object") return;
  if (!Array.isArray(v)) expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  for (const k of Object.keys(v)) expectPlain((v as Record<string, unknown>)[k]);
}

describe('"__proto__" keys through the SDK', () => {
  it.each(SDK_TRANSPORTS)("shows them like REST over %s", async (_name, protocol, httpVersion, useBinaryFormat) => {
    const sessionId = await sessionWith(TRICKY);
    const sdk = createSettingsSdk(createSettingsTransport({ baseUrl: server.url, protocol, httpVersion, useBinaryFormat }));
    const { settings } = await sdk.session(sessionId).settings.get();
    expect(settings).toEqual(JSON.parse(TRICKY));
    expect(Object.keys(settings)).toEqual(Object.keys((await rest("GET", `/api/sessions/${sessionId}/settings`)).body.settings));
    expect(Object.keys(settings.__proto__ as JsonObject).sort()).toEqual(["__proto__", "a"]);
    expectPlain(settings);
    expect(({} as { a?: unknown }).a).toBeUndefined();
  });

  // A shadow type reads three messages per JSON object where protobuf-es's own types read two,
  // so the SDK's transports read binary answers a level deeper (sdkBinaryOptions).
  it.each(SDK_TRANSPORTS)("reads a map as deep as the service stores (32 levels) over %s", async (_name, protocol, httpVersion, useBinaryFormat) => {
    const deep = `${'{"__proto__":'.repeat(31)}{"a":1}${"}".repeat(31)}`;
    const sessionId = await sessionWith(`{"deep":${deep}}`);
    const sdk = createSettingsSdk(createSettingsTransport({ baseUrl: server.url, protocol, httpVersion, useBinaryFormat }));
    expect((await sdk.session(sessionId).settings.get()).settings).toEqual(JSON.parse(`{"deep":${deep}}`));
    const listed = (await sdk.changes.list("", 500)).items.filter((item) => item.sessionId === sessionId);
    expect(listed.map((item) => item.settings)).toEqual([JSON.parse(`{"deep":${deep}}`)]);
  });

  it("shows them with any binary transport given to the SDK, not only its own", async () => {
    const sessionId = await sessionWith(TRICKY);
    for (const name of ["grpc", "connect-binary-h2", "grpc-web"] as const) {
      const { settings } = await createSettingsSdk(makeTransport(server.url, name)).session(sessionId).settings.get();
      expect(settings, name).toEqual(JSON.parse(TRICKY));
    }
  });

  it("shows them through cm", async () => {
    const sessionId = await sessionWith(TRICKY);
    const home = mkdtempSync(join(tmpdir(), "cm-keys-"));
    mkdirSync(join(home, "codex-manager", "cli"), { recursive: true });
    writeFileSync(join(home, "codex-manager", "cli", "config.json"), JSON.stringify({ currentProfile: "t", profiles: { t: { baseUrl: server.url } } }));
    const { CODEX_MANAGER_API_BASE: _, ...env } = process.env;
    const out = await new Promise<string>((done, fail) =>
      execFile(process.execPath, [resolve(import.meta.dirname, "..", "bin", "cm.mjs"), "--json", "sessions", "settings", "get", "--session-id", sessionId], { env: { ...env, XDG_CONFIG_HOME: home } }, (err, stdout, stderr) =>
        err ? fail(new Error(stderr)) : done(stdout)),
    );
    expect(JSON.parse(out).settings).toEqual(JSON.parse(TRICKY));
  });

  // The SDK's reading of every Struct and Value field, held against answers encoded here
  // (the service's own answers are read on every transport in proto-keys.test.ts).
  it("keeps them in every Struct and Value of an answer, binary and JSON", async () => {
    const tricky = JSON.parse(TRICKY) as JsonObject;
    // protobuf-es would drop the keys while building these, so the values are put in as made.
    const history = create(ListHistoryResponseSchema, { entries: [{ revision: 1n, changes: [{ key: "__proto__" }] }] });
    Object.assign(history.entries[0]!.changes[0]!, { before: valueOf(tricky.__proto__!), after: valueOf(tricky) });
    const watch = create(WatchSettingsResponseSchema, { entry: { revision: 2n, changes: [{ key: "n" }] } });
    Object.assign(watch.entry!.changes[0]!, { after: valueOf(tricky.n!) });
    const binary = {
      ListHistory: toBinary(ListHistoryResponseSchema, history),
      // settings (field 2) is a Struct: its bytes are those of a Value's struct_value.
      WatchSettings: Buffer.concat([toBinary(WatchSettingsResponseSchema, watch), lengthDelimited(2, structBytes(tricky))]),
    };
    const json = {
      ListHistory: Buffer.from(`{"entries":[{"revision":"1","changes":[{"key":"__proto__","before":${JSON.stringify(tricky.__proto__)},"after":${TRICKY}}]}]}`),
      WatchSettings: Buffer.from(`{"entry":{"revision":"2","changes":[{"key":"n","after":${JSON.stringify(tricky.n)}}]},"settings":${TRICKY}}`),
    };
    for (const [codec, answers] of [["binary", binary], ["json", json]] as const) {
      const sdk = createSettingsSdk(answering(codec === "binary", answers));
      const [entry] = (await sdk.session("s").settings.history()).entries;
      expect(entry!.changes[0], codec).toEqual({ kind: "setting", key: "__proto__", before: tricky.__proto__, after: tricky });
      expectPlain(entry!.changes[0]!.after);
      for await (const change of sdk.session("s").settings.watch({ includeSettings: true })) {
        expect(change.changes[0]!.after, codec).toEqual(tricky.n);
        expect(change.settings, codec).toEqual(tricky);
        expectPlain(change.settings);
        break;
      }
    }
  });

  it("reads JSON text with any key back exactly (sdkJsonOptions, then the SDK)", () => {
    const key = fc.constantFrom("__proto__", "\u0000__proto__", "\u0000\u0000__proto__", "_proto_", "__proto__ ", "a", "constructor", "é");
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: "small" }, fc.integer(), fc.string(), fc.constant(null), fc.array(tie("value")), tie("object")),
      object: fc.dictionary(key, tie("value"), { maxKeys: 4 }),
    }));
    fc.assert(
      fc.property(json.object, fc.boolean(), (settings, escaped) => {
        let text = JSON.stringify({ settings });
        // The same keys written with escapes, as a JSON encoder may.
        if (escaped) text = text.replaceAll('"__proto__"', '"\\u005f_proto__"').replaceAll('"\\u0000', '"\\u0000');
        const read = fromJsonString(GetSettingsResponseSchema, sdkJsonOptions.textDecoder.decode(Buffer.from(text)), sdkJsonOptions);
        expect(originalKeys(read.settings ?? {})).toEqual(JSON.parse(text).settings);
      }),
      { numRuns: 300 },
    );
  });
});

describe("the SDK's HTTP/2 sessions", () => {
  it("offer a 16 MiB window per stream and per connection, on every HTTP/2 protocol", async () => {
    const seen: { stream: number; connection: number }[] = [];
    const bare = http2.createServer();
    bare.on("stream", (stream) => {
      const session = stream.session!;
      // The connection's WINDOW_UPDATE follows the request's HEADERS: wait for it, a while.
      const deadline = Date.now() + 2000;
      const look = () => {
        if (session.state.remoteWindowSize! < HTTP2_WINDOW_BYTES && Date.now() < deadline) return void setTimeout(look, 5);
        seen.push({ stream: session.remoteSettings.initialWindowSize!, connection: session.state.remoteWindowSize! });
        stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12" }, { endStream: true });
      };
      look();
    });
    await new Promise<void>((r) => bare.listen(0, "127.0.0.1", r));
    const baseUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
    try {
      for (const protocol of ["grpc", "connect", "grpc-web"] as const) {
        const call = createSettingsSdk(createSettingsTransport({ baseUrl, protocol })).session("s").settings.get();
        await expect(call).rejects.toThrow();
      }
    } finally {
      bare.close();
    }
    expect(seen).toEqual(Array(3).fill({ stream: HTTP2_WINDOW_BYTES, connection: HTTP2_WINDOW_BYTES }));
  });

  it("read a 4 MiB map through the SDK well within a second or two", async () => {
    const sessionId = `big-${randomUUID()}`;
    await rest("POST", "/api/sessions", { sessionId });
    for (let batch = 0; batch < 10; batch++) {
      const part: JsonObject = {};
      for (let i = 0; i < 1000; i++) part[`k${batch * 1000 + i}`] = { n: i, text: "x".repeat(380) };
      expect((await rest("POST", `/api/sessions/${sessionId}/settings`, { settings: part })).status).toBe(200);
    }
    const bytes = (await (await fetch(`${server.url}/api/sessions/${sessionId}/settings`)).arrayBuffer()).byteLength;
    expect(bytes).toBeGreaterThan(4_000_000);
    const sdk = createSettingsSdk(createSettingsTransport({ baseUrl: server.url }));
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const { settings } = await sdk.session(sessionId).settings.get();
      times.push(performance.now() - started);
      expect(Object.keys(settings)).toHaveLength(10_000);
    }
    times.sort((a, b) => a - b);
    console.log(`4 MiB read through the SDK (gRPC, server in this process): ${times.map((t) => t.toFixed(0)).join(", ")} ms`);
    // About 0.15 s on a quiet machine, the decoding most of it, and up to about 1.2 s under the
    // whole suite's load; issue 20 saw 0.8-7.9 s with Node's default window.
    expect(times[2]).toBeLessThan(10_000);
  }, 120_000);
});

/** A transport answering each method with fixed bytes, decoded with the method's output as connect's own transports do. */
function answering(binary: boolean, answers: Record<string, Uint8Array>): Transport {
  const decode = (output: DescMessage, bytes: Uint8Array) =>
    binary ? fromBinary(output, bytes) : fromJsonString(output, sdkJsonOptions.textDecoder.decode(bytes), sdkJsonOptions);
  const common = (method: { parent: unknown }) => ({ header: new Headers(), trailer: new Headers(), service: method.parent });
  return {
    async unary(method) {
      return { ...common(method), stream: false, method, message: decode(method.output, answers[method.name]!) } as never;
    },
    async stream(method) {
      const message = decode(method.output, answers[method.name]!);
      return { ...common(method), stream: true, method, message: (async function* () { yield message; })() } as never;
    },
  };
}

/** The protobuf bytes of a Struct holding `o`, every key included. */
function structBytes(o: JsonObject): Uint8Array {
  const value = toBinary(ValueSchema, valueOf(o)); // struct_value: tag, length, then the Struct
  let i = 1;
  while (value[i]! & 0x80) i++;
  return value.subarray(i + 1);
}

/** One length-delimited protobuf field. */
function lengthDelimited(field: number, bytes: Uint8Array): Buffer {
  return Buffer.from(new BinaryWriter().tag(field, WireType.LengthDelimited).bytes(bytes).finish());
}
