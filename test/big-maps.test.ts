// Whole-map reads: the snapshot's own encodings are exactly protobuf-es's,
// a 10,000-key map reads back whole over gRPC, Connect JSON and REST, and a
// second read at the same revision is answered from the cache, on each store.
import { randomUUID } from "node:crypto";
import { create, fromBinary, fromJsonString, toJson } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetSettingsResponseSchema } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { canonicalJson } from "../src/domain/json.js";
import type { JsonObject } from "../src/domain/types.js";
import { SettingsSnapshot } from "../src/service/settings-snapshot.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { restClient } from "./support/rest.js";
import { BACKENDS, startTestServer, type Backend, type TestServer } from "./support/server.js";

it("encodes a snapshot exactly as protobuf-es encodes the same answer, in binary and JSON", async () => {
  // protobuf-es itself drops "__proto__" Struct keys (in toBinary and
  // fromBinary); our encoder keeps them, so they cannot be compared here.
  const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => JSON.stringify(v).isWellFormed() && !JSON.stringify(v).includes('"__proto__"'));
  await fc.assert(
    fc.asyncProperty(fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 300 }), fc.bigInt({ min: 0n, max: 2n ** 40n }), async (map, revision) => {
      const settings = JSON.parse(JSON.stringify(map)) as JsonObject;
      const snapshot = new SettingsSnapshot(revision, Object.keys(settings).map((k) => [k, canonicalJson(settings[k]!)]));
      const expected = create(GetSettingsResponseSchema, { settings, revision });
      expect(fromBinary(GetSettingsResponseSchema, await snapshot.responseProto())).toEqual(expected);
      const fromText = fromJsonString(GetSettingsResponseSchema, Buffer.from(await snapshot.responseJson()).toString());
      expect(toJson(GetSettingsResponseSchema, fromText)).toEqual(toJson(GetSettingsResponseSchema, expected));
    }),
    { numRuns: 60 },
  );
});

it("after a change, copies unchanged entries from the previous answer and still encodes exactly as protobuf-es", async () => {
  const json = fc.jsonValue({ maxDepth: 2 }).filter((v) => JSON.stringify(v).isWellFormed() && !JSON.stringify(v).includes('"__proto__"'));
  const key = fc.constantFrom("a", "b", "c", "d", "e", "a.b", "é", "");
  const edit = fc.oneof(
    fc.record({ set: key, value: json }),
    fc.record({ unset: key }),
    fc.record({ reverse: fc.constant(true) }), // the store answers in another order
  );
  await fc.assert(
    fc.asyncProperty(fc.dictionary(key, json), fc.array(fc.array(edit, { maxLength: 4 }), { minLength: 1, maxLength: 6 }), async (start, steps) => {
      let entries: [string, string][] = Object.keys(start).map((k) => [k, canonicalJson(JSON.parse(JSON.stringify(start[k])))]);
      let previous = new SettingsSnapshot(1n, entries);
      await previous.responseProto();
      for (const [n, step] of steps.entries()) {
        entries = [...entries]; // the previous snapshot keeps its own
        for (const e of step) {
          if ("set" in e) {
            const text = canonicalJson(JSON.parse(JSON.stringify(e.value ?? null)));
            const at = entries.findIndex(([k]) => k === e.set);
            if (at >= 0) entries[at] = [e.set, text];
            else entries.push([e.set, text]);
          } else if ("unset" in e) entries = entries.filter(([k]) => k !== e.unset);
          else entries = [...entries].reverse();
        }
        // Fresh strings, as a store's answer is.
        const answer = entries.map(([k, t]): [string, string] => [k, (" " + t).slice(1)]);
        const snapshot = new SettingsSnapshot(BigInt(n + 2), answer, previous);
        const settings = Object.fromEntries(answer.map(([k, t]) => [k, JSON.parse(t)])) as JsonObject;
        expect(fromBinary(GetSettingsResponseSchema, await snapshot.responseProto())).toEqual(create(GetSettingsResponseSchema, { settings, revision: BigInt(n + 2) }));
        expect(Buffer.from(await snapshot.responseProto())).toEqual(Buffer.from(await new SettingsSnapshot(BigInt(n + 2), answer).responseProto()));
        previous = snapshot;
      }
    }),
    { numRuns: 200 },
  );
});

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe.each(BACKENDS)("a 10,000-key map on the %s store", (backend: Backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ backend, redisUrl: redis.url });
  });
  afterAll(async () => {
    await server?.close();
  });

  const mapReads = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const count = (cached: string) => Number(new RegExp(`settings_map_reads_total\\{cached="${cached}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    return { cached: count("true"), full: count("false") };
  };

  it("reads back whole over every transport, and the second read at one revision comes from the cache", async () => {
    const rest = restClient(server.url);
    const sessionId = `big-${randomUUID()}`;
    await rest("POST", "/api/sessions", { sessionId });
    const map: JsonObject = {};
    for (let batch = 0; batch < 10; batch++) {
      const part: JsonObject = {};
      for (let i = 0; i < 1000; i++) part[`k${batch * 1000 + i}`] = { n: batch * 1000 + i, text: "x".repeat(300) };
      Object.assign(map, part);
      expect((await rest("POST", `/api/sessions/${sessionId}/settings`, { settings: part })).status).toBe(200);
    }
    const before = await mapReads();
    const grpc = await server.clients("grpc").settings.getSettings({ sessionId });
    expect(grpc.settings).toEqual(map);
    expect(grpc.revision).toBe(10n);
    const json = await server.clients("connect-json").settings.getSettings({ sessionId });
    expect(json.settings).toEqual(map);
    const viaRest = await rest("GET", `/api/sessions/${sessionId}/settings`);
    expect(viaRest.body).toEqual({ status: "ok", sessionId, scope: "session", settings: map, revision: 10 });
    const after = await mapReads();
    expect(after.full - before.full).toBe(1);
    expect(after.cached - before.cached).toBe(2);
    // A change means a new read.
    await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "k0", value: 0 });
    expect((await server.clients("grpc").settings.getSettings({ sessionId })).settings!.k0).toBe(0);
    expect((await mapReads()).full - after.full).toBe(1);
    // 16 readers at once after a change: one full read, the rest share one revision check after it.
    await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "k0", value: 1 });
    const beforeHerd = await mapReads();
    const herd = await Promise.all(Array.from({ length: 16 }, () => server.clients("grpc").settings.getSettings({ sessionId })));
    expect(herd.every((r) => r.revision === 12n && r.settings!.k0 === 1)).toBe(true);
    const afterHerd = await mapReads();
    expect(afterHerd.full - beforeHerd.full).toBe(1);
    expect(afterHerd.cached - beforeHerd.cached).toBeLessThanOrEqual(15);
  }, 60_000);
});
