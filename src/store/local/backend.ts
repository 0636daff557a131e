// What an in-process store keeps, and nothing about what a write means: the
// engine (src/domain/engine.ts) decides that, and LocalStore asks a Backend
// only to read and store rows inside one transaction. Two backends exist:
// plain maps (tests, DATA_DIR=:memory:) and SQLite (the durable default).
import type { Remembered, SettingWrite } from "../../domain/engine.js";
import type { ControlFields, FeedChange, HistoryEntry, SessionRecord } from "../../domain/types.js";
import type { SchemaHistoryEntry, SchemaRecord } from "../store.js";

export type StoredSession = Omit<SessionRecord, "updatedAt">;

/** A change as appended to the feed, before it has its position. */
export type NewFeedChange = Omit<FeedChange, "position">;

/** A schema change as recorded, before it has its revision; a put keeps its schema's text. */
export type NewSchemaHistory = Omit<SchemaHistoryEntry, "revision"> & { text?: string };

/** A tuple's id: the session id, or DEFAULT_TUPLE for the default tuple (never a valid session id). */
export type TupleId = string;
export const DEFAULT_TUPLE: TupleId = "";

/** One tuple's own row: its controls and counters, not its settings. */
export interface TupleRow {
  controls: ControlFields;
  revision: bigint;
  keyCount: number;
  bytes: number;
  /** The last change; the session's creation until the first. */
  updatedAt: Date;
  /** How many request ids this tuple has remembered so far; orders them for trimming. */
  requestSeq: number;
}

export interface Backend {
  readonly kind: "memory" | "sqlite";
  /** Where the data lives, for the start-up log. */
  readonly location: string;

  /** Runs `fn` atomically: everything it stored is kept together, or nothing if it throws. */
  transaction<T>(fn: () => T): T;
  /** Runs `fn` on one consistent snapshot, storing nothing. */
  read<T>(fn: () => T): T;

  /** A session as stored; its updatedAt lives in its tuple row. */
  session(sessionId: string): StoredSession | undefined;
  putSession(session: StoredSession): void;
  /** Active user-owned sessions ordered by id, after `after`. */
  activeSessions(limit: number, after?: string): StoredSession[];

  tuple(id: TupleId): TupleRow | undefined;
  putTuple(id: TupleId, row: TupleRow): void;
  /** Removes a tuple with its settings, history and remembered requests. */
  dropTuple(id: TupleId): void;

  setting(id: TupleId, key: string): string | undefined;
  settingKeys(id: TupleId): string[];
  /** Every key with its canonical JSON text. */
  settings(id: TupleId): [key: string, text: string][];
  writeSettings(id: TupleId, writes: SettingWrite[]): void;
  copySettings(from: TupleId, to: TupleId): void;

  appendHistory(id: TupleId, entry: HistoryEntry): void;
  /** Drops entries with revision <= `through`. */
  trimHistory(id: TupleId, through: bigint): void;
  /** Newest first, revision < before (all when undefined), at most `limit`. */
  historyBefore(id: TupleId, limit: number, before?: bigint): HistoryEntry[];
  /** Oldest first, revision > after. */
  historyAfter(id: TupleId, after: bigint): HistoryEntry[];
  oldestRevision(id: TupleId): bigint | undefined;

  recall(id: TupleId, requestId: string): Remembered | undefined;
  remember(id: TupleId, seq: number, requestId: string, remembered: Remembered): void;
  /** Forgets request ids remembered at seq <= `through`. */
  forgetRequests(id: TupleId, through: number): void;

  /** Appends a change to the store-wide feed; answers its sequence number (above every earlier one, never reused). */
  appendFeed(change: NewFeedChange): bigint;
  /** Drops feed entries with seq <= `through`. */
  trimFeed(through: bigint): void;
  /** Oldest first, seq > after, at most `limit`. */
  feedAfter(after: bigint, limit: number): FeedChange[];
  /** The oldest retained and the newest sequence numbers (oldest = newest + 1 when none is retained). */
  feedBounds(): { oldest: bigint; newest: bigint };

  /** The schema registry, in the same transaction as the values it governs. */
  schema(key: string): SchemaRecord | undefined;
  /** Every registered schema, by key. */
  schemas(): SchemaRecord[];
  putSchema(record: SchemaRecord): void;
  dropSchema(key: string): void;
  /** The newest schema revision taken (0 before the first schema change); every put and delete moves it. */
  schemaRevision(): bigint;
  /** Records a schema change; answers its revision (above every earlier one, never reused). */
  appendSchemaHistory(entry: NewSchemaHistory): bigint;
  /** Drops schema history at or below `through`. */
  trimSchemaHistory(through: bigint): void;
  /** One key's schema history, newest first. */
  schemaHistory(key: string, limit: number): SchemaHistoryEntry[];
  /** Every tuple's stored text of `key`, by tuple id. */
  valuesOf(key: string): [id: TupleId, text: string][];

  /** Throws when the storage cannot answer. */
  ping(): void;
  close(): void;
}
