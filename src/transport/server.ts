// The HTTP surface on one port: every RPC (gRPC, Connect, gRPC-Web) on the
// fast path (./rpc) or, for what it leaves, connect-node
// (./connect-fallback.ts); health checks, metrics, the REST routes and the
// panel; DNS-rebinding protection (./host-check.ts), CORS and the refusal of
// cross-site writes (./cors.ts). What it
// serves is wired in app.ts.
import type net from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import type { ContextValues, Interceptor } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import type { Authenticator } from "../auth.js";
import type { Config } from "../config.js";
import { errors } from "../domain/errors.js";
import type { CallObserver } from "../observe/calls.js";
import type { Logger } from "../observe/log.js";
import type { Metrics } from "../observe/metrics.js";
import type { Operations } from "../service/operations.js";
import type { RateLimiter } from "../service/rate-limits.js";
import type { Readiness } from "../service/readiness.js";
import { REFLECTION_SERVICES, reflectionServices } from "../service/reflection.js";
import type { Store } from "../store/store.js";
import { connectFallback } from "./connect-fallback.js";
import { applyCors, foreignWriteOrigin, refuseForeignWrite, requestHost } from "./cors.js";
import { hostCheck, refuseForeignHost } from "./host-check.js";
import { sendJson } from "./http-json.js";
import type { Req, Res } from "./http-types.js";
import { listenOnePort } from "./one-port.js";
import { serveGrpcUnary } from "./rpc/grpc-unary.js";
import { methodTable } from "./rpc/methods.js";
import { serveOnResponse } from "./rpc/response-call.js";
import type { RpcOptions } from "./rpc/types.js";
import { serveWebApp } from "./static-files.js";
import { useFastTextEncoding } from "./text-encoding.js";
import type { TlsTerminator } from "./tls.js";
import type { RouteTracer } from "./traced-calls.js";
import { closeIfAnsweredEarly } from "./unread-body.js";

/** Answers a request outside Connect; returns false when the path is not its own. */
export type RouteHandler = (req: Req, res: Res) => Promise<boolean>;

export interface RunningServer {
  port: number;
  url: string;
  /** Reads the TLS certificate files again for new connections (SIGHUP); false without TLS or when they are bad. */
  reloadTls(): boolean;
  close(): Promise<void>;
}

/** What routes outside Connect share with it. */
export interface RouteContext {
  ops: Operations;
  log: Logger;
  /** Aborted when the server shuts down. */
  shutdown: AbortSignal;
  auth?: Authenticator;
  /** Per-caller rate limits; undefined when nothing is limited. */
  limiter?: RateLimiter;
  /** Each route's span (OpenTelemetry); undefined while tracing is off. */
  trace?: RouteTracer;
  observe: CallObserver;
}

export interface HttpSurface {
  config: Pick<Config, "host" | "port" | "http" | "corsOrigins" | "allowedHosts" | "limits">;
  log: Logger;
  /** What /readyz and grpc.health.v1.Health answer from. */
  readiness: Readiness;
  store: Pick<Store, "kind">;
  metrics: Metrics;
  /** Aborted (with the reason every open call ends with) when the server closes. */
  shutdown: AbortController;
  services: [DescService, object][];
  interceptors: Interceptor[];
  /** grpc.health.v1.Health, served with its own interceptors (open like /readyz, neither limited nor traced). */
  health: { service: object; interceptors: Interceptor[] };
  /** Values every call's context starts with, from its connection (the peer), when something reads them. */
  contextValues?: (socket: net.Socket | undefined) => ContextValues;
  /** Routes tried before the 404 (REST). */
  routes?: RouteHandler;
  /** TLS on the port; cleartext without. */
  tls?: TlsTerminator;
  /** Runs after the last connection closed (the tracer's last spans). */
  closed?: () => Promise<void>;
}

export const PROTOCOLS = ["grpc (h2c)", "connect (json, binary; http/1.1, h2c)", "grpc-web"];
export const TLS_PROTOCOLS = ["grpc (h2)", "connect (json, binary; http/1.1, h2)", "grpc-web"];
const SHUTDOWN_GRACE_MS = 10_000;

export async function serveOnePort(surface: HttpSurface): Promise<RunningServer> {
  const { config, log, readiness, store, metrics, shutdown, services, interceptors, contextValues, routes, tls } = surface;
  useFastTextEncoding();
  const fallback = async (req: Req, res: Res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (req.method === "GET" && path === "/readyz") return sendReadiness(readiness, store, res);
    if (req.method === "GET" && path === "/metrics") return sendMetrics(metrics, res);
    if (routes && (await routes(req, res))) return;
    if (!path!.startsWith("/api/") && serveWebApp(req, res)) return;
    sendJson(res, 404, { status: "error", code: "not_found", message: `no route for ${req.method} ${path}` });
  };

  /** Everything that is not an RPC: health, metrics, REST, the panel, JSON 404s. */
  const serveOther = (req: Req, res: Res) => {
    fallback(req, res).catch((err: unknown) => {
      log.error({ path: req.url, err }, "unexpected error");
      if (!res.headersSent) sendJson(res, 500, { status: "error", code: "internal_error", message: "internal server error" });
      else res.end();
    });
  };

  const rpc: RpcOptions = {
    contextValues,
    methods: methodTable(services as [DescService, Record<string, unknown>][], interceptors),
    limits: config.limits,
    log,
    shutdown: shutdown.signal,
  };
  const reflection = reflectionServices([...services.map(([service]) => service), Health]);
  const connect = connectFallback({
    services: [
      ...services,
      [Health, surface.health.service, surface.health.interceptors],
      [REFLECTION_SERVICES[0], reflection.v1],
      [REFLECTION_SERVICES[1], reflection.v1alpha],
    ],
    interceptors,
    contextValues,
    limits: config.limits,
    log,
    shutdown: shutdown.signal,
  });
  const { procedures } = connect;

  const hosts = hostCheck(config.host, config.allowedHosts);
  const handler = (req: Req, res: Res) => {
    const path = (req.url ?? "").split("?")[0]!;
    closeIfAnsweredEarly(req, res, config.limits.maxBodyBytes);
    if (refuseForeignHost(hosts, req, res, procedures.has(path))) return;
    if (applyCors(config.corsOrigins, req, res)) return;
    if (refuseForeignWrite(config.corsOrigins, req, res, procedures.has(path))) return;
    if (!procedures.has(path)) return serveOther(req, res);
    // connect-node answers a GET on a procedure with an empty 405; say why, in Connect's error form.
    if (req.method === "GET") {
      res.setHeader("allow", "POST");
      return sendJson(res, 405, { code: "unimplemented", message: `${path} takes POST (Connect, gRPC or gRPC-Web)` });
    }
    if (serveOnResponse(req, res, path, rpc)) return;
    connect.serve(req, res);
  };

  const server = await listenOnePort(handler, config.host, config.port, {
    http: config.http,
    log,
    tls,
    // A write from a foreign origin or for a foreign host goes the long way, to be refused in `handler`.
    rawStream: (stream, headers) =>
      !foreignWriteOrigin(config.corsOrigins, headers[":method"], headers) && (hosts?.(requestHost(headers)) ?? true) && serveGrpcUnary(stream, headers, rpc),
  });
  const url = `${tls ? "https" : "http"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${server.port}`;
  return {
    port: server.port,
    url,
    reloadTls: () => tls?.reload() ?? false,
    async close() {
      // Not ready from now on (health watchers hear it first); every call and stream still open
      // ends with this: `unavailable`, resume elsewhere.
      readiness.drain();
      shutdown.abort(errors.shuttingDown());
      await server.close(SHUTDOWN_GRACE_MS);
      tls?.close();
      await surface.closed?.();
    },
  };
}

async function sendMetrics(metrics: Metrics, res: Res): Promise<void> {
  const text = await metrics.registry.metrics();
  res.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" });
  res.end(text);
}

async function sendReadiness(readiness: Readiness, store: Pick<Store, "kind">, res: Res): Promise<void> {
  if (await readiness.check()) sendJson(res, 200, { status: "ok", store: store.kind });
  else sendJson(res, 503, { status: "error", code: "unavailable", message: "settings store is unavailable, or the server is shutting down" });
}
