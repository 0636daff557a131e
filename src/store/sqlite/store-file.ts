// Finds (or makes) the store's file, $DATA_DIR/settings.db, before anything
// opens it, and says plainly what is wrong when it cannot be used: the
// directory cannot be made or written (a read-only mount, permissions), the
// file is a directory, or it is empty. A new store is built under a temporary
// name and renamed into place, so a crash while creating it never leaves an
// empty settings.db behind; an empty one is therefore never ours.
import Database from "better-sqlite3";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, accessSync, constants } from "node:fs";
import { join, resolve } from "node:path";
import { lockDataDir, type DataDirLock } from "./data-dir-lock.js";
import { migrate } from "./schema.js";

export const STORE_FILE = "settings.db";

export interface StoreFile {
  file: string;
  lock: DataDirLock;
}

/** Checks and locks DATA_DIR and makes sure its store file exists; throws a message naming the path and the cause. */
export function prepareStoreFile(dataDir: string): StoreFile {
  const dir = resolve(dataDir);
  attempt(() => mkdirSync(dir, { recursive: true }), `cannot create DATA_DIR ${dir}`);
  const file = join(dir, STORE_FILE);
  const stat = statOf(file);
  if (stat?.isDirectory()) throw new Error(`${file} is a directory, not a settings store file`);
  attempt(() => accessSync(dir, constants.W_OK), `DATA_DIR ${dir} is not writable`);
  if (stat) attempt(() => accessSync(file, constants.R_OK | constants.W_OK), `${file} cannot be read and written`);
  if (stat?.size === 0) {
    throw new Error(`${file} is empty: it is not a settings store (this server never leaves one empty); move it away to start a new store`);
  }
  const lock = attempt(() => lockDataDir(dir), `cannot lock DATA_DIR ${dir}`);
  try {
    if (!stat) createStore(dir, file);
  } catch (err) {
    lock.release();
    throw err;
  }
  return { file, lock };
}

function createStore(dir: string, file: string): void {
  const fresh = `${file}.new`;
  for (const leftover of [fresh, `${fresh}-wal`, `${fresh}-shm`]) rmSync(leftover, { force: true });
  attempt(() => {
    const db = new Database(fresh);
    try {
      db.pragma("journal_mode = WAL");
      migrate(db, file);
    } finally {
      db.close();
    }
    renameSync(fresh, file);
    // The rename is durable only once the directory is synced.
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }, `cannot create ${file}`);
}

function statOf(file: string) {
  try {
    return statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read ${file}: ${describe(err)}`);
  }
}

/** Runs `fn`, turning a system error into "<what>: <cause>". */
function attempt<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (err) {
    const message = describe(err);
    throw new Error(message.includes(what) ? message : `${what}: ${message}`);
  }
}

const CAUSES: Record<string, string> = {
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on device",
  EISDIR: "is a directory",
  ENOTDIR: "a part of the path is not a directory",
};

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return (e.code && CAUSES[e.code]) ?? e.message;
}
