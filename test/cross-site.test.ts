// No cross-site writes (SPEC §5): a REST body must be declared JSON (415),
// and a write whose Origin is neither the server's own nor in CORS_ORIGINS
// is refused (403, or permission_denied in each RPC protocol's form) with
// nothing applied, on every path: REST, the fast RPC paths, the raw gRPC
// stream and connect-node's fallback. Reads and non-browser clients (no
// Origin) are not concerned. Chromium's view is in web.test.ts.
import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { Code, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SettingsService } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { expectFailure } from "./support/errors.js";
import { restClient, type Rest } from "./support/rest.js";
import { makeTransport, startTestServer, TRANSPORTS, type TestServer } from "./support/server.js";

const EVIL = "http://evil.test";
const APP = "http://app.test:3000";
const SETTINGS = "codexmanager.settings.v1.SettingsService";

let server: TestServer;
let allowing: TestServer;
let rest: Rest;
beforeAll(async () => {
  server = await startTestServer({ backend: "memory" });
  allowing = await startTestServer({ backend: "memory", env: { CORS_ORIGINS: `${APP}, https://other.test` } });
  rest = restClient(server.url);
});
afterAll(async () => {
  await server?.close();
  await allowing?.close();
});

async function session(on: Rest = rest): Promise<string> {
  const sessionId = `x-${randomUUID()}`;
  expect((await on("POST", "/api/sessions", { sessionId })).status).toBe(200);
  return sessionId;
}
const sessionCount = async () => (await rest("GET", "/api/sessions?limit=100")).body.data.length as number;
const revision = async (sessionId: string, on: Rest = rest) => (await on("GET", `/api/sessions/${sessionId}/settings`)).body.revision as number;

const withOrigin = (origin: string): Interceptor => (next) => (req) => {
  req.header.set("origin", origin);
  return next(req);
};

describe("a REST body must be declared JSON", () => {
  it("answers 415 to text/plain, a form, a body without content-type, and applies nothing", async () => {
    const sessionId = await session();
    const body = JSON.stringify({ key: "approval", value: "never" });
    for (const type of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", undefined]) {
      const res = await fetch(`${server.url}/api/sessions/${sessionId}/settings`, { method: "POST", headers: type ? { "content-type": type } : {}, body: Buffer.from(body) });
      expect(res.status, String(type)).toBe(415);
      expect(await res.json()).toMatchObject({ status: "error", code: "unsupported_media_type", message: expect.stringContaining("application/json") });
    }
    // A session cannot be created by a bodiless form post either.
    const sessions = await sessionCount();
    const created = await fetch(`${server.url}/api/sessions`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(created.status).toBe(415);
    expect(await sessionCount()).toBe(sessions);
    // Controls too.
    const controls = await fetch(`${server.url}/api/sessions/${sessionId}/session-controls`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ controls: { model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "danger-full-access" } }),
    });
    expect(controls.status).toBe(415);
    expect((await rest("GET", `/api/sessions/${sessionId}/session-controls`)).body.controls.approvalPolicy).toBe("untrusted");
    expect(await revision(sessionId)).toBe(0);
  });

  it("takes application/json with parameters, and a bodiless POST with no content-type", async () => {
    const sessionId = await session();
    const res = await fetch(`${server.url}/api/sessions/${sessionId}/settings`, {
      method: "POST",
      headers: { "content-type": "Application/JSON; charset=utf-8" },
      body: JSON.stringify({ key: "k", value: 1 }),
    });
    expect(res.status).toBe(200);
    expect((await fetch(`${server.url}/api/sessions`, { method: "POST" })).status).toBe(200);
  });
});

describe("a write from a foreign origin", () => {
  it("is refused on every REST write route with 403, and nothing is applied", async () => {
    const sessionId = await session();
    const sessions = await sessionCount();
    const headers = { origin: EVIL };
    const refused = [
      await rest("POST", "/api/sessions", { sessionId: `x-${randomUUID()}` }, { headers }),
      await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "k", value: 1 }, { headers }),
      await rest("DELETE", `/api/sessions/${sessionId}/settings/k`, undefined, { headers }),
      await rest("POST", `/api/sessions/${sessionId}/session-controls`, { controls: { model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "danger-full-access" } }, { headers }),
      await rest("DELETE", `/api/sessions/${sessionId}`, undefined, { headers }),
    ];
    for (const res of refused) {
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ status: "error", code: "origin_not_allowed", message: expect.stringContaining(EVIL) });
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    }
    expect(await sessionCount()).toBe(sessions);
    expect(await revision(sessionId)).toBe(0);
    expect((await rest("GET", `/api/sessions/${sessionId}/session-controls`)).body.controls.approvalPolicy).toBe("untrusted");
    // A text/plain post from a foreign page: refused before its body is looked at.
    const plain = await fetch(`${server.url}/api/sessions/${sessionId}/settings`, { method: "POST", headers: { origin: EVIL, "content-type": "text/plain" }, body: "{}" });
    expect(plain.status).toBe(403);
    // Reads are not writes: answered, without CORS headers a browser would need to show them to the page.
    const read = await rest("GET", `/api/sessions/${sessionId}/settings`, undefined, { headers });
    expect(read.status).toBe(200);
    expect(read.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("is refused in each RPC protocol's permission_denied form, on the fast paths, the raw gRPC stream and connect-node", async () => {
    const sessionId = await session();
    const transports: [string, Transport][] = [
      ...TRANSPORTS.map((t): [string, Transport] => [t, makeTransport(server.url, t, { interceptors: [withOrigin(EVIL)] })]),
      // Left to connect-node: gRPC with JSON messages, and compressed Connect JSON.
      ["grpc+json", createGrpcTransport({ baseUrl: server.url, useBinaryFormat: false, interceptors: [withOrigin(EVIL)] })],
      ["connect-json-gzip", createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat: false, sendCompression: compressionGzip, compressMinBytes: 0, interceptors: [withOrigin(EVIL)] })],
    ];
    for (const [name, transport] of transports) {
      const client = createClient(SettingsService, transport);
      const call = client.setSettings({ sessionId, update: { case: "entry", value: { key: name, value: { kind: { case: "numberValue", value: 1 } } } } });
      await expectFailure(call, Code.PermissionDenied);
      await expect(call, name).rejects.toThrow(EVIL);
      // A server stream (Connect's end-of-stream message, gRPC-Web's trailers) is refused the same way.
      const watch = (async () => {
        for await (const _ of client.watchSettings({ sessionId })) return;
      })();
      await expectFailure(watch, Code.PermissionDenied);
    }
    expect(await revision(sessionId)).toBe(0);
  });

  it("is refused for a raw Connect JSON POST, and its body is never read", async () => {
    const sessionId = await session();
    const res = await fetch(`${server.url}/${SETTINGS}/SetSettings`, {
      method: "POST",
      headers: { origin: EVIL, "content-type": "application/json" },
      body: JSON.stringify({ sessionId, entry: { key: "k", value: 1 } }),
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: "permission_denied", message: expect.stringContaining(EVIL) });
    expect(await revision(sessionId)).toBe(0);
  });
});

describe("the server's own origin", () => {
  it("may write, as the panel does: http or https with the Host the browser used", async () => {
    const sessionId = await session();
    const own = new URL(server.url).host; // what fetch sends as Host
    for (const origin of [`http://${own}`, `https://${own}`]) {
      const res = await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "k", value: origin }, { headers: { origin } });
      expect(res.status, origin).toBe(200);
      const call = createClient(SettingsService, makeTransport(server.url, "connect-json", { interceptors: [withOrigin(origin)] }))
        .setSettings({ sessionId, update: { case: "entry", value: { key: "rpc", value: { kind: { case: "stringValue", value: origin } } } } });
      await expect(call).resolves.toMatchObject({ changed: true });
    }
    // The same host on another port, or another name for this address, is another origin.
    const port = Number(new URL(server.url).port);
    for (const origin of [`http://127.0.0.1:${port + 1}`, `http://localhost:${port}`, "null"]) {
      expect((await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "k", value: 0 }, { headers: { origin } })).status, origin).toBe(403);
    }
  });
});

describe("CORS_ORIGINS", () => {
  it("allows no foreign origin by default: no preflight passes, no CORS headers", async () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    const pre = await fetch(`${server.url}/${SETTINGS}/GetSettings`, {
      method: "OPTIONS",
      headers: { origin: EVIL, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    expect(pre.status).not.toBe(204);
  });

  it("lets a listed origin pass the preflight and write, and still no other", async () => {
    const on = restClient(allowing.url);
    const sessionId = await session(on);
    const pre = await fetch(`${allowing.url}/${SETTINGS}/GetSettings`, {
      method: "OPTIONS",
      headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "content-type,connect-protocol-version" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(APP);
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/connect-protocol-version/i);
    const res = await on("POST", `/api/sessions/${sessionId}/settings`, { key: "k", value: 1 }, { headers: { origin: APP } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-expose-headers")).toMatch(/grpc-status/i);
    const call = createClient(SettingsService, makeTransport(allowing.url, "grpc-web", { interceptors: [withOrigin("https://other.test")] }))
      .setSettings({ sessionId, update: { case: "entry", value: { key: "k", value: { kind: { case: "numberValue", value: 2 } } } } });
    await expect(call).resolves.toMatchObject({ revision: 2n });
    expect((await on("POST", `/api/sessions/${sessionId}/settings`, { key: "k", value: 3 }, { headers: { origin: EVIL } })).status).toBe(403);
    expect(await revision(sessionId, on)).toBe(2);
  });

  it("takes '*' for any origin, normalizes origins, and refuses anything else at start-up", () => {
    expect(loadConfig({ CORS_ORIGINS: "*" }).corsOrigins).toEqual(["*"]);
    expect(loadConfig({ CORS_ORIGINS: "HTTPS://App.Example.com:443/, http://localhost:5173" }).corsOrigins).toEqual(["https://app.example.com", "http://localhost:5173"]);
    for (const bad of ["app.example.com", "http://a.test/path", "ftp://a.test", "http://a.test,"]) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(/CORS_ORIGINS/);
    }
  });
});

describe("connect-node's fallback for a same-origin JSON call", () => {
  it("still serves compressed Connect JSON from a page of this origin", async () => {
    const sessionId = await session();
    const res = await fetch(`${server.url}/${SETTINGS}/SetSettings`, {
      method: "POST",
      headers: { origin: server.url, "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(JSON.stringify({ sessionId, entry: { key: "k", value: 1 } })),
    });
    expect(res.status).toBe(200);
    expect(await revision(sessionId)).toBe(1);
  });
});
