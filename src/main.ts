// Entry point: configuration, store, one-port server, graceful SIGTERM.
import { Authenticator } from "./auth.js";
import { ConfigError, loadConfig, usesRedis } from "./config.js";
import { createLogger } from "./observe/log.js";
import { openStore } from "./store/open-store.js";
import { startServer, type RunningServer } from "./app.js";
import { PROTOCOLS, TLS_PROTOCOLS } from "./transport/server.js";
import { restRoutes } from "./transport/rest/routes.js";

/** A bad value stops start-up naming the variable, with exit code 2. */
function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`configuration error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

async function main(): Promise<void> {
  let config;
  let auth;
  try {
    config = loadConfig();
    auth = config.authTokensFile ? Authenticator.fromFile(config.authTokensFile, { clientCertificates: config.tls?.caFile !== undefined }) : undefined;
  } catch (err) {
    exitOnConfigError(err);
  }
  const log = createLogger(config.logLevel);
  let store;
  try {
    store = await openStore(config, log);
  } catch (err) {
    process.stderr.write(`cannot open the ${usesRedis(config) ? "Redis" : "embedded"} store: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let server: RunningServer;
  try {
    server = await startServer({ config, store, log, auth, routes: restRoutes });
  } catch (err) {
    await store.close();
    exitOnConfigError(err); // a TLS file that cannot be read
  }
  log.info(
    {
      store: store.kind,
      data: store.location,
      address: server.url,
      protocols: [...(config.tls ? TLS_PROTOCOLS : PROTOCOLS), "rest (/api)"],
      tls: config.tls ? (config.tls.caFile ? `client certificates ${config.tls.clientAuth === "require" ? "required" : "optional"}` : "on") : "off",
      defaultsLocked: config.defaultsLocked,
      auth: auth ? "bearer tokens" : "off",
      rateLimits: config.rateLimits.writes || config.rateLimits.watches || auth?.limitsActors ? "on" : "off",
    },
    "listening",
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    await server.close();
    await store.close();
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  // New certificate files for new connections, without a restart (they are also picked up when they change).
  if (config.tls) process.on("SIGHUP", () => server.reloadTls());
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
