// The SQLite schema, versioned with PRAGMA user_version and marked as ours
// with PRAGMA application_id. Each migration takes the database from version
// i to i + 1 inside one transaction; a database newer than this code, or one
// that is not ours, is refused rather than guessed at.
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
  // 2: the store-wide change feed, one row per committed change (sessions
  // created and deleted, settings and controls of every scope). AUTOINCREMENT:
  // a position is never reused, even after the oldest rows are trimmed.
  `
  CREATE TABLE feed (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id    TEXT NOT NULL,
    scope         TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    op            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    claimed_actor TEXT,
    source        TEXT NOT NULL,
    time          INTEGER NOT NULL,
    path          TEXT,
    changes       TEXT NOT NULL
  );
  `,
  // 3: typed settings (issue 24): at most one JSON Schema per top-level key,
  // in the same database as the values it governs, so that a write is checked
  // inside its transaction against the schema committed beside it. Revisions
  // count schema changes store-wide (AUTOINCREMENT: never reused, even after
  // the oldest history is trimmed).
  `
  CREATE TABLE schemas (
    key        TEXT PRIMARY KEY,
    revision   INTEGER NOT NULL,
    schema     TEXT NOT NULL,
    time       INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    source     TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE schema_history (
    revision      INTEGER PRIMARY KEY AUTOINCREMENT,
    key           TEXT NOT NULL,
    op            TEXT NOT NULL CHECK (op IN ('put', 'delete')),
    schema        TEXT,
    actor         TEXT NOT NULL,
    claimed_actor TEXT,
    source        TEXT NOT NULL,
    time          INTEGER NOT NULL,
    forced        INTEGER NOT NULL,
    violations    INTEGER NOT NULL
  );
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Stamped in the file header (PRAGMA application_id): "CMSS", a settings store of this service. */
export const APPLICATION_ID = 0x434d5353;
const OUR_TABLES = ["history", "requests", "sessions", "settings", "tuples"];

/**
 * Brings the schema to SCHEMA_VERSION; answers the version found before. A
 * file newer than this code is refused rather than guessed at. Call
 * assertOurs first, before anything (even the journal mode) changes the file.
 */
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
  if ((db.pragma("application_id", { simple: true }) as number) !== APPLICATION_ID) db.pragma(`application_id = ${APPLICATION_ID}`);
  return found;
}

/** Refuses a file that is not a settings store: another application's id or tables. */
export function assertOurs(db: Database, file: string): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  const id = db.pragma("application_id", { simple: true }) as number;
  const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[]);
  if (id !== 0 && id !== APPLICATION_ID) {
    throw new Error(`${file} belongs to another application (application_id ${id}), not a settings store; give DATA_DIR a directory of its own`);
  }
  if (id === APPLICATION_ID) return;
  // No id: a new, empty file, or one written before the id was stamped (schema 1, our tables).
  if (version === 0 && tables.length === 0) return;
  if (version >= 1 && OUR_TABLES.every((t) => tables.includes(t))) return;
  throw new Error(
    `${file} is not a settings store (schema version ${version}, tables: ${tables.join(", ") || "none"}); give DATA_DIR a directory of its own`,
  );
}
