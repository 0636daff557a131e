// OpenTelemetry tracing of the compiled server, configured by OTEL_*
// variables only, against an OTLP/HTTP receiver run by the test: a call sent
// with a known traceparent, over gRPC, Connect, gRPC-Web, REST and SSE, is
// exported as a server span of that trace and parent, named after the RPC or
// route, with its status; each store operation is a child of it; the session
// id is an attribute and no setting value is ever exported. Off by default.
import { randomBytes, randomUUID } from "node:crypto";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../gen/codexmanager/settings/v1/session_pb.js";
import { SettingsService } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { loadConfig } from "../src/config.js";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./support/otlp-receiver.js";
import { startMain } from "./support/process.js";
import { sseReader } from "./support/sse.js";
import { until } from "./support/until.js";

const SERVICE = `cm-trace-${randomUUID().slice(0, 8)}`;
const SECRET = `secret-${randomUUID()}`;
const SETTINGS = "codexmanager.settings.v1.SettingsService";

/** A fresh W3C trace context: the caller's trace and span. */
function caller() {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01`, tracestate: "caller=1" };
}

const withTrace = (t: ReturnType<typeof caller>): Interceptor => (next) => (req) => {
  req.header.set("traceparent", t.traceparent);
  req.header.set("tracestate", t.tracestate);
  return next(req);
};

let receiver: OtlpReceiver;
let main: ReturnType<typeof startMain>;
let url: string;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  main = startMain({
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: "50",
    OTEL_SERVICE_NAME: SERVICE,
  });
  url = (await main.line(/"listening"/)).address;
}, 60_000);

afterAll(async () => {
  main?.child.kill("SIGTERM");
  await main?.exited;
  await receiver?.close();
});

const spansOf = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);

/** The server span of a call made in trace `t`, and the store spans under it, once exported. */
async function serverSpan(t: ReturnType<typeof caller>, name: string): Promise<{ server: ReceivedSpan; store: ReceivedSpan[] }> {
  await until(() => spansOf(t.traceId).some((s) => s.name === name && s.kind === 2), `the server span ${name}`);
  const server = spansOf(t.traceId).find((s) => s.name === name && s.kind === 2)!;
  return { server, store: spansOf(t.traceId).filter((s) => s.parentSpanId === server.spanId) };
}

describe("tracing on (OTEL_TRACES_EXPORTER=otlp)", () => {
  const transports = {
    grpc: (i: Interceptor) => createGrpcTransport({ baseUrl: url, interceptors: [i] }),
    connect: (i: Interceptor) => createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [i] }),
    "grpc-web": (i: Interceptor) => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [i] }),
  };

  for (const [protocol, make] of Object.entries(transports)) {
    it(`takes the trace of a ${protocol} call: server span with its parent, a child span per store operation, the session id, no values`, async () => {
      const sessionId = `trace-${protocol}-${randomUUID().slice(0, 8)}`;
      await createClient(SessionService, make(withTrace(caller()))).createSession({ sessionId });
      const t = caller();
      const settings = createClient(SettingsService, make(withTrace(t)));
      await settings.setSettings({ sessionId, update: { case: "entry", value: { key: "k", value: { kind: { case: "stringValue", value: SECRET } } } } });
      const { server, store } = await serverSpan(t, `${SETTINGS}/SetSettings`);
      expect(server.parentSpanId).toBe(t.spanId);
      expect(server.traceState).toBe(t.tracestate);
      expect(server.service).toBe(SERVICE);
      expect(server.attributes).toMatchObject({
        "rpc.system.name": protocol === "connect" ? "connectrpc" : "grpc",
        "rpc.method": `${SETTINGS}/SetSettings`,
        "rpc.status_code": "OK",
        "codexmanager.session_id": sessionId,
      });
      expect(store.map((s) => s.name)).toContain("sqlite mutate");
      expect(store.find((s) => s.name === "sqlite mutate")!.attributes).toMatchObject({
        "db.system.name": "sqlite", "db.operation.name": "mutate", "codexmanager.session_id": sessionId, "codexmanager.scope": "session",
      });

      // A failure is recorded with its code; a client's mistake is not the server's error.
      const f = caller();
      await createClient(SettingsService, make(withTrace(f))).getSettings({ sessionId: "no-such-session" }).catch(() => {});
      const failed = await serverSpan(f, `${SETTINGS}/GetSettings`);
      expect(failed.server.attributes).toMatchObject({ "rpc.status_code": "NOT_FOUND", "error.type": "NOT_FOUND" });
      expect(failed.server.status).toBe(0);
      expect(failed.store.find((s) => s.attributes["codexmanager.error_reason"] === "SESSION_NOT_FOUND")).toBeDefined();
    });
  }

  it("takes the trace of a WatchSettings stream: its span lasts as long as the stream, with the session and its store reads", async () => {
    const sessionId = `trace-watch-${randomUUID().slice(0, 8)}`;
    await createClient(SessionService, transports.grpc(withTrace(caller()))).createSession({ sessionId });
    const t = caller();
    const abort = new AbortController();
    const stream = createClient(SettingsService, transports.grpc(withTrace(t))).watchSettings({ sessionId }, { signal: abort.signal });
    for await (const message of stream) {
      expect(message.created).toBe(true);
      break; // the client goes away
    }
    abort.abort();
    const { server, store } = await serverSpan(t, `${SETTINGS}/WatchSettings`);
    expect(server.parentSpanId).toBe(t.spanId);
    expect(server.attributes["codexmanager.session_id"]).toBe(sessionId);
    expect(server.attributes["rpc.status_code"]).toBe("CANCELLED");
    expect(store.map((s) => s.name)).toEqual(expect.arrayContaining(["sqlite requireActiveSession", "sqlite readSettings"]));
  });

  it("takes the trace of a REST call and of an SSE stream, named after the route", async () => {
    const sessionId = `trace-rest-${randomUUID().slice(0, 8)}`;
    const t = caller();
    const headers = { traceparent: t.traceparent, tracestate: t.tracestate, "content-type": "application/json" };
    expect((await fetch(`${url}/api/sessions`, { method: "POST", headers, body: JSON.stringify({ sessionId }) })).status).toBe(200);
    const created = await serverSpan(t, "POST /api/sessions");
    expect(created.server.parentSpanId).toBe(t.spanId);
    expect(created.server.attributes).toMatchObject({ "http.request.method": "POST", "http.route": "/api/sessions", "http.response.status_code": 200 });
    expect(created.store.map((s) => s.name)).toContain("sqlite createSession");

    const w = caller();
    const res = await fetch(`${url}/api/sessions/${sessionId}/settings`, {
      method: "POST", headers: { ...headers, traceparent: w.traceparent }, body: JSON.stringify({ key: "k", value: SECRET }),
    });
    expect(res.status).toBe(200);
    const written = await serverSpan(w, "POST /api/sessions/:sessionId/settings");
    expect(written.server.parentSpanId).toBe(w.spanId);
    expect(written.server.attributes["codexmanager.session_id"]).toBe(sessionId);
    expect(written.store.map((s) => s.name)).toContain("sqlite mutate");

    const e = caller();
    const abort = new AbortController();
    const stream = await fetch(`${url}/api/sessions/${sessionId}/settings/events`, { headers: { traceparent: e.traceparent }, signal: abort.signal });
    await sseReader(stream).readUntil(/event: created/);
    abort.abort();
    const events = await serverSpan(e, "GET /api/sessions/:sessionId/settings/events");
    expect(events.server.parentSpanId).toBe(e.spanId);
    expect(events.server.attributes["codexmanager.session_id"]).toBe(sessionId);
    expect(events.store.length).toBeGreaterThan(0);
  });

  it("records nothing of a call its caller did not sample (parent-based), and serves it all the same", async () => {
    const sessionId = `trace-unsampled-${randomUUID().slice(0, 8)}`;
    const u = caller();
    const unsampled = { ...u, traceparent: u.traceparent.replace(/-01$/, "-00") };
    const sessions = createClient(SessionService, transports.grpc(withTrace(unsampled)));
    await sessions.createSession({ sessionId });
    const res = await fetch(`${url}/api/sessions/${sessionId}/settings`, {
      method: "POST", headers: { traceparent: unsampled.traceparent, "content-type": "application/json" }, body: JSON.stringify({ key: "k", value: 1 }),
    });
    expect(res.status).toBe(200);
    // Spans leave in the order they end: once a later sampled call's span is out, nothing earlier is pending.
    const t = caller();
    await createClient(SettingsService, transports.grpc(withTrace(t))).getSettings({ sessionId });
    await serverSpan(t, `${SETTINGS}/GetSettings`);
    expect(spansOf(u.traceId)).toEqual([]);
  });

  it("never exports a setting value", () => {
    expect(receiver.bodies.length).toBeGreaterThan(0);
    expect(receiver.bodies.filter((b) => b.includes(SECRET))).toEqual([]);
  });
});

describe("tracing off", () => {
  it("is the default: an OTLP endpoint alone sends nothing", async () => {
    const quiet = `cm-quiet-${randomUUID().slice(0, 8)}`;
    const off = startMain({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.endpoint, OTEL_SERVICE_NAME: quiet, OTEL_BSP_SCHEDULE_DELAY: "50" });
    try {
      const address = (await off.line(/"listening"/)).address;
      const t = caller();
      await fetch(`${address}/api/sessions`, { method: "POST", headers: { traceparent: t.traceparent, "content-type": "application/json" }, body: "{}" });
    } finally {
      // A server with tracing on sends its last spans as it stops; this one has none to send.
      off.child.kill("SIGTERM");
      await off.exited;
    }
    expect(receiver.spans.filter((s) => s.service === quiet)).toEqual([]);
  }, 60_000);

  it("names OTEL_TRACES_EXPORTER when it asks for an exporter this service does not have", () => {
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: "jaeger" })).toThrow(/OTEL_TRACES_EXPORTER must be one of otlp, none/);
    expect(loadConfig({ OTEL_TRACES_EXPORTER: "otlp", OTEL_SDK_DISABLED: "true" }).tracesExporter).toBeUndefined();
  });
});
