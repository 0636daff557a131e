// DNS rebinding (transport/host-check.ts): a server bound to a loopback
// address serves only requests that name it by a loopback name or one in
// ALLOWED_HOSTS. A rebound page sends its own name as Host and as Origin, so
// the cross-site write check alone lets it write and read: here it is
// refused on every path (REST, SSE, the panel, the RPC fast paths, the raw
// gRPC stream and connect-node's, for a compressed body), with nothing applied.
import { randomUUID } from "node:crypto";
import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostCheck, hostName } from "../src/transport/host-check.js";
import { startTestServer, type TestServer } from "./support/server.js";

const SETTINGS = "/codexmanager.settings.v1.SettingsService";
let server: TestServer;
let allowing: TestServer;
beforeAll(async () => {
  server = await startTestServer({ backend: "memory" });
  allowing = await startTestServer({ backend: "memory", env: { ALLOWED_HOSTS: "app.test, Tools.Internal." } });
});
afterAll(async () => {
  await server?.close();
  await allowing?.close();
});

/** An HTTP/1.1 request naming `host`, as a rebound page's would (Origin the same name). */
async function as(target: TestServer, host: string, method: string, path: string, body?: string | Buffer, type = "application/json", extra: Record<string, string> = {}) {
  const port = new URL(target.url).port;
  const headers: Record<string, string> = { host: `${host}:${port}`, origin: `http://${host}:${port}`, "content-type": type, ...extra };
  // fetch() will not send another Host: node:http does.
  const { request } = await import("node:http");
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      // gRPC-Web answers a refusal in its headers (grpc-message), with no body.
      let text = decodeURIComponent(String(res.headers["grpc-message"] ?? ""));
      res.setEncoding("utf8").on("data", (c: string) => (text += c)).on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const sessionCount = async (target: TestServer) => (JSON.parse((await as(target, "localhost", "GET", "/api/sessions?limit=100")).text) as { data: unknown[] }).data.length;

describe("a server bound to 127.0.0.1", () => {
  it("refuses every request for another host, reads and writes, REST and RPC, with nothing applied", async () => {
    const before = await sessionCount(server);
    const sessionId = `rebind-${randomUUID()}`;
    for (const [method, path, body, type, extra] of [
      ["GET", "/api/sessions", undefined],
      ["POST", "/api/sessions", JSON.stringify({ sessionId })],
      ["GET", `/api/sessions/${sessionId}/settings/events`, undefined],
      ["GET", "/", undefined],
      ["POST", `${SETTINGS}/GetSettings`, JSON.stringify({ sessionId })],
      ["POST", "/codexmanager.settings.v1.SessionService/CreateSession", JSON.stringify({ sessionId })],
      ["POST", "/codexmanager.settings.v1.SessionService/CreateSession", JSON.stringify({ sessionId }), "application/grpc-web+json"],
      // connect-node's path: a compressed body.
      ["POST", "/codexmanager.settings.v1.SessionService/CreateSession", gzipSync(JSON.stringify({ sessionId })), "application/json", { "content-encoding": "gzip" }],
    ] as [string, string, string | Buffer | undefined, string?, Record<string, string>?][]) {
      const res = await as(server, "evil.test", method, path, body, type, extra);
      expect(res.status, `${method} ${path}`).toBe(type?.startsWith("application/grpc") ? 200 : 403);
      expect(res.text, `${method} ${path}`).toMatch(/host evil\.test are refused/);
    }
    expect(await sessionCount(server)).toBe(before);
  });

  it("refuses a gRPC call over HTTP/2 whose :authority names another host (the raw stream path)", async () => {
    const session = http2.connect(server.url);
    try {
      const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": `${SETTINGS}/GetSettings`, ":authority": "evil.test", "content-type": "application/grpc", te: "trailers" });
        let headers: http2.IncomingHttpHeaders = {};
        stream.on("response", (h) => (headers = h));
        stream.on("trailers", (t) => resolve({ ...headers, ...t }));
        stream.on("end", () => resolve(headers));
        stream.on("error", reject);
        stream.resume();
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      });
      expect(trailers["grpc-status"]).toBe("7");
      expect(decodeURIComponent(String(trailers["grpc-message"]))).toMatch(/host evil\.test are refused/);
    } finally {
      session.close();
    }
  });

  it("serves localhost, 127.x, [::1] and *.localhost names, and ALLOWED_HOSTS when set", async () => {
    for (const host of ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]", "panel.localhost"]) {
      expect((await as(server, host, "GET", "/healthz")).status, host).toBe(200);
    }
    expect((await as(server, "app.test", "GET", "/healthz")).status).toBe(403);
    expect((await as(allowing, "app.test", "GET", "/healthz")).status).toBe(200);
    expect((await as(allowing, "tools.internal", "GET", "/healthz")).status).toBe(200);
    expect((await as(allowing, "evil.test", "GET", "/healthz")).status).toBe(403);
  });
});

describe("hostCheck", () => {
  it("checks nothing on a server bound beyond loopback, or with ALLOWED_HOSTS=*", () => {
    expect(hostCheck("0.0.0.0", [])).toBeUndefined();
    expect(hostCheck("::", [])).toBeUndefined();
    expect(hostCheck("10.1.2.3", [])).toBeUndefined();
    expect(hostCheck("127.0.0.1", ["*"])).toBeUndefined();
    expect(hostCheck("::1", [])?.("evil.test:80")).toBe(false);
    expect(hostCheck("localhost", [])?.(undefined)).toBe(true);
  });

  it("reads the host a Host header names", () => {
    expect(["localhost:8080", "[::1]:80", "::1", "Example.COM.", "a.b:1"].map(hostName)).toEqual(["localhost", "::1", "::1", "example.com", "a.b"]);
  });
});
