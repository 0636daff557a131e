// The application: the store timed for metrics, the operations over it, the
// services and interceptors every RPC path shares, and the REST routes,
// handed to the one-port HTTP surface (transport/server.ts).
import { setMaxListeners } from "node:events";
import type { DescService } from "@bufbuild/protobuf";
import { ChangesService } from "../gen/codexmanager/settings/v1/changes_pb.js";
import { SchemaService } from "../gen/codexmanager/settings/v1/schemas_pb.js";
import { SessionService } from "../gen/codexmanager/settings/v1/session_pb.js";
import { SettingsService } from "../gen/codexmanager/settings/v1/settings_pb.js";
import type { Authenticator } from "./auth.js";
import type { Config } from "./config.js";
import { callObserver } from "./observe/calls.js";
import type { Logger } from "./observe/log.js";
import { createMetrics, type Metrics } from "./observe/metrics.js";
import { changesService } from "./service/changes-service.js";
import { sessionService, settingsService } from "./service/connect-services.js";
import { healthService } from "./service/health.js";
import { createOperations, operationsState, type OperationHooks } from "./service/operations.js";
import { RateLimiter } from "./service/rate-limits.js";
import { schemaService } from "./service/schema-service.js";
import { createReadiness } from "./service/readiness.js";
import { instrumentStore } from "./store/instrumented-store.js";
import type { Store } from "./store/store.js";
import { authInterceptor, callInterceptor } from "./transport/interceptors.js";
import { peerValues } from "./transport/peer.js";
import { rateLimitInterceptor } from "./transport/rate-limit.js";
import { serveOnePort, type RouteContext, type RouteHandler, type RunningServer } from "./transport/server.js";
import { TlsTerminator } from "./transport/tls.js";
import { tracedCalls } from "./transport/traced-calls.js";

export type { RunningServer } from "./transport/server.js";

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

export async function startServer({ config, store: bareStore, log, auth, routes, extraServices }: ServerDeps): Promise<RunningServer> {
  const metrics = createMetrics(() => bareStore.ping().then(() => true, () => false));
  // Loaded only when on: OpenTelemetry's SDK costs ~30 MiB of memory in every process that imports it.
  const tracing = config.tracesExporter ? (await import("./observe/tracing.js")).startTracing(bareStore.kind, log) : undefined;
  const store = instrumentStore(bareStore, metrics.storeSeconds);
  bareStore.observe?.({ batch: (writes) => metrics.batchWrites.observe(writes) });
  const observe = callObserver(log, metrics);
  // GET /readyz and grpc.health.v1.Health read this one state.
  const readiness = createReadiness(() => store.ping());
  const hooks = operationHooks(metrics, log);
  const state = operationsState(config);
  const ops = createOperations(store, config, hooks, state);
  const traced = tracing && tracedCalls(tracing, store, (over) => createOperations(over, config, hooks, state));
  const shutdown = new AbortController();
  // Every call in flight and every open stream listens for shutdown.
  setMaxListeners(0, shutdown.signal);
  const limiter = RateLimiter.needed(config.rateLimits, auth?.limitsActors ?? false)
    ? new RateLimiter(config.rateLimits, (kind, actor) => metrics.rateLimited.inc({ kind, actor }))
    : undefined;
  // One implementation and one set of interceptors, served by the fast path and by connect-node.
  const services: [DescService, object][] = [
    [SettingsService, settingsService(ops)],
    [SessionService, sessionService(ops)],
    [ChangesService, changesService(ops)],
    [SchemaService, schemaService(ops)],
    ...(extraServices ?? []),
  ];
  const recorded = callInterceptor(log, observe);
  const tls = config.tls && new TlsTerminator(config.tls, config.http.requestTimeoutMs, log);
  tls?.watch();
  return serveOnePort({
    config,
    log,
    readiness,
    store,
    metrics,
    shutdown,
    services,
    interceptors: [
      ...(traced ? [traced.interceptor] : []),
      recorded,
      ...(auth ? [authInterceptor(auth)] : []),
      ...(limiter ? [rateLimitInterceptor(limiter)] : []),
    ],
    // Open with authentication on (probes carry no token), like /readyz; neither limited nor
    // traced (a probe every few seconds is no one's trace).
    health: { service: healthService(readiness, services.map(([service]) => service.typeName)), interceptors: [recorded] },
    // The connection's peer (address, client certificate), for authentication by certificate and rate limits.
    contextValues: limiter || config.tls?.caFile ? peerValues : undefined,
    routes: routes?.({ ops, log, shutdown: shutdown.signal, auth, limiter, trace: traced?.route, observe }),
    tls,
    // The spans of the last calls are sent before the process goes.
    closed: async () => tracing?.shutdown(),
  });
}

/** What the operations report: watch streams and cut-offs, whole-map reads. */
function operationHooks(metrics: Metrics, log: Logger): OperationHooks {
  return {
    watchOpened: (protocol) => {
      metrics.watchStreams.inc({ protocol });
      return () => metrics.watchStreams.dec({ protocol });
    },
    mapRead: (cached) => metrics.mapReads.inc({ cached: String(cached) }),
    watchCutOff: (ref, protocol) => {
      metrics.watchCutOffs.inc({ protocol });
      log.info({ sessionId: ref.sessionId, scope: ref.scope, protocol }, "watch cut off: its reader fell too far behind (WATCH_BACKLOG)");
    },
  };
}
