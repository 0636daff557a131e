// What the services need from storage. Two implementations keep exactly the
// same semantics: the embedded in-process store and the Redis store. Each
// write checks session state, compare-and-set, limits, "unchanged", revision,
// history and the change event in one atomic step.
import type { Violation } from "../domain/errors.js";
import type { FeedCursor } from "../domain/feed.js";
import type {
  ControlFields,
  FeedChange,
  FeedEvent,
  HistoryEntry,
  JsonObject,
  JsonValue,
  Mutation,
  MutationResult,
  Scope,
  ScopeRef,
  SessionRecord,
  StoreEvent,
  Tuple,
  WriteOptions,
} from "../domain/types.js";

/** Who made a session change, for the change feed (default actor "user", source "api"). */
export interface Provenance {
  actor: string;
  source: string;
}

export interface NewSession {
  sessionId: string;
  cwd: string;
  systemOwned: boolean;
  createdAt: Date;
  /** Controls that override the copied default tuple. */
  overrides: Partial<ControlFields>;
  by?: Provenance;
}

/** A listed session with its controls (not its settings, which may be large). */
export interface ListedSession {
  session: SessionRecord;
  controls: ControlFields;
}

export interface SessionPage {
  sessions: ListedSession[];
  /** The last session id of this page when more may follow. */
  nextAfter?: string;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  /** Pass as `before` for the next page; undefined on the last. */
  nextBefore?: bigint;
}

/** A whole map as stored: keys with their canonical JSON text, unparsed. */
export interface SettingsTexts {
  revision: bigint;
  /** Absent when the map is still at the revision the caller already holds. */
  entries?: [key: string, text: string][];
}

export type SettingsRead =
  | { settings: JsonObject; revision: bigint }
  | { found: boolean; value: JsonValue | null; revision: bigint };

/** One scope's whole tuple, as ListSettings pages them. */
export interface ListedTuple {
  /** The session; for the default scope, "". */
  sessionId: string;
  scope: Scope;
  tuple: Tuple;
}

export interface TuplePage {
  tuples: ListedTuple[];
  /** The last session id of this page when more may follow. */
  nextAfter?: string;
}

export type Unsubscribe = () => void;

export type Listener = (event: StoreEvent) => void;

/** A schema change: who made it, when; for a put, the schema (its canonical JSON, checked to compile) and whether to force it. */
export interface SchemaChange {
  key: string;
  by: Provenance & { claimedActor?: string };
  time: Date;
}
export interface SchemaPut extends SchemaChange {
  text: string;
  /** Register it even though stored values break it (they stay; later writes are checked). */
  force: boolean;
}

/** A registered schema. Revisions count schema changes store-wide: every put or delete takes the next. */
export interface SchemaRecord {
  key: string;
  revision: bigint;
  /** Canonical JSON text. */
  text: string;
  time: Date;
  actor: string;
  source: string;
}

export interface SchemaHistoryEntry {
  revision: bigint;
  key: string;
  op: "put" | "delete";
  actor: string;
  claimedActor?: string;
  source: string;
  time: Date;
  /** A put registered with force. */
  forced: boolean;
  /** Stored values that broke the schema when it was put. */
  violations: number;
}

/** Stored values of a key that break its schema: how many scopes, and the first `limit` of them (default scope first, then by session id). */
export interface ViolationReport {
  revision: bigint;
  count: number;
  violations: Violation[];
}

/** Hands an event to every listener; one listener's failure neither fails the write nor starves the others. */
export function deliver<E = StoreEvent>(listeners: Iterable<(event: E) => void>, event: E): void {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch {
      // Deliberately ignored: see above.
    }
  }
}

/** What a store can tell the server's metrics. */
export interface StoreHooks {
  /** A group commit: how many writes and bytes one transaction held. */
  batch?(writes: number, bytes: number): void;
}

export interface Store {
  readonly kind: "memory" | "sqlite" | "redis" | "redis-cluster" | "redis-sentinel";
  /** Where the data lives (a file, ":memory:" or the Redis address), for the start-up log. */
  readonly location: string;

  /** Throws SESSION_DELETED, SYSTEM_SESSION or SESSION_NOT_FOUND unless active and user-owned. */
  requireActiveSession(sessionId: string): Promise<void>;

  /** Copies the default tuple into a new session, then applies `overrides`. */
  createSession(input: NewSession): Promise<{ session: SessionRecord; tuple: Tuple }>;
  getSession(sessionId: string): Promise<{ session: SessionRecord; tuple: Tuple }>;
  /** Active user-visible sessions ordered by id, after `after`. */
  listSessions(limit: number, after?: string): Promise<SessionPage>;
  deleteSession(sessionId: string, at: Date, by?: Provenance): Promise<{ deletedAt: Date }>;

  readSettings(ref: ScopeRef, key?: string): Promise<SettingsRead>;
  /** The whole map as stored, unless it is still at `known` (big maps are read, cached and encoded from this). */
  readSettingsTexts(ref: ScopeRef, known?: bigint): Promise<SettingsTexts>;
  readTuple(ref: ScopeRef): Promise<Tuple>;
  mutate(ref: ScopeRef, mutation: Mutation, options: WriteOptions): Promise<MutationResult>;

  /** Newest first, entries with revision < before. */
  listHistory(ref: ScopeRef, limit: number, before?: bigint): Promise<HistoryPage>;
  /** Entries with revision > after, oldest first; throws HISTORY_TRUNCATED if they are gone. */
  historySince(ref: ScopeRef, after: bigint): Promise<HistoryEntry[]>;
  /** Events of one tuple (`sessionId` undefined means the default tuple's). */
  subscribe(channel: { sessionId?: string }, listener: Listener): Promise<Unsubscribe>;

  /** Every committed change from now on, in feed order; "unavailable" when delivery broke (resume from the last position). */
  subscribeFeed(listener: (event: FeedEvent) => void): Promise<Unsubscribe>;
  /** The feed's head: every change at or before it is seen by any read that starts after this answers. */
  feedHead(): Promise<FeedCursor>;
  /**
   * Changes after `after` (of one shard only, when given), oldest first in
   * each shard, at most `limit`; throws HISTORY_TRUNCATED (naming the oldest
   * cursor held) if some are gone.
   */
  readFeed(after: FeedCursor, limit: number, shard?: string): Promise<FeedChange[]>;
  /**
   * At most `limit` tuples: without `after`, the default tuple, then active
   * user sessions by id; with it, the sessions after it ("" = from the first).
   * `nextAfter` ("" after a page that held only the default) is set when more may follow.
   */
  listTuples(limit: number, after?: string): Promise<TuplePage>;

  /**
   * Registers `text` as the schema of `key`, after checking every stored
   * value of that key in every scope: throws SCHEMA_VIOLATED (nothing
   * registered) if any breaks it, unless forced. The same text again is
   * unchanged. From the commit on, every write is checked against it.
   */
  putSchema(change: SchemaPut): Promise<{ changed: boolean; revision: bigint; violations: number }>;
  /** Removes `key`'s schema; unchanged (at the current revision) when it has none. */
  deleteSchema(change: SchemaChange): Promise<{ changed: boolean; revision: bigint }>;
  /** Throws SCHEMA_NOT_FOUND; history is this key's, newest first. */
  getSchema(key: string, historyLimit: number): Promise<{ schema: SchemaRecord; history: SchemaHistoryEntry[] }>;
  /** Every registered schema, by key. */
  listSchemas(): Promise<SchemaRecord[]>;
  /** Throws SCHEMA_NOT_FOUND. */
  listViolations(key: string, limit: number): Promise<ViolationReport>;

  /** Hooks for metrics, where the store has something to tell. */
  observe?(hooks: StoreHooks): void;

  /** Resolves while the backing store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
