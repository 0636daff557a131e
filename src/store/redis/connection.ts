// The ioredis client for a single Redis, a Redis Cluster or a Sentinel-
// managed primary, configured once: fail fast while Redis is away (nothing
// is queued for replay behind a caller's back), reconnect in the background,
// and follow a failover by itself.
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Config } from "../../config.js";
import { markLostAfterSend } from "./call-budget.js";
import { coalesceWrites, writeCommandsAsBytes } from "./command-writes.js";

export type RedisConnectionConfig = Pick<
  Config,
  "redisUrl" | "redisClusterNodes" | "redisSentinels" | "redisSentinelName" | "storeTimeoutMs"
>;

export function createRedisClient(config: RedisConnectionConfig): Redis | Cluster {
  writeCommandsAsBytes();
  const options: RedisOptions = {
    lazyConnect: true,
    connectTimeout: config.storeTimeoutMs,
    // The store bounds each operation itself (./call-budget.ts), all its commands together.
    commandTimeout: undefined,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // No auto-pipelining on one Redis: ioredis sends one pipeline at a time and holds the next
    // tick's commands until it answers, so every call waited a round trip more, holding all it
    // had allocated. Under 16 writers 7.5 % of a write's bytes outlived a scavenge with it and
    // 2.6 % without (node --trace-gc-nvp), for the same server CPU per call; Redis reads more
    // packets instead.
    enableAutoPipelining: false,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
    // A primary demoted by a failover answers READONLY: reconnect, and Sentinel names the new one.
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
  };
  if (config.redisClusterNodes) {
    const cluster = new Cluster(config.redisClusterNodes, {
      lazyConnect: true,
      redisOptions: options,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      // While a master is failed over, a command for its slots fails at once
      // (./call-budget.ts says what it means) instead of being re-sent by ioredis
      // on a timer of its own, after the caller was answered. Redirections
      // (MOVED, ASK: the command did not run) are still followed at once.
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
    });
    cluster.on("+node", (node: Redis) => {
      markLostAfterSend(node);
      coalesceWrites(node);
    });
    return cluster;
  }
  const client = config.redisSentinels
    ? new Redis({ ...options, sentinels: config.redisSentinels, name: config.redisSentinelName, failoverDetector: true })
    : new Redis(config.redisUrl!, options);
  markLostAfterSend(client);
  coalesceWrites(client);
  keepConnecting(client);
  return client;
}

/** Clients being closed by quit(): the only end that is meant. */
const closing = new WeakSet<Redis | Cluster>();
const RESTART_AFTER_MS = 100;

/**
 * ioredis ends a client for good (status "end", no more reconnects) when a
 * reconnect fails in some ways: a Sentinel failover notice that arrives while
 * it asks a sentinel for the primary is one (test/sentinel-reconnect.test.ts).
 * The store would then refuse every call until a restart; once the client has
 * been up, it is started again (a first connection that fails fails start-up).
 */
function keepConnecting(client: Redis): void {
  client.once("ready", () =>
    client.on("end", () => {
      if (closing.has(client)) return;
      setTimeout(() => {
        if (!closing.has(client) && client.status === "end") client.connect().catch(() => {});
      }, RESTART_AFTER_MS);
    }),
  );
}

/** Where the data lives, without credentials, for the start-up log. */
export function describeRedis(config: RedisConnectionConfig): string {
  const list = (nodes: { host: string; port: number }[]) => nodes.map((n) => `${n.host}:${n.port}`).join(",");
  if (config.redisClusterNodes) return list(config.redisClusterNodes);
  if (config.redisSentinels) return `sentinel ${config.redisSentinelName} via ${list(config.redisSentinels)}`;
  const url = new URL(config.redisUrl!);
  return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
}

/** Says goodbye politely (QUIT), but never waits more than `withinMs` on a Redis that does not answer. */
export async function quit(client: Redis | Cluster, withinMs: number): Promise<void> {
  closing.add(client);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.quit().catch(() => {}), new Promise((r) => (timer = setTimeout(r, withinMs)))]);
  clearTimeout(timer);
  client.disconnect();
}
