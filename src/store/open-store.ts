// Picks the store from configuration: Redis or Redis Cluster when configured,
// else the embedded SQLite store under DATA_DIR (or memory for ":memory:").
import { usesRedis, type Config } from "../config.js";
import { applyBatch, seedDefaults } from "./local/apply-batch.js";
import { LocalStore } from "./local/local-store.js";
import { LocalSchemas } from "./local/schema-ops.js";
import { MemoryBackend } from "./memory/memory-backend.js";
import { RedisStore } from "./redis/redis-store.js";
import { SqliteBackend } from "./sqlite/sqlite-backend.js";
import { SqliteWriter } from "./sqlite/sqlite-writer.js";
import { prepareStoreFile } from "./sqlite/store-file.js";
import type { Store } from "./store.js";
import type { Logger } from "../observe/log.js";

export const MEMORY_DATA_DIR = ":memory:";

type LocalConfig = Pick<Config, "dataDir" | "sqliteSynchronous" | "seedDefaults" | "historyLimit" | "limits" | "requestIdLimit" | "feedLimit">;

/** `log` hears what an operator should know of the store's health (Redis connection lost, restored, refusing). */
export async function openStore(config: Config, log?: Logger): Promise<Store> {
  if (usesRedis(config)) return RedisStore.connect(config, { log });
  return config.dataDir === MEMORY_DATA_DIR ? openMemoryStore(config) : openSqliteStore(config, log);
}

/** Everything in plain maps; a batch is applied inline, as the SQLite writer thread would. */
export function openMemoryStore(config: LocalConfig, now?: () => Date): LocalStore {
  const backend = new MemoryBackend();
  seedDefaults(backend, config, now?.() ?? new Date());
  const schemas = new LocalSchemas();
  return new LocalStore({
    reader: backend,
    committer: { commit: async (batch) => applyBatch(backend, batch, config, schemas) },
    release: async () => backend.close(),
    now,
  });
}

/** The durable default: a writer thread that group-commits, and a read-only connection on this thread. */
export async function openSqliteStore(config: LocalConfig, log?: Logger, now?: () => Date): Promise<LocalStore> {
  const { file, lock } = prepareStoreFile(config.dataDir);
  let writer: SqliteWriter | undefined;
  try {
    writer = await SqliteWriter.start({ file, synchronous: config.sqliteSynchronous, config: writerConfig(config) });
    const reader = new SqliteBackend({ file, role: "reader" });
    const w = writer;
    return new LocalStore({
      reader,
      committer: w,
      writerFailure: () => w.failure,
      release: async () => {
        await w.close();
        reader.close();
        lock.release();
      },
      log,
      now,
    });
  } catch (err) {
    await writer?.close();
    lock.release();
    throw err;
  }
}

/** Only what the writer thread needs, as plain data (it crosses to the thread by structured clone). */
function writerConfig(config: LocalConfig) {
  const { seedDefaults, historyLimit, limits, requestIdLimit, feedLimit } = config;
  return { seedDefaults, historyLimit, limits, requestIdLimit, feedLimit };
}
