// One port, every protocol: gRPC (h2c), Connect JSON and binary, gRPC-Web,
// plain HTTP JSON and buf curl all reach the same handlers and data.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { Code } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectFailure } from "./support/errors.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { startTestServer, TRANSPORTS, type TestServer } from "./support/server.js";

const run = promisify(execFile);
const SETTINGS = "codexmanager.settings.v1.SettingsService";
const SESSIONS = "codexmanager.settings.v1.SessionService";

let redis: TestRedis;
let server: TestServer;
beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer({ backend: "redis", redisUrl: redis.url });
});
afterAll(async () => {
  await server?.close();
  await redis?.stop();
});

async function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe("one port for every protocol", () => {
  it("serves the same data to gRPC, Connect JSON, Connect binary over h2 and gRPC-Web", async () => {
    const sessionId = `s-${randomUUID()}`;
    await server.clients("grpc").sessions.createSession({ sessionId });
    for (const [i, t] of TRANSPORTS.entries()) {
      await server.clients(t).settings.setSettings({
        sessionId,
        update: { case: "entry", value: { key: t, value: { kind: { case: "numberValue", value: i } } } },
      });
    }
    for (const t of TRANSPORTS) {
      const got = await server.clients(t).settings.getSettings({ sessionId });
      expect(got.settings).toEqual({ grpc: 0, "connect-json": 1, "connect-binary-h2": 2, "grpc-web": 3 });
      expect(got.revision).toBe(4n);
    }
  });

  it("refuses a request body over MAX_BODY_BYTES on every protocol, and stores nothing", async () => {
    const sessionId = `s-${randomUUID()}`;
    await server.clients("grpc").sessions.createSession({ sessionId });
    const big = "x".repeat(2 * 1024 * 1024);
    for (const t of TRANSPORTS) {
      const call = server.clients(t).settings.setSettings({ sessionId, update: { case: "entry", value: { key: t, value: { kind: { case: "stringValue", value: big } } } } });
      await expectFailure(call, Code.ResourceExhausted);
      await expect(call).rejects.toThrow(`the request is larger than ${1024 * 1024} bytes`);
    }
    expect((await server.clients("grpc").settings.getSettings({ sessionId })).revision).toBe(0n);
  });

  it("answers a plain HTTP Connect JSON call, as curl would send it", async () => {
    const sessionId = `s-${randomUUID()}`;
    const created = await postJson(`/${SESSIONS}/CreateSession`, { sessionId, cwd: "/w" });
    expect(created.status).toBe(200);
    expect(created.body.session.sessionId).toBe(sessionId);
    const set = await postJson(`/${SETTINGS}/SetSettings`, { sessionId, entry: { key: "team", value: { a: [1, null] } } });
    expect(set.body).toMatchObject({ changed: true, revision: "1", key: "team", value: { a: [1, null] } });
    const missing = await postJson(`/${SETTINGS}/GetSettings`, { sessionId: `s-${randomUUID()}` });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("not_found");
    expect(missing.body.details[0].type).toBe("codexmanager.settings.v1.ErrorDetail");
    expect(missing.body.details[0].debug.reason).toBe("SESSION_NOT_FOUND");
  });

  it("answers buf curl over gRPC with HTTP/2 prior knowledge, on the same port", async () => {
    const sessionId = `s-${randomUUID()}`;
    await postJson(`/${SESSIONS}/CreateSession`, { sessionId });
    await postJson(`/${SETTINGS}/SetSettings`, { sessionId, entry: { key: "from", value: "json" } });
    const { stdout } = await run("npx", [
      "buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--schema", "proto",
      "-d", JSON.stringify({ sessionId }), `${server.url}/${SETTINGS}/GetSettings`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ settings: { from: "json" }, revision: "1" });
    const failed = await run("npx", [
      "buf", "curl", "--protocol", "connect", "--schema", "proto",
      "-d", JSON.stringify({ sessionId: "bad id" }), `${server.url}/${SETTINGS}/GetSettings`,
    ]).catch((err: { stderr: string }) => err);
    expect((failed as { stderr: string }).stderr).toContain("invalid_argument");
  }, 60_000);

  it("serves gRPC server reflection, so buf curl needs no schema and decodes ErrorDetail", async () => {
    const { stdout: methods } = await run("npx", ["buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-methods", server.url]);
    const listed = methods.trim().split("\n").sort();
    expect(listed).toEqual(expect.arrayContaining([`${SETTINGS}/WatchSettings`, `${SESSIONS}/ListSessions`]));
    expect(listed.join("\n")).not.toMatch(/Bench/);
    // v1alpha too, as older clients (grpcurl) ask that one first.
    const { stdout: alpha } = await run("npx", [
      "buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", "grpc-v1alpha", "--list-services", server.url,
    ]);
    expect(alpha).toContain("codexmanager.settings.v1.SettingsService");
    const failed = await run("npx", ["buf", "curl", "-d", JSON.stringify({ sessionId: "absent" }), `${server.url}/${SETTINGS}/GetSettings`])
      .catch((err: { stderr: string }) => err);
    const shown = JSON.parse((failed as { stderr: string }).stderr);
    expect(shown.details[0].debug).toEqual({ reason: "SESSION_NOT_FOUND", sessionId: "absent" });
  }, 60_000);

  it("answers health and readiness, and 404 JSON for an unknown path", async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ok", store: "redis" });
    const unknown = await fetch(`${server.url}/nope`, { method: "POST" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { status: string }).status).toBe("error");
  });

  it("turns an unexpected failure into a bare internal error that leaks nothing", async () => {
    const sessionId = `s-${randomUUID()}`;
    await postJson(`/${SESSIONS}/CreateSession`, { sessionId });
    // Corrupt a stored value behind the service's back.
    const raw = new Redis(redis.url);
    await raw.hset(`${server.env.REDIS_PREFIX}{s:${sessionId}}:settings`, "broken", "{not json");
    raw.disconnect();
    const res = await postJson(`/${SETTINGS}/GetSettings`, { sessionId });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ code: "internal", message: "internal server error" });
    await expectFailure(server.clients("grpc").settings.getSettings({ sessionId }), Code.Internal);
  });
});

describe("connect-node, for the wires the fast path leaves", () => {
  it("answers an HTTP/1.0 call without Host (a gzip body), and the server lives on", async () => {
    const body = gzipSync(JSON.stringify({ sessionId: `s-${randomUUID()}` }));
    const head = `POST /${SETTINGS}/GetSettings HTTP/1.0\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: ${body.length}\r\n\r\n`;
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(server.port, "127.0.0.1", () => socket.write(Buffer.concat([Buffer.from(head), body])));
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      socket.on("close", () => resolve(text));
      socket.on("error", () => {});
    });
    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    expect(answer).toContain('"reason":"SESSION_NOT_FOUND"');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe("the one-port listener", () => {
  it("drops a connection that never sends its first bytes, and still serves others", async () => {
    const { listenOnePort } = await import("../src/transport/one-port.js");
    const { createConnection } = await import("node:net");
    const { loadConfig } = await import("../src/config.js");
    const http = loadConfig({ HTTP_REQUEST_TIMEOUT_MS: "200" }).http;
    const listener = await listenOnePort((_req, res) => res.end("ok"), "127.0.0.1", 0, { http });
    try {
      const silent = createConnection(listener.port, "127.0.0.1");
      const closedAfter = await new Promise<number>((resolve) => {
        const started = Date.now();
        silent.on("close", () => resolve(Date.now() - started));
        silent.on("error", () => {});
      });
      expect(closedAfter).toBeGreaterThanOrEqual(150);
      expect(closedAfter).toBeLessThan(5000);
      expect(await (await fetch(`http://127.0.0.1:${listener.port}/`)).text()).toBe("ok");
    } finally {
      await listener.close(100);
    }
  });
});
