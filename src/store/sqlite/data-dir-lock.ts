// One server process per DATA_DIR. Two processes writing one database would
// each publish events only to their own watchers, so a second one is refused
// at start. The lock is an exclusive SQLite transaction held open on a small
// side file: the operating system releases it when the process dies, even by
// SIGKILL, so a crash never leaves a stale lock behind. The database itself
// stays in normal locking mode, so `sqlite3 settings.db .backup` still works.
import Database from "better-sqlite3";
import { join } from "node:path";

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dir: string): DataDirLock {
  const file = join(dir, "settings.lock");
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === "SQLITE_BUSY") {
      throw new Error(`DATA_DIR ${dir} is in use by another server process; stop it or choose another DATA_DIR`);
    }
    throw err;
  }
  return { release: () => db.close() };
}
