// Picks the store from configuration: Redis or Redis Cluster when configured,
// else the embedded store.
import type { Config } from "../config.js";
import { MemoryStore } from "./memory/memory-store.js";
import { RedisStore } from "./redis/redis-store.js";
import type { Store } from "./store.js";

export async function openStore(config: Config): Promise<Store> {
  if (config.redisUrl || config.redisClusterNodes) return RedisStore.connect(config);
  return new MemoryStore(config);
}
