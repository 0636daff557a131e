// What an operator sees: one JSON log line per failed call (successful ones
// at debug) with protocol, procedure, code, duration and actor, nothing
// secret in any line, and Prometheus metrics at /metrics after real traffic
// over every transport.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/observe/log.js";
import { restClient } from "./support/rest.js";
import { startTestServer, TRANSPORTS, type TestServer } from "./support/server.js";
import { expectFailure } from "./support/errors.js";
import { Code } from "@connectrpc/connect";

describe("logging", () => {
  it("redacts tokens and setting values wherever they are passed", () => {
    const lines: string[] = [];
    const log = createLogger("debug", { write: (line: string) => lines.push(line) });
    log.info({ authorization: "Bearer sekrit-1", token: "sekrit-2", settings: { a: "sekrit-3" }, call: { value: "sekrit-4", headers: { authorization: "sekrit-5" } } }, "m");
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/sekrit/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info", msg: "m", authorization: "[redacted]", settings: "[redacted]" });
  });
});

describe("calls and metrics", () => {
  let server: TestServer;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    server = await startTestServer({
      backend: "sqlite",
      log: createLogger("info", { write: (line: string) => lines.push(JSON.parse(line)) }),
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("logs one line per failed call on every transport, and none for a successful one at info", async () => {
    const missing = `missing-${randomUUID()}`;
    for (const transport of TRANSPORTS) {
      await expectFailure(server.clients(transport).settings.getSettings({ sessionId: missing }), Code.NotFound);
    }
    const sessionId = `obs-${randomUUID()}`;
    await server.clients("grpc").sessions.createSession({ sessionId });
    const rest = restClient(server.url);
    expect((await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "k", value: "do-not-log-me", actor: "ana" })).status).toBe(200);
    expect((await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "k", value: 1, ifRevision: 0, actor: "ana" })).status).toBe(409);
    const calls = lines.filter((l) => l.msg === "call");
    expect(calls.filter((l) => l.procedure === "GetSettings" && l.code === "not_found").map((l) => l.protocol).sort()).toEqual(
      ["connect", "connect", "grpc", "grpc-web"],
    );
    expect(calls).toContainEqual(expect.objectContaining({ protocol: "rest", procedure: "SetSettings", code: "aborted", actor: "ana", ms: expect.any(Number) }));
    expect(calls.some((l) => l.code === "ok")).toBe(false);
    expect(JSON.stringify(lines)).not.toContain("do-not-log-me");
  });

  it("serves Prometheus metrics for calls on every transport, the store, watch streams and the process", async () => {
    const sessionId = `metrics-${randomUUID()}`;
    await server.clients("grpc").sessions.createSession({ sessionId });
    for (const transport of TRANSPORTS) await server.clients(transport).settings.getSettings({ sessionId });
    await restClient(server.url)("GET", `/api/sessions/${sessionId}/settings`);
    const stop = new AbortController();
    const stream = server.clients("grpc").settings.watchSettings({ sessionId }, { signal: stop.signal });
    const watching = (async () => {
      try {
        for await (const _ of stream) break;
      } catch {
        // Cancelled below.
      }
    })();
    // The watch counts as open once the server has it: poll the gauge itself.
    const scrape = async () => (await fetch(`${server.url}/metrics`)).text();
    const deadline = Date.now() + 10_000;
    while (!/settings_watch_streams\{protocol="grpc"\} 1/.test(await scrape())) {
      if (Date.now() > deadline) throw new Error("the watch never showed in settings_watch_streams");
    }
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const protocol of ["grpc", "grpc-web", "connect", "rest"]) {
      expect(text).toMatch(new RegExp(`settings_calls_total\\{protocol="${protocol}",procedure="GetSettings",code="ok"\\} \\d+`));
    }
    expect(text).toMatch(/settings_call_duration_seconds_bucket\{le="0.005",protocol="grpc",procedure="GetSettings"\} \d+/);
    expect(text).toMatch(/settings_store_operation_duration_seconds_count\{operation="readSettings",outcome="ok"\} \d+/);
    expect(text).toMatch(/settings_store_ready 1/);
    expect(text).toMatch(/process_cpu_seconds_total \d/);
    stop.abort();
    await watching;
  });
});
