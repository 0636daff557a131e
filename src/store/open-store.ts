// Picks the store from configuration: Redis or Redis Cluster when configured,
// else the embedded SQLite store under DATA_DIR (or memory for ":memory:").
import { usesRedis, type Config } from "../config.js";
import { LocalStore } from "./local/local-store.js";
import { MemoryBackend } from "./memory/memory-backend.js";
import { RedisStore } from "./redis/redis-store.js";
import { SqliteBackend } from "./sqlite/sqlite-backend.js";
import type { Store } from "./store.js";
import type { Logger } from "../observe/log.js";

export const MEMORY_DATA_DIR = ":memory:";

/** `log` hears what an operator should know of the store's health (Redis connection lost, restored, refusing). */
export async function openStore(config: Config, log?: Logger): Promise<Store> {
  if (usesRedis(config)) return RedisStore.connect(config, { log });
  if (config.dataDir === MEMORY_DATA_DIR) return new LocalStore(new MemoryBackend(), config);
  return new LocalStore(new SqliteBackend({ dataDir: config.dataDir, synchronous: config.sqliteSynchronous }), config);
}
