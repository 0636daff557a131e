// Entry point: configuration, store, one-port server, graceful SIGTERM.
import { Authenticator } from "./auth.js";
import { ConfigError, loadConfig, usesRedis } from "./config.js";
import { createLogger } from "./observe/log.js";
import { openStore } from "./store/open-store.js";
import { startServer } from "./app.js";
import { PROTOCOLS } from "./transport/server.js";
import { restRoutes } from "./transport/rest/routes.js";

async function main(): Promise<void> {
  let config;
  let auth;
  try {
    config = loadConfig();
    auth = config.authTokensFile ? Authenticator.fromFile(config.authTokensFile) : undefined;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  let store;
  try {
    store = await openStore(config, log);
  } catch (err) {
    process.stderr.write(`cannot open the ${usesRedis(config) ? "Redis" : "embedded"} store: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const server = await startServer({ config, store, log, auth, routes: restRoutes });
  log.info(
    {
      store: store.kind,
      data: store.location,
      address: server.url,
      protocols: [...PROTOCOLS, "rest (/api)"],
      defaultsLocked: config.defaultsLocked,
      auth: auth ? "bearer tokens" : "off",
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
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
