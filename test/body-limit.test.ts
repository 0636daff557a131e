// One body limit with one meaning on every path (transport/request-body.ts):
// a request's message of exactly MAX_BODY_BYTES is taken, one byte more is
// refused with the same PAYLOAD_TOO_LARGE naming the limit, whether the fast
// path, connect-node (gRPC with JSON, compressed bodies, where the message
// counts once decompressed) or REST reads it.
import { randomUUID } from "node:crypto";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SetSettingsRequestSchema } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { expectFailure } from "./support/errors.js";
import { FALLBACK_TRANSPORTS, startTestServer, TRANSPORTS, type TestServer, type TransportName } from "./support/server.js";

const LIMIT = 64 * 1024;

/** How each transport encodes a message (the clients' defaults). */
const CODEC: Record<TransportName, "proto" | "json"> = {
  grpc: "proto",
  "connect-json": "json",
  "connect-binary-h2": "proto",
  "grpc-web": "proto",
  "grpc-json": "json",
  "grpc-gzip": "proto",
  "connect-gzip-h2": "proto",
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ backend: "memory", env: { MAX_BODY_BYTES: String(LIMIT) } });
});
afterAll(async () => {
  await server?.close();
});

/** A SetSettings request whose encoding in `codec` is exactly `bytes` long. */
function requestOf(sessionId: string, codec: "proto" | "json", bytes: number) {
  const make = (n: number) => create(SetSettingsRequestSchema, { sessionId, update: { case: "entry", value: { key: "k", value: { kind: { case: "stringValue", value: "x".repeat(n) } } } } });
  const size = (n: number) => (codec === "proto" ? toBinary(SetSettingsRequestSchema, make(n)).length : Buffer.byteLength(toJsonString(SetSettingsRequestSchema, make(n))));
  let n = bytes - size(0);
  while (size(n) > bytes) n--;
  expect(size(n), "a message of the exact size").toBe(bytes);
  return make(n);
}

describe("the request body limit", () => {
  it.each([...TRANSPORTS, ...FALLBACK_TRANSPORTS])("takes a message of exactly MAX_BODY_BYTES over %s and refuses one byte more alike", async (transport) => {
    const { sessions, settings } = server.clients(transport);
    const sessionId = `s-${randomUUID()}`;
    await sessions.createSession({ sessionId });
    const codec = CODEC[transport];
    expect((await settings.setSettings(requestOf(sessionId, codec, LIMIT))).revision).toBe(1n);
    const call = settings.setSettings(requestOf(sessionId, codec, LIMIT + 1));
    const detail = await expectFailure(call, Code.ResourceExhausted, "PAYLOAD_TOO_LARGE");
    expect(detail?.limit).toBe(BigInt(LIMIT));
    await expect(call).rejects.toThrow(`the request is larger than ${LIMIT} bytes`);
    expect((await settings.getSettings({ sessionId })).revision).toBe(1n);
  });

  it("holds a REST body to the same limit, with the same refusal", async () => {
    const sessionId = `s-${randomUUID()}`;
    await server.clients("grpc").sessions.createSession({ sessionId });
    const body = (bytes: number) => {
      const empty = JSON.stringify({ key: "k", value: "" });
      return JSON.stringify({ key: "k", value: "x".repeat(bytes - empty.length) });
    };
    const post = (text: string) =>
      fetch(`${server.url}/api/sessions/${sessionId}/settings`, { method: "POST", headers: { "content-type": "application/json" }, body: text });
    expect((await post(body(LIMIT))).status).toBe(200);
    const refused = await post(body(LIMIT + 1));
    expect(refused.status).toBe(413);
    expect(await refused.json()).toMatchObject({ code: "payload_too_large", limit: LIMIT, message: `the request is larger than ${LIMIT} bytes` });
  });
});
