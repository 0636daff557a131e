// 10,000+ malformed or hostile requests over REST and Connect: random JSON,
// wrong types, huge strings, deep nesting, invalid UTF-8, prototype keys,
// over-long keys and truncated bodies. None may answer 5xx, crash the server
// or pollute a prototype.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.js";

let server: TestServer;
let sessionId: string;
beforeAll(async () => {
  server = await startTestServer({ backend: "sqlite" });
  sessionId = `fuzz-${randomUUID()}`;
  await server.clients().sessions.createSession({ sessionId });
});
afterAll(async () => {
  await server?.close();
});

const S = "codexmanager.settings.v1.SettingsService";
const targets = () => [
  `POST /api/sessions/${sessionId}/settings`,
  `POST /api/sessions/${sessionId}/session-controls`,
  "POST /api/sessions",
  `POST /${S}/SetSettings`,
  `POST /${S}/ApplyControls`,
  `POST /${S}/GetSettings`,
  `POST /${S}/WatchSettings`,
  "POST /codexmanager.settings.v1.SessionService/CreateSession",
  `DELETE /api/sessions/${sessionId}/settings/%ZZ`,
  `GET /api/sessions/${sessionId}/settings?scope=%00&key=${"k".repeat(300)}`,
  `GET /api/sessions/${sessionId}/settings/history?limit=-1&before=abc`,
];

const FIELDS = ["sessionId", "scope", "settings", "mode", "key", "value", "path", "op", "ifRevision", "actor", "source",
  "controls", "entry", "object", "model", "approvalPolicy", "__proto__", "constructor", "prototype", "update"];

const hostile = (sessionId: string) => fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.dictionary(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 33, max: 200_000 }).map((n) => `{"key":"k","value":${"[".repeat(n)}${"]".repeat(n)}}`),
  fc.integer({ min: 33, max: 5_000 }).map((n) => `{"sessionId":"${sessionId}","entry":{"key":"k","value":${'{"a":'.repeat(n)}1${"}".repeat(n)}}}`),
  fc.constantFrom(
    `{"__proto__":{"polluted":"yes"},"key":"k","value":1}`,
    `{"settings":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}}`,
    `{"path":"__proto__.polluted","value":"yes"}`,
    `{"path":"constructor.prototype.polluted","value":"yes"}`,
    `{"controls":{"__proto__":{"model":"x","approvalPolicy":"never","networkAccess":"enabled","filesystemSandbox":"read-only"}}}`,
    `{"sessionId":"${sessionId}","object":{"settings":{"__proto__":{"polluted":"yes"}}}}`,
    `{"sessionId":"${sessionId}","path":{"path":"__proto__.polluted","value":"yes"}}`,
  ),
  fc.integer({ min: 241, max: 5000 }).map((n) => JSON.stringify({ key: "k".repeat(n), value: 1, sessionId, entry: { key: "k".repeat(n), value: 1 } })),
  fc.integer({ min: 100_000, max: 1_200_000 }).map((n) => JSON.stringify({ key: "big", value: "x".repeat(n) })),
  fc.jsonValue({ maxDepth: 3 }).chain((v) => {
    const text = JSON.stringify({ sessionId, entry: { key: "k", value: v }, key: "k", value: v });
    return fc.integer({ min: 0, max: Math.max(0, text.length - 1) }).map((cut) => text.slice(0, cut));
  }),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify({ sessionId, settings: v, scope: v, mode: v, ifRevision: v, actor: v, controls: v })),
);

const invalidUtf8 = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) =>
  Buffer.concat([Buffer.from('{"key":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(bytes), Buffer.from('","value":1}')]),
);

it("answers 10,000 hostile requests without a 5xx, a crash or prototype pollution", async () => {
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
  const bodies = fc.sample(fc.oneof(hostile(sessionId).map((t) => Buffer.from(t)), invalidUtf8), { numRuns: 10_200, seed: 20261125 });
  const all = targets();
  const statuses = new Map<number, number>();
  const fivexx: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const i = next++;
      const [method, path] = all[i % all.length]!.split(" ") as [string, string];
      const contentType = i % 7 === 0 ? "application/x-garbage" : "application/json";
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: { "content-type": contentType, "connect-protocol-version": "1" },
        body: method === "GET" || method === "DELETE" ? undefined : bodies[i],
      });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) fivexx.push(`${method} ${path} -> ${res.status} ${text.slice(0, 200)} for ${bodies[i]!.subarray(0, 120).toString()}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  expect(total).toBeGreaterThanOrEqual(10_000);
  expect(fivexx.slice(0, 5)).toEqual([]);
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
  // The session still works, and no setting slipped in through a prototype key path.
  const settings = (await server.clients().settings.getSettings({ sessionId })).settings!;
  expect(Object.getPrototypeOf(settings)).toBe(Object.prototype);
  console.log(`fuzz: ${total} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
}, 180_000);
