// The SQLite store's statements and the mapping between its rows and domain
// objects (the schema itself is ./schema.ts).
import type { Change, ChangeKind, FeedChange, HistoryEntry, Scope } from "../../domain/types.js";
import type { StoredSession } from "../local/backend.js";
import type { SchemaHistoryEntry, SchemaRecord } from "../store.js";

export interface SessionRow {
  session_id: string;
  cwd: string;
  created_at: number;
  system_owned: number;
  state: "active" | "deleted";
  deleted_at: number | null;
}

export interface TupleDbRow {
  model: string | null;
  approval_policy: string;
  network_access: string;
  filesystem_sandbox: string;
  revision: number;
  key_count: number;
  bytes: number;
  updated_at: number;
  request_seq: number;
}

export interface HistoryRow {
  revision: number;
  op: string;
  actor: string;
  claimed_actor: string | null;
  source: string;
  time: number;
  path: string | null;
  changes: string;
}

export const SQL = {
  session: "SELECT * FROM sessions WHERE session_id = ?",
  putSession: `INSERT INTO sessions (session_id, cwd, created_at, system_owned, state, deleted_at)
    VALUES (@session_id, @cwd, @created_at, @system_owned, @state, @deleted_at)
    ON CONFLICT (session_id) DO UPDATE SET state = excluded.state, deleted_at = excluded.deleted_at`,
  activeSessions: `SELECT * FROM sessions WHERE state = 'active' AND system_owned = 0 AND session_id > ?
    ORDER BY session_id LIMIT ?`,
  tuple: "SELECT * FROM tuples WHERE tuple = ?",
  putTuple: `INSERT OR REPLACE INTO tuples
    (tuple, model, approval_policy, network_access, filesystem_sandbox, revision, key_count, bytes, updated_at, request_seq)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  dropTuple: "DELETE FROM tuples WHERE tuple = ?",
  dropSettings: "DELETE FROM settings WHERE tuple = ?",
  dropHistory: "DELETE FROM history WHERE tuple = ?",
  dropRequests: "DELETE FROM requests WHERE tuple = ?",
  setting: "SELECT value FROM settings WHERE tuple = ? AND key = ?",
  settingKeys: "SELECT key FROM settings WHERE tuple = ?",
  settings: "SELECT key, value FROM settings WHERE tuple = ?",
  putSetting: "INSERT OR REPLACE INTO settings (tuple, key, value) VALUES (?, ?, ?)",
  deleteSetting: "DELETE FROM settings WHERE tuple = ? AND key = ?",
  copySettings: "INSERT INTO settings (tuple, key, value) SELECT ?, key, value FROM settings WHERE tuple = ?",
  appendHistory: `INSERT INTO history (tuple, revision, op, actor, claimed_actor, source, time, path, changes)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  trimHistory: "DELETE FROM history WHERE tuple = ? AND revision <= ?",
  historyBefore: "SELECT * FROM history WHERE tuple = ? AND revision < ? ORDER BY revision DESC LIMIT ?",
  historyAfter: "SELECT * FROM history WHERE tuple = ? AND revision > ? ORDER BY revision",
  oldestRevision: "SELECT min(revision) FROM history WHERE tuple = ?",
  recall: "SELECT fingerprint, outcome FROM requests WHERE tuple = ? AND request_id = ?",
  remember: "INSERT INTO requests (tuple, request_id, seq, fingerprint, outcome) VALUES (?, ?, ?, ?, ?)",
  forgetRequests: "DELETE FROM requests WHERE tuple = ? AND seq <= ?",
  appendFeed: `INSERT INTO feed (session_id, scope, revision, kind, op, actor, claimed_actor, source, time, path, changes)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  trimFeed: "DELETE FROM feed WHERE seq <= ?",
  feedAfter: "SELECT * FROM feed WHERE seq > ? ORDER BY seq LIMIT ?",
  oldestFeed: "SELECT min(seq) FROM feed",
  newestFeed: "SELECT seq FROM sqlite_sequence WHERE name = 'feed'",
  schema: "SELECT * FROM schemas WHERE key = ?",
  schemas: "SELECT * FROM schemas ORDER BY key",
  putSchema: "INSERT OR REPLACE INTO schemas (key, revision, schema, time, actor, source) VALUES (?, ?, ?, ?, ?, ?)",
  dropSchema: "DELETE FROM schemas WHERE key = ?",
  schemaRevision: "SELECT seq FROM sqlite_sequence WHERE name = 'schema_history'",
  appendSchemaHistory: `INSERT INTO schema_history (key, op, schema, actor, claimed_actor, source, time, forced, violations)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  trimSchemaHistory: "DELETE FROM schema_history WHERE revision <= ?",
  schemaHistory: "SELECT * FROM schema_history WHERE key = ? ORDER BY revision DESC LIMIT ?",
  valuesOf: "SELECT tuple, value FROM settings WHERE key = ? ORDER BY tuple",
  ping: "SELECT 1",
  begin: "BEGIN IMMEDIATE",
  commit: "COMMIT",
} as const;

export interface FeedRow extends HistoryRow {
  seq: number;
  session_id: string;
  scope: Scope;
  kind: ChangeKind;
}

export function toSession(row: SessionRow): StoredSession {
  const s: StoredSession = {
    sessionId: row.session_id,
    cwd: row.cwd,
    createdAt: new Date(row.created_at),
    systemOwned: row.system_owned === 1,
    state: row.state,
  };
  if (row.deleted_at !== null) s.deletedAt = new Date(row.deleted_at);
  return s;
}

export function toEntry(row: HistoryRow, scope: Scope): HistoryEntry {
  const entry: HistoryEntry = {
    revision: BigInt(row.revision),
    scope,
    op: row.op as HistoryEntry["op"],
    actor: row.actor,
    source: row.source,
    time: new Date(row.time),
    changes: JSON.parse(row.changes) as Change[],
  };
  if (row.claimed_actor !== null) entry.claimedActor = row.claimed_actor;
  if (row.path !== null) entry.path = JSON.parse(row.path) as HistoryEntry["path"];
  return entry;
}

/** The columns an entry is stored in, after its revision (history) or its feed facts (feed). */
export function entryColumns(e: HistoryEntry): [string, string, string | null, string, number, string | null, string] {
  return [e.op, e.actor, e.claimedActor ?? null, e.source, e.time.getTime(), e.path ? JSON.stringify(e.path) : null, JSON.stringify(e.changes)];
}

export function toFeedChange(row: FeedRow): FeedChange {
  return {
    position: { shard: "", seq: BigInt(row.seq) },
    sessionId: row.session_id,
    scope: row.scope,
    revision: BigInt(row.revision),
    kind: row.kind,
    entry: toEntry(row, row.scope),
  };
}

export interface SchemaRow {
  key: string;
  revision: number;
  schema: string;
  time: number;
  actor: string;
  source: string;
}

export interface SchemaHistoryRow {
  revision: number;
  key: string;
  op: "put" | "delete";
  actor: string;
  claimed_actor: string | null;
  source: string;
  time: number;
  forced: number;
  violations: number;
}

export function toSchemaRecord(r: SchemaRow): SchemaRecord {
  return { key: r.key, revision: BigInt(r.revision), text: r.schema, time: new Date(r.time), actor: r.actor, source: r.source };
}

export function toSchemaHistory(r: SchemaHistoryRow): SchemaHistoryEntry {
  const entry: SchemaHistoryEntry = {
    revision: BigInt(r.revision), key: r.key, op: r.op, actor: r.actor, source: r.source,
    time: new Date(r.time), forced: r.forced === 1, violations: r.violations,
  };
  if (r.claimed_actor !== null) entry.claimedActor = r.claimed_actor;
  return entry;
}
