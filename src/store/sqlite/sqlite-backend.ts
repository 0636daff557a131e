// One connection to the durable embedded store, $DATA_DIR/settings.db, in WAL
// mode. The writer (one, in the writer thread: ./writer-thread.ts) opens it
// with synchronous=FULL by default, so a write is on disk before it is
// acknowledged; the reader (on the main thread) opens it read-only and sees
// every committed transaction. Every statement is prepared once; a write
// touches only the rows of the keys it changes.
import Database, { type Statement } from "better-sqlite3";
import type { Outcome, Remembered, SettingWrite } from "../../domain/engine.js";
import type { FeedChange, HistoryEntry } from "../../domain/types.js";
import { DEFAULT_TUPLE, type Backend, type NewFeedChange, type NewSchemaHistory, type StoredSession, type TupleId, type TupleRow } from "../local/backend.js";
import { assertOurs, migrate } from "./schema.js";
import type { SchemaHistoryEntry, SchemaRecord } from "../store.js";
import {
  entryColumns, SQL, toEntry, toFeedChange, toSchemaHistory, toSchemaRecord, toSession,
  type FeedRow, type HistoryRow, type SchemaHistoryRow, type SchemaRow, type SessionRow, type TupleDbRow,
} from "./sqlite-rows.js";

export type SqliteSynchronous = "FULL" | "NORMAL";

type Statements = { [K in keyof typeof SQL]: Statement };

export interface SqliteOptions {
  file: string;
  /** The writer migrates and writes; the reader only reads (opened read-only). */
  role: "writer" | "reader";
  synchronous?: SqliteSynchronous;
}

/**
 * The commit itself failed: SQLITE_FULL means the transaction was not kept
 * (nothing is applied); any other failure at commit (an I/O error on the
 * WAL's fsync) may have left it on disk, so its outcome is unknown.
 */
export class CommitFailed extends Error {
  readonly applied: "no" | "unknown";
  constructor(override readonly cause: Error & { code?: string }) {
    super(cause.message);
    this.applied = cause.code === "SQLITE_FULL" ? "no" : "unknown";
  }
}

export class SqliteBackend implements Backend {
  readonly kind = "sqlite" as const;
  readonly location: string;
  private readonly db: Database.Database;
  private readonly q: Statements;
  private readonly snapshot: Database.Transaction<(fn: () => unknown) => unknown>;

  constructor(options: SqliteOptions) {
    this.location = options.file;
    const writer = options.role === "writer";
    const db = new Database(options.file, { timeout: 5000, readonly: !writer, fileMustExist: !writer });
    try {
      if (writer) {
        assertOurs(db, options.file);
        db.pragma("journal_mode = WAL");
        db.pragma(`synchronous = ${options.synchronous ?? "FULL"}`);
        migrate(db, options.file);
      }
      this.q = Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Statements;
      this.q.oldestRevision.pluck();
      this.q.oldestFeed.pluck();
      this.q.newestFeed.pluck();
      this.q.setting.pluck();
      this.q.settingKeys.pluck();
      this.q.settings.raw();
      this.q.schemaRevision.pluck();
      this.q.valuesOf.raw();
      this.snapshot = db.transaction((fn: () => unknown) => fn());
      this.db = db;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * IMMEDIATE: the write lock is taken up front, so a write never has to
   * upgrade mid-way. A failure before the commit rolls everything back; a
   * failed commit throws CommitFailed.
   */
  transaction<T>(fn: () => T): T {
    this.q.begin.run();
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.rollback();
      throw err;
    }
    try {
      this.q.commit.run();
    } catch (err) {
      this.rollback();
      throw new CommitFailed(err as Error);
    }
    return result;
  }

  read<T>(fn: () => T): T {
    return this.snapshot.deferred(fn) as T;
  }

  private rollback(): void {
    try {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
    } catch {
      // SQLite may have rolled back by itself already (after SQLITE_FULL or an I/O error).
    }
  }

  session(sessionId: string): StoredSession | undefined {
    const row = this.q.session.get(sessionId) as SessionRow | undefined;
    return row && toSession(row);
  }

  putSession(s: StoredSession): void {
    this.q.putSession.run({
      session_id: s.sessionId,
      cwd: s.cwd,
      created_at: s.createdAt.getTime(),
      system_owned: s.systemOwned ? 1 : 0,
      state: s.state,
      deleted_at: s.deletedAt?.getTime() ?? null,
    });
  }

  activeSessions(limit: number, after?: string): StoredSession[] {
    return (this.q.activeSessions.all(after ?? "", limit) as SessionRow[]).map(toSession);
  }

  tuple(id: TupleId): TupleRow | undefined {
    const row = this.q.tuple.get(id) as TupleDbRow | undefined;
    if (!row) return undefined;
    return {
      controls: {
        model: row.model,
        approvalPolicy: row.approval_policy as TupleRow["controls"]["approvalPolicy"],
        networkAccess: row.network_access as TupleRow["controls"]["networkAccess"],
        filesystemSandbox: row.filesystem_sandbox as TupleRow["controls"]["filesystemSandbox"],
      },
      revision: BigInt(row.revision),
      keyCount: row.key_count,
      bytes: row.bytes,
      updatedAt: new Date(row.updated_at),
      requestSeq: row.request_seq,
    };
  }

  putTuple(id: TupleId, r: TupleRow): void {
    const c = r.controls;
    this.q.putTuple.run(
      id, c.model, c.approvalPolicy, c.networkAccess, c.filesystemSandbox, r.revision, r.keyCount, r.bytes, r.updatedAt.getTime(), r.requestSeq,
    );
  }

  dropTuple(id: TupleId): void {
    for (const q of [this.q.dropTuple, this.q.dropSettings, this.q.dropHistory, this.q.dropRequests]) q.run(id);
  }

  setting(id: TupleId, key: string): string | undefined {
    return this.q.setting.get(id, key) as string | undefined;
  }

  settingKeys(id: TupleId): string[] {
    return this.q.settingKeys.all(id) as string[];
  }

  settings(id: TupleId): [string, string][] {
    return this.q.settings.all(id) as [string, string][];
  }

  writeSettings(id: TupleId, writes: SettingWrite[]): void {
    for (const w of writes) {
      if (w.text === undefined) this.q.deleteSetting.run(id, w.key);
      else this.q.putSetting.run(id, w.key, w.text);
    }
  }

  copySettings(from: TupleId, to: TupleId): void {
    this.q.copySettings.run(to, from);
  }

  appendHistory(id: TupleId, e: HistoryEntry): void {
    this.q.appendHistory.run(id, e.revision, ...entryColumns(e));
  }

  trimHistory(id: TupleId, through: bigint): void {
    this.q.trimHistory.run(id, through);
  }

  historyBefore(id: TupleId, limit: number, before?: bigint): HistoryEntry[] {
    // 2^63 - 1: SQLite's largest integer, above every revision.
    const rows = this.q.historyBefore.all(id, before ?? 9223372036854775807n, limit) as HistoryRow[];
    return rows.map((r) => toEntry(r, scopeOf(id)));
  }

  historyAfter(id: TupleId, after: bigint): HistoryEntry[] {
    return (this.q.historyAfter.all(id, after) as HistoryRow[]).map((r) => toEntry(r, scopeOf(id)));
  }

  oldestRevision(id: TupleId): bigint | undefined {
    const oldest = this.q.oldestRevision.get(id) as number | null;
    return oldest === null ? undefined : BigInt(oldest);
  }

  recall(id: TupleId, requestId: string): Remembered | undefined {
    const row = this.q.recall.get(id, requestId) as { fingerprint: string; outcome: string } | undefined;
    if (!row) return undefined;
    const o = JSON.parse(row.outcome) as Omit<Outcome, "revision"> & { revision: string };
    return { fingerprint: row.fingerprint, outcome: { ...o, revision: BigInt(o.revision) } };
  }

  remember(id: TupleId, seq: number, requestId: string, r: Remembered): void {
    const outcome = JSON.stringify({ ...r.outcome, revision: r.outcome.revision.toString() });
    this.q.remember.run(id, requestId, seq, r.fingerprint, outcome);
  }

  forgetRequests(id: TupleId, through: number): void {
    this.q.forgetRequests.run(id, through);
  }

  appendFeed(c: NewFeedChange): bigint {
    return BigInt(this.q.appendFeed.run(c.sessionId, c.scope, c.revision, c.kind, ...entryColumns(c.entry)).lastInsertRowid);
  }

  trimFeed(through: bigint): void {
    this.q.trimFeed.run(through);
  }

  feedAfter(after: bigint, limit: number): FeedChange[] {
    return (this.q.feedAfter.all(after, limit) as FeedRow[]).map(toFeedChange);
  }

  feedBounds(): { oldest: bigint; newest: bigint } {
    const newest = BigInt((this.q.newestFeed.get() as number | undefined) ?? 0);
    const oldest = this.q.oldestFeed.get() as number | null;
    return { oldest: oldest === null ? newest + 1n : BigInt(oldest), newest };
  }

  schema(key: string): SchemaRecord | undefined {
    const row = this.q.schema.get(key) as SchemaRow | undefined;
    return row && toSchemaRecord(row);
  }

  schemas(): SchemaRecord[] {
    return (this.q.schemas.all() as SchemaRow[]).map(toSchemaRecord);
  }

  putSchema(r: SchemaRecord): void {
    this.q.putSchema.run(r.key, r.revision, r.text, r.time.getTime(), r.actor, r.source);
  }

  dropSchema(key: string): void {
    this.q.dropSchema.run(key);
  }

  schemaRevision(): bigint {
    return BigInt((this.q.schemaRevision.get() as number | undefined) ?? 0);
  }

  appendSchemaHistory(e: NewSchemaHistory): bigint {
    const run = this.q.appendSchemaHistory.run(e.key, e.op, e.text ?? null, e.actor, e.claimedActor ?? null, e.source, e.time.getTime(), e.forced ? 1 : 0, e.violations);
    return BigInt(run.lastInsertRowid);
  }

  trimSchemaHistory(through: bigint): void {
    this.q.trimSchemaHistory.run(through);
  }

  schemaHistory(key: string, limit: number): SchemaHistoryEntry[] {
    return (this.q.schemaHistory.all(key, limit) as SchemaHistoryRow[]).map(toSchemaHistory);
  }

  valuesOf(key: string): [TupleId, string][] {
    return this.q.valuesOf.all(key) as [TupleId, string][];
  }

  ping(): void {
    this.q.ping.get();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function scopeOf(id: TupleId) {
  return id === DEFAULT_TUPLE ? ("default" as const) : ("session" as const);
}
