// The SQLite schema, versioned with PRAGMA user_version. Each migration takes
// the database from version i to i + 1 inside one transaction; a database
// newer than this code is refused rather than guessed at.
import type { Database } from "better-sqlite3";

const MIGRATIONS: string[] = [
  // 1: sessions with tombstones; one row per tuple; one row per top-level key
  // (a write touches only the keys it changes); history and remembered
  // request ids per tuple. The default tuple's id is '' (no session id is empty).
  `
  CREATE TABLE sessions (
    session_id   TEXT PRIMARY KEY,
    cwd          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    system_owned INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('active', 'deleted')),
    deleted_at   INTEGER
  ) WITHOUT ROWID;
  CREATE TABLE tuples (
    tuple              TEXT PRIMARY KEY,
    model              TEXT,
    approval_policy    TEXT NOT NULL,
    network_access     TEXT NOT NULL,
    filesystem_sandbox TEXT NOT NULL,
    revision           INTEGER NOT NULL,
    key_count          INTEGER NOT NULL,
    bytes              INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    request_seq        INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE settings (
    tuple TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tuple, key)
  ) WITHOUT ROWID;
  CREATE TABLE history (
    tuple         TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    op            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    claimed_actor TEXT,
    source        TEXT NOT NULL,
    time          INTEGER NOT NULL,
    path          TEXT,
    changes       TEXT NOT NULL,
    PRIMARY KEY (tuple, revision)
  ) WITHOUT ROWID;
  CREATE TABLE requests (
    tuple       TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    PRIMARY KEY (tuple, request_id)
  ) WITHOUT ROWID;
  CREATE INDEX requests_by_seq ON requests (tuple, seq);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema to SCHEMA_VERSION; answers the version found before. */
export function migrate(db: Database, file: string): number {
  const found = db.pragma("user_version", { simple: true }) as number;
  if (found > SCHEMA_VERSION) {
    throw new Error(`${file} has schema version ${found}, newer than this server's ${SCHEMA_VERSION}; run a newer server`);
  }
  for (let version = found; version < SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  return found;
}
