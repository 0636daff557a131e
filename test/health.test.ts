// gRPC health checking (grpc.health.v1.Health) on the one port: asked with
// @grpc/grpc-js (as probes and proxies do), connect-node over gRPC, Connect
// and gRPC-Web, and `buf curl` through reflection. It is SERVING exactly when
// GET /readyz answers 200: with Redis stopped both say no, and both say yes
// again once it is back; a server shutting down says NOT_SERVING first.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { grpcHealth, Status, type GrpcHealth } from "./support/grpc-health.js";
import { expectFailure } from "./support/errors.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { makeTransport, startTestServer, TRANSPORTS, type TestServer } from "./support/server.js";
import { until } from "./support/until.js";

const run = promisify(execFile);
const SERVICES = ["", "codexmanager.settings.v1.SettingsService", "codexmanager.settings.v1.SessionService", "codexmanager.settings.v1.ChangesService"];
const address = (server: TestServer) => new URL(server.url).host;
const readyz = async (server: TestServer) => (await fetch(`${server.url}/readyz`)).status;

describe("grpc.health.v1.Health on the one port", () => {
  let server: TestServer;
  let grpcJs: GrpcHealth;
  const token = `token-${randomUUID()}`;
  beforeAll(async () => {
    // Authentication on: probes carry no token, and health stays open as /readyz does.
    const tokens = join(mkdtempSync(join(tmpdir(), "cm-health-")), "tokens.json");
    writeFileSync(tokens, JSON.stringify({ [token]: { actor: "a", role: "read" } }));
    server = await startTestServer({ backend: "sqlite", env: { AUTH_TOKENS_FILE: tokens } });
    grpcJs = grpcHealth(address(server));
  });
  afterAll(async () => {
    grpcJs?.close();
    await server?.close();
  });

  it("answers SERVING for the server and each of its services, through grpc-js, without a token", async () => {
    for (const service of SERVICES) expect(await grpcJs.check(service), service).toBe(Status.SERVING);
    const unknown = await grpcJs.check("no.such.Service").catch((err: { code: number }) => err);
    expect((unknown as { code: number }).code).toBe(GrpcStatus.NOT_FOUND);
    const watch = grpcJs.watch("no.such.Service");
    await until(() => watch.statuses.length > 0, "SERVICE_UNKNOWN");
    expect(watch.statuses).toEqual([Status.SERVICE_UNKNOWN]);
    watch.cancel();
  });

  it("answers over every transport of the port (gRPC, Connect JSON and binary, gRPC-Web)", async () => {
    for (const transport of TRANSPORTS) {
      const health: Client<typeof Health> = createClient(Health, makeTransport(server.url, transport));
      expect((await health.check({ service: "" })).status, transport).toBe(Status.SERVING);
      await expectFailure(health.check({ service: "nope" }), Code.NotFound);
      const first = health.watch({ service: SERVICES[1]! })[Symbol.asyncIterator]();
      expect((await first.next()).value?.status, transport).toBe(Status.SERVING);
      await first.return?.();
    }
  });

  it("answers buf curl, which finds it by reflection", async () => {
    // Reflection needs the token (it is an API like any other); the health check itself does not.
    const reflect = ["--reflect-header", `authorization: Bearer ${token}`];
    const { stdout: services } = await run("npx", ["buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge", ...reflect, "--list-services", server.url]);
    expect(services.split("\n")).toContain("grpc.health.v1.Health");
    const { stdout } = await run("npx", [
      "buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge", ...reflect, "-d", "{}", `${server.url}/grpc.health.v1.Health/Check`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  }, 60_000);

  it("says NOT_SERVING to its watchers when the server shuts down, then ends their streams with unavailable", async () => {
    const other = await startTestServer({ backend: "memory" });
    const client = grpcHealth(address(other));
    try {
      const watch = client.watch();
      await until(() => watch.statuses.length > 0, "the first status");
      await other.close();
      const ended = await watch.ended;
      expect(watch.statuses).toEqual([Status.SERVING, Status.NOT_SERVING]);
      expect(ended.code).toBe(GrpcStatus.UNAVAILABLE);
    } finally {
      client.close();
    }
  });
});

describe("health follows the store: Redis stopped, then back", () => {
  let redis: TestRedis;
  let server: TestServer;
  beforeAll(async () => {
    // Persistence, so that Redis comes back with the dataset this server knows.
    redis = await startRedis({ persist: true });
    server = await startTestServer({ backend: "redis", redisUrl: redis.url, env: { STORE_TIMEOUT_MS: "500" } });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  it("flips to NOT_SERVING with /readyz when Redis stops, and back to SERVING when it returns; Watch pushes each change", async () => {
    const client = grpcHealth(address(server));
    try {
      const watch = client.watch();
      await until(() => watch.statuses.length > 0, "the first status");
      expect(watch.statuses).toEqual([Status.SERVING]);
      expect(await client.check()).toBe(Status.SERVING);
      expect(await readyz(server)).toBe(200);

      await redis.stop(true);
      await until(() => watch.statuses.at(-1) === Status.NOT_SERVING, "the watch to hear NOT_SERVING");
      expect(await client.check()).toBe(Status.NOT_SERVING);
      expect(await readyz(server)).toBe(503);

      await redis.start();
      await until(() => watch.statuses.at(-1) === Status.SERVING, "the watch to hear SERVING again", 30_000);
      expect(await client.check()).toBe(Status.SERVING);
      expect(await readyz(server)).toBe(200);
      // One message per change, none repeated.
      expect(watch.statuses).toEqual([Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
      watch.cancel();
    } finally {
      client.close();
    }
  }, 60_000);
});
