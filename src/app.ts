// The application: the store timed for metrics, the operations over it, the
// services and interceptors every RPC path shares, and the REST routes,
// handed to the one-port HTTP surface (transport/server.ts).
import { setMaxListeners } from "node:events";
import type { DescService } from "@bufbuild/protobuf";
import { ChangesService } from "../gen/codexmanager/settings/v1/changes_pb.js";
import { SessionService } from "../gen/codexmanager/settings/v1/session_pb.js";
import { SettingsService } from "../gen/codexmanager/settings/v1/settings_pb.js";
import type { Authenticator } from "./auth.js";
import type { Config } from "./config.js";
import { callObserver } from "./observe/calls.js";
import type { Logger } from "./observe/log.js";
import { createMetrics, type Metrics } from "./observe/metrics.js";
import { changesService } from "./service/changes-service.js";
import { sessionService, settingsService } from "./service/connect-services.js";
import { createOperations, type OperationHooks } from "./service/operations.js";
import { instrumentStore } from "./store/instrumented-store.js";
import type { Store } from "./store/store.js";
import { authInterceptor, callInterceptor } from "./transport/interceptors.js";
import { serveOnePort, type RouteContext, type RouteHandler, type RunningServer } from "./transport/server.js";

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
  const store = instrumentStore(bareStore, metrics.storeSeconds);
  bareStore.observe?.({ batch: (writes) => metrics.batchWrites.observe(writes) });
  const observe = callObserver(log, metrics);
  const ops = createOperations(store, config, operationHooks(metrics, log));
  const shutdown = new AbortController();
  // Every call in flight and every open stream listens for shutdown.
  setMaxListeners(0, shutdown.signal);
  return serveOnePort({
    config,
    log,
    store,
    metrics,
    shutdown,
    // One implementation and one set of interceptors, served by the fast path and by connect-node.
    services: [
      [SettingsService, settingsService(ops)],
      [SessionService, sessionService(ops)],
      [ChangesService, changesService(ops)],
      ...(extraServices ?? []),
    ],
    interceptors: auth ? [callInterceptor(log, observe), authInterceptor(auth)] : [callInterceptor(log, observe)],
    routes: routes?.({ ops, log, shutdown: shutdown.signal, auth, observe }),
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
