// The HTTP surface on one port: Connect, gRPC and gRPC-Web through
// connect-node, plus health checks, CORS and the refusal of cross-site
// writes (./cors.ts), with room for REST routes.
import { setMaxListeners } from "node:events";
import type { DescService } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { SessionService } from "../../gen/codexmanager/settings/v1/session_pb.js";
import { SettingsService } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import type { Config } from "../config.js";
import type { Logger } from "../observe/log.js";
import { sessionService, settingsService } from "../service/connect-services.js";
import { changesService } from "../service/changes-service.js";
import { ChangesService } from "../../gen/codexmanager/settings/v1/changes_pb.js";
import { SchemaService } from "../../gen/codexmanager/settings/v1/schemas_pb.js";
import { schemaService } from "../service/schema-service.js";
import { REFLECTION_SERVICES, reflectionServices } from "../service/reflection.js";
import { createOperations, type Operations } from "../service/operations.js";
import type { Store } from "../store/store.js";
import { authInterceptor, callInterceptor } from "./connect-errors.js";
import { callObserver, type CallObserver } from "../observe/calls.js";
import { instrumentStore } from "../observe/instrumented-store.js";
import { createMetrics, type Metrics } from "../observe/metrics.js";
import type { Authenticator } from "../auth.js";
import { applyCors, foreignWriteOrigin, refuseForeignWrite } from "./cors.js";
import { exactJsonOptions } from "./exact-json.js";
import { sendJson, type Req, type Res } from "./http-json.js";
import { listenOnePort } from "./one-port.js";
import { closeIfAnsweredEarly } from "./unread-body.js";
import { serveCompat, type RpcOptions } from "./rpc/compat-call.js";
import { serveGrpcUnary } from "./rpc/grpc-unary.js";
import { methodTable } from "./rpc/methods.js";
import { serveWebApp } from "./static-files.js";
import { useFastTextEncoding } from "./text-encoding.js";

/** Answers a request outside Connect; returns false when the path is not its own. */
export type RouteHandler = (req: Req, res: Res) => Promise<boolean>;

export interface RunningServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export interface ServerDeps {
  config: Config;
  store: Store;
  log: Logger;
  /** Bearer-token authentication; undefined leaves it off. */
  auth?: Authenticator;
  /** Extra services (the benchmark's no-op; never registered in production). */
  extraServices?: [DescService, object][];
  /** Extra routes tried before the 404 (REST). */
  routes?: (ctx: RouteContext) => RouteHandler;
}

/** What routes outside Connect share with it. */
export interface RouteContext {
  ops: Operations;
  log: Logger;
  /** Aborted when the server shuts down. */
  shutdown: AbortSignal;
  auth?: Authenticator;
  observe: CallObserver;
  /** An answer the client does not take is dropped after this. */
  writeStallMs: number;
}

export const PROTOCOLS = ["grpc (h2c)", "connect (json, binary; http/1.1, h2c)", "grpc-web"];
const SHUTDOWN_GRACE_MS = 10_000;

export async function startServer({ config, store: bareStore, log, auth, routes, extraServices }: ServerDeps): Promise<RunningServer> {
  useFastTextEncoding();
  const metrics = createMetrics(() => bareStore.ping().then(() => true, () => false));
  const store = instrumentStore(bareStore, metrics.storeSeconds);
  bareStore.observe?.({ batch: (writes) => metrics.batchWrites.observe(writes) });
  const observe = callObserver(log, metrics);
  const ops = createOperations(store, config, {
    watchOpened: (protocol) => {
      metrics.watchStreams.inc({ protocol });
      return () => metrics.watchStreams.dec({ protocol });
    },
    mapRead: (cached) => metrics.mapReads.inc({ cached: String(cached) }),
    watchCutOff: (ref, protocol) => {
      metrics.watchCutOffs.inc({ protocol });
      log.info({ sessionId: ref.sessionId, scope: ref.scope, protocol }, "watch cut off: its reader fell too far behind (WATCH_BACKLOG)");
    },
  });
  let procedures = new Set<string>();
  const shutdown = new AbortController();
  // Every call in flight and every open stream listens for shutdown.
  setMaxListeners(0, shutdown.signal);
  const extra = routes?.({ ops, log, shutdown: shutdown.signal, auth, observe, writeStallMs: config.http.writeStallMs });

  const fallback = async (req: Req, res: Res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (req.method === "GET" && path === "/readyz") return readiness(store, res);
    if (req.method === "GET" && path === "/metrics") return sendMetrics(metrics, res);
    if (extra && (await extra(req, res))) return;
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

  // One implementation and one set of interceptors, served by the fast path (./rpc) and by connect-node.
  const services: [DescService, object][] = [
    [SettingsService, settingsService(ops)],
    [SessionService, sessionService(ops)],
    [ChangesService, changesService(ops)],
    [SchemaService, schemaService(ops)],
    ...(extraServices ?? []),
  ];
  const interceptors = auth ? [callInterceptor(log, observe), authInterceptor(auth)] : [callInterceptor(log, observe)];
  const rpc: RpcOptions = {
    methods: methodTable(services as [DescService, Record<string, unknown>][], interceptors),
    maxBodyBytes: config.limits.maxBodyBytes,
    log,
    writeStallMs: config.http.writeStallMs,
    shutdown: shutdown.signal,
  };
  const connect = connectNodeAdapter({
    routes: (router) => {
      for (const [service, impl] of services) router.service(service, impl as never);
      const reflection = reflectionServices(services.map(([service]) => service));
      router.service(REFLECTION_SERVICES[0], reflection.v1);
      router.service(REFLECTION_SERVICES[1], reflection.v1alpha);
      procedures = new Set(router.handlers.map((h) => h.requestPath));
    },
    interceptors,
    jsonOptions: exactJsonOptions,
    readMaxBytes: config.limits.maxBodyBytes,
    shutdownSignal: shutdown.signal,
    fallback: serveOther,
  });

  const handler = (req: Req, res: Res) => {
    if (applyCors(config.corsOrigins, req, res)) return;
    closeIfAnsweredEarly(req, res, config.limits.maxBodyBytes);
    const path = (req.url ?? "").split("?")[0]!;
    if (refuseForeignWrite(config.corsOrigins, req, res, procedures.has(path))) return;
    // Not a procedure: no need to go through connect-node's router to find that out.
    if (!procedures.has(path)) return serveOther(req, res);
    // connect-node answers a GET on a procedure with an empty 405; say why, in Connect's error form.
    if (req.method === "GET") {
      res.setHeader("allow", "POST");
      return sendJson(res, 405, { code: "unimplemented", message: `${path} takes POST (Connect, gRPC or gRPC-Web)` });
    }
    if (serveCompat(req, res, path, rpc)) return;
    connect(req, res);
  };

  const server = await listenOnePort(handler, config.host, config.port, {
    http: config.http,
    log,
    // A write from a foreign origin goes the long way, to be refused in `handler`.
    rawStream: (stream, headers) => !foreignWriteOrigin(config.corsOrigins, headers[":method"], headers) && serveGrpcUnary(stream, headers, rpc),
  });
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${server.port}`;
  return {
    port: server.port,
    url,
    async close() {
      shutdown.abort();
      await server.close(SHUTDOWN_GRACE_MS);
    },
  };
}

async function sendMetrics(metrics: Metrics, res: Res): Promise<void> {
  const text = await metrics.registry.metrics();
  res.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" });
  res.end(text);
}

async function readiness(store: Store, res: Res): Promise<void> {
  try {
    await store.ping();
    sendJson(res, 200, { status: "ok", store: store.kind });
  } catch {
    sendJson(res, 503, { status: "error", code: "unavailable", message: "settings store is unavailable" });
  }
}
