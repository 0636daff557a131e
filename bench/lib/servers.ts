// The servers a run measures, and the Redis beside them. Each server is a
// process of its own pinned to core 0: the service (bench/server.mjs, on Redis
// or on SQLite), the two no-op anchors, and etcd (etcd.ts). Redis runs on
// core 1. The registry here is what the scenarios look servers up in.
import { mkdirSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { GetSettingsResponseSchema } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { callCounts, GrpcConnection, until } from "./clients.js";
import { getFrame, PATHS } from "./messages.js";
import { freePort, start, stop, type Proc } from "./procs.js";

/** redis-otel-*: the service on Redis with tracing on, sampling nothing or everything, and their untraced twin (scenarios/tracing.ts). */
export type ServerId = "bare" | "grpcjs" | "redis" | "sqlite" | "etcd" | "redis-otel-off" | "redis-otel-on" | "redis-otel-twin";

export interface Server {
  id: ServerId;
  proc: Proc;
  url: string;
  grpc: GrpcConnection;
  /** Calls answered by "protocol/procedure/code", from the server's own counters (the anchors have none). */
  counts?: () => Promise<Map<string, number>>;
  /** A revision that moves once per change: the sum over the sessions written (the service), the store's (etcd). */
  revision?: (sessions: string[]) => Promise<bigint>;
}

export const ROOT = join(import.meta.dirname, "..", "..");
/** The key prefix of the service on Redis. */
export const PREFIX = "bench:";

export const servers = new Map<ServerId, Server>();
/** The run's temp directory (SQLite's DATA_DIR, etcd's data dir, load files); set by the driver. */
export const work = { dir: "" };
let redis: { proc: Proc; url: string } | undefined;

export function redisProc(): Proc {
  if (!redis) throw new Error("redis-server is not running");
  return redis.proc;
}

export function redisUrl(): string {
  if (!redis) throw new Error("redis-server is not running");
  return redis.url;
}

type NodeServerId = Exclude<ServerId, "etcd">;

const SCRIPTS: Record<NodeServerId, string> = {
  bare: "bench/anchors/bare-http2.mjs",
  grpcjs: "bench/anchors/grpc-js.mjs",
  redis: "bench/server.mjs",
  sqlite: "bench/server.mjs",
  "redis-otel-off": "bench/server.mjs",
  "redis-otel-on": "bench/server.mjs",
  "redis-otel-twin": "bench/server.mjs",
};

function serverEnv(id: NodeServerId): Record<string, string> {
  const base = { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "warn" };
  if (id === "redis" || id.startsWith("redis-otel")) return { ...base, REDIS_URL: redisUrl(), REDIS_PREFIX: PREFIX };
  if (id === "sqlite") return { ...base, DATA_DIR: join(work.dir, "sqlite") };
  return base;
}

async function revisionOf(grpc: GrpcConnection, sessionId: string): Promise<bigint> {
  const a = await grpc.ok(PATHS.get, getFrame(sessionId, "k"));
  return fromBinary(GetSettingsResponseSchema, a.message).revision;
}

/** The environment each server was first started with, beyond its own: a restart (--profile) keeps it. */
const startedWith = new Map<NodeServerId, Record<string, string>>();

/** A Node server: the service (on Redis or SQLite) or an anchor; `nodeArgs` e.g. --cpu-prof; `env` added to its own. */
export async function startServer(id: NodeServerId, nodeArgs: string[] = [], env?: Record<string, string>): Promise<Server> {
  if (env) startedWith.set(id, env);
  const proc = await start(`server-${id}`, [process.execPath, "--expose-gc", ...nodeArgs, SCRIPTS[id]], {
    core: 0,
    cwd: ROOT,
    env: { ...serverEnv(id), ...startedWith.get(id) },
    ready: true,
  });
  const url = `http://127.0.0.1:${proc.port}`;
  const grpc = new GrpcConnection(url);
  if (id === "bare" || id === "grpcjs") return { id, proc, url, grpc };
  return {
    id,
    proc,
    url,
    grpc,
    counts: () => callCounts(url),
    revision: async (sessions) => {
      let sum = 0n;
      for (const s of sessions) sum += await revisionOf(grpc, s);
      return sum;
    },
  };
}

export async function stopServer(s: Server): Promise<void> {
  s.grpc.close();
  await stop(s.proc);
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.setTimeout(500, () => s.destroy());
    s.once("error", () => resolve(false));
    s.once("close", () => resolve(false));
    s.once("connect", () => s.write("PING\r\n"));
    s.once("data", (d) => {
      resolve(d.toString().startsWith("+PONG"));
      s.destroy();
    });
  });
}

/** redis-server on a free loopback port, no persistence, core 1. */
export async function startRedis(): Promise<void> {
  const port = await freePort();
  const dir = join(work.dir, "redis");
  mkdirSync(dir);
  const proc = await start("redis", ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
    core: 1,
    stderr: "ignore",
  });
  await until("redis-server to answer PING", () => redisPing(port), 10_000);
  redis = { proc, url: `redis://127.0.0.1:${port}` };
}
