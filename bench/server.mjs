// The service as the benchmark runs it: compiled code from dist/ (npm run
// build), in a process of its own, so that its CPU (/proc/<pid>/stat) is the
// server's alone. Configuration comes from the environment exactly as in
// production (REDIS_URL, DATA_DIR, ...). Only here is BenchService served:
// the production entry point (src/main.ts) never registers it.
//   taskset -c 0 node --expose-gc bench/server.mjs    (env: PORT=0, REDIS_URL=... | DATA_DIR=...)
import { create } from "@bufbuild/protobuf";
import { BenchService, NoopResponseSchema } from "../dist/gen/codexmanager/bench/v1/bench_pb.js";
import { loadConfig } from "../dist/src/config.js";
import { createLogger } from "../dist/src/observe/log.js";
import { openStore } from "../dist/src/store/open-store.js";
import { restRoutes } from "../dist/src/transport/rest/routes.js";
import { startServer } from "../dist/src/app.js";
import { announce } from "./child.mjs";

const config = loadConfig(process.env);
const store = await openStore(config);
const server = await startServer({
  config,
  store,
  log: createLogger(config.logLevel),
  routes: restRoutes,
  // The same no-op the anchors answer: an empty message, created per call.
  extraServices: [[BenchService, { async noop() { return create(NoopResponseSchema); } }]],
});
announce(`service-${store.kind}`, server.port, async () => {
  await server.close();
  await store.close();
});
