// The in-process store. Reads run on a backend snapshot on the calling
// thread; writes go through group commit (./group-commit.ts), which runs the
// write engine over whole batches in one transaction each: in a writer
// thread for SQLite, so that no commit blocks the event loop, or inline for
// the memory backend. Events are published after each batch commits, in
// batch order (so in revision order per tuple). Storage is the backend's;
// what a write means is the engine's; this file only sequences the two.
import { errors } from "../../domain/errors.js";
import { encodeCursor, type FeedCursor } from "../../domain/feed.js";
import { mutationFingerprint } from "../../domain/fingerprint.js";
import { entriesObject } from "../../domain/json.js";
import { SchemaValidators } from "../../domain/schemas.js";
import type { FeedChange, FeedEvent, HistoryEntry, JsonObject, JsonValue, Mutation, MutationResult, ScopeRef, StoreEvent, Tuple, WriteOptions } from "../../domain/types.js";
import type { Logger } from "../../observe/log.js";
import {
  deliver,
  type HistoryPage,
  type Listener,
  type NewSession,
  type Provenance,
  type SchemaChange,
  type SchemaPut,
  type SchemaRecord,
  type ViolationReport,
  type SessionPage,
  type SettingsRead,
  type SettingsTexts,
  type Store,
  type StoreHooks,
  type TuplePage,
  type Unsubscribe,
} from "../store.js";
import { RefusalHold } from "../refusal-hold.js";
import { DEFAULT_TUPLE, type Backend, type TupleId } from "./backend.js";
import { BatchFailed, GroupCommit, type Committer } from "./group-commit.js";
import { readViolations } from "./schema-ops.js";
import { activeSession, tupleOf, tupleRow } from "./tuples.js";
import type { OpResult, OpValue, TupleTexts, WriteOp } from "./write-ops.js";

export interface LocalStoreParts {
  /** Where reads run: the reader's connection (SQLite) or the very backend the writes change (memory). */
  reader: Backend;
  committer: Committer;
  /** Why writes cannot be taken at all (the writer thread is gone), if so. */
  writerFailure?: () => string | undefined;
  /** Releases the writer, the reader and whatever else the store holds, after the last batch. */
  release(): Promise<void>;
  log?: Logger;
  now?: () => Date;
}

export class LocalStore implements Store {
  readonly kind: "memory" | "sqlite";
  readonly location: string;
  private readonly listeners = new Map<TupleId, Set<Listener>>();
  private readonly feedListeners = new Set<(event: FeedEvent) => void>();
  private readonly commits: GroupCommit;
  private readonly reader: Backend;
  private readonly now: () => Date;
  private readonly refusals: RefusalHold;
  /** Compiled schemas for reads (the writer has its own, in its thread). */
  private readonly validators = new SchemaValidators();
  private hooks: StoreHooks = {};

  constructor(private readonly parts: LocalStoreParts) {
    this.reader = parts.reader;
    this.kind = parts.reader.kind;
    this.location = parts.reader.location;
    this.now = parts.now ?? (() => new Date());
    this.refusals = new RefusalHold(parts.log, this.location, "the store refused a write");
    this.commits = new GroupCommit(parts.committer, {
      batch: (writes, bytes) => this.hooks.batch?.(writes, bytes),
      committed: (ops, results) => this.publish(ops, results),
      failed: (failure) => {
        if (failure.outcome !== "internal") this.refusals.refused(errors.unavailable(failure.cause));
      },
    });
  }

  observe(hooks: StoreHooks): void {
    this.hooks = hooks;
  }

  async requireActiveSession(sessionId: string): Promise<void> {
    this.reader.read(() => activeSession(this.reader, sessionId));
  }

  async createSession(input: NewSession) {
    const value = await this.write({ kind: "create", input }, "create");
    return { session: value.session, tuple: toTuple(value.tuple) };
  }

  async getSession(sessionId: string) {
    return this.reader.read(() => {
      const session = activeSession(this.reader, sessionId);
      return { session: { ...session, updatedAt: tupleRow(this.reader, sessionId).updatedAt }, tuple: this.snapshot(sessionId) };
    });
  }

  async listSessions(limit: number, after?: string): Promise<SessionPage> {
    return this.reader.read(() => {
      const found = this.reader.activeSessions(limit + 1, after);
      const sessions = found.slice(0, limit).map((session) => {
        const row = tupleRow(this.reader, session.sessionId);
        return { session: { ...session, updatedAt: row.updatedAt }, controls: row.controls };
      });
      return { sessions, nextAfter: found.length > limit ? sessions[sessions.length - 1]!.session.sessionId : undefined };
    });
  }

  async deleteSession(sessionId: string, at: Date, by?: Provenance) {
    const { deletedAt } = await this.write({ kind: "delete", sessionId, at, by }, "delete");
    return { deletedAt };
  }

  async readSettings(ref: ScopeRef, key?: string): Promise<SettingsRead> {
    return this.reader.read(() => {
      const id = tupleOf(this.reader, ref);
      const { revision } = tupleRow(this.reader, id);
      if (key === undefined) return { settings: this.settingsOf(id), revision };
      const text = this.reader.setting(id, key);
      return { found: text !== undefined, value: text === undefined ? null : (JSON.parse(text) as JsonValue), revision };
    });
  }

  async readSettingsTexts(ref: ScopeRef, known?: bigint): Promise<SettingsTexts> {
    return this.reader.read(() => {
      const id = tupleOf(this.reader, ref);
      const { revision } = tupleRow(this.reader, id);
      return revision === known ? { revision } : { revision, entries: this.reader.settings(id) };
    });
  }

  async readTuple(ref: ScopeRef): Promise<Tuple> {
    return this.reader.read(() => this.snapshot(tupleOf(this.reader, ref)));
  }

  async mutate(ref: ScopeRef, mutation: Mutation, options: WriteOptions): Promise<MutationResult> {
    const fingerprint = options.requestId === undefined ? undefined : mutationFingerprint(ref.scope, mutation, options.ifRevision);
    const v = await this.write({ kind: "mutate", ref, mutation, options, time: this.now(), fingerprint }, "mutate");
    const result: MutationResult = { changed: v.changed, revision: v.revision, removed: v.removed };
    if (v.valueText !== undefined) result.value = JSON.parse(v.valueText) as JsonValue;
    if (v.replayed) result.replayed = true;
    if (v.entries) result.settingsEntries = v.entries;
    if (v.controls) result.controls = v.controls;
    return result;
  }

  async listHistory(ref: ScopeRef, limit: number, before?: bigint): Promise<HistoryPage> {
    const entries = this.reader.read(() => this.reader.historyBefore(tupleOf(this.reader, ref), limit + 1, before));
    const page = entries.slice(0, limit);
    return { entries: page, nextBefore: entries.length > limit ? page[page.length - 1]!.revision : undefined };
  }

  async historySince(ref: ScopeRef, after: bigint): Promise<HistoryEntry[]> {
    return this.reader.read(() => {
      const id = tupleOf(this.reader, ref);
      const { revision } = tupleRow(this.reader, id);
      const oldest = this.reader.oldestRevision(id) ?? revision + 1n;
      if (after < revision && after + 1n < oldest) throw errors.historyTruncated(ref.sessionId, ref.scope, oldest);
      return this.reader.historyAfter(id, after);
    });
  }

  async subscribe(channel: { sessionId?: string }, listener: Listener): Promise<Unsubscribe> {
    const name = channel.sessionId ?? DEFAULT_TUPLE;
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(name) === set) this.listeners.delete(name);
    };
  }

  async subscribeFeed(listener: (event: FeedEvent) => void): Promise<Unsubscribe> {
    this.feedListeners.add(listener);
    return () => this.feedListeners.delete(listener);
  }

  async feedHead(): Promise<FeedCursor> {
    return new Map([["", this.reader.read(() => this.reader.feedBounds().newest)]]);
  }

  async readFeed(after: FeedCursor, limit: number): Promise<FeedChange[]> {
    const from = after.get("") ?? 0n;
    return this.reader.read(() => {
      const { oldest, newest } = this.reader.feedBounds();
      if (from < newest && from + 1n < oldest) throw errors.feedTruncated(encodeCursor(new Map([["", oldest - 1n]])));
      return this.reader.feedAfter(from, limit);
    });
  }

  async listTuples(limit: number, after?: string): Promise<TuplePage> {
    return this.reader.read(() => {
      const tuples: TuplePage["tuples"] = after === undefined ? [{ sessionId: "", scope: "default", tuple: this.snapshot(DEFAULT_TUPLE) }] : [];
      const room = limit - tuples.length;
      const found = this.reader.activeSessions(room + 1, after ?? "");
      for (const s of found.slice(0, room)) tuples.push({ sessionId: s.sessionId, scope: "session", tuple: this.snapshot(s.sessionId) });
      return { tuples, nextAfter: found.length > room ? (tuples[tuples.length - 1]!.sessionId) : undefined };
    });
  }

  async putSchema(change: SchemaPut) {
    const { changed, revision, violations } = await this.write({ kind: "putSchema", change }, "schema");
    return { changed, revision, violations };
  }

  async deleteSchema(change: SchemaChange) {
    const { changed, revision } = await this.write({ kind: "deleteSchema", change }, "schema");
    return { changed, revision };
  }

  async getSchema(key: string, historyLimit: number) {
    return this.reader.read(() => {
      const schema = this.reader.schema(key);
      if (!schema) throw errors.schemaNotFound(key);
      return { schema, history: this.reader.schemaHistory(key, historyLimit) };
    });
  }

  async listSchemas(): Promise<SchemaRecord[]> {
    return this.reader.read(() => this.reader.schemas());
  }

  async listViolations(key: string, limit: number): Promise<ViolationReport> {
    return this.reader.read(() => readViolations(this.reader, this.validators, key, limit));
  }

  /** Ready means readable and writable: the writer is alive and no batch failed in the last few seconds. */
  async ping(): Promise<void> {
    const dead = this.parts.writerFailure?.();
    if (dead) throw errors.unavailable(dead);
    this.refusals.check();
    this.reader.ping();
  }

  /** Answers every write already queued, then lets go of the writer and the reader. */
  async close(): Promise<void> {
    await this.commits.drained();
    this.listeners.clear();
    await this.parts.release();
  }

  private async write<K extends OpValue["kind"]>(op: WriteOp, kind: K): Promise<Extract<OpValue, { kind: K }>> {
    const value = await this.commits.submit(op);
    if (value.kind !== kind) throw new BatchFailed({ outcome: "internal", cause: `a ${op.kind} answered ${value.kind}` });
    return value as Extract<OpValue, { kind: K }>;
  }

  /** After a commit, before any writer hears back: every change and deletion, in batch order. */
  private publish(ops: WriteOp[], results: OpResult[]): void {
    ops.forEach((op, i) => {
      const r = results[i]!;
      if (!r.ok) return;
      if (r.value.feed) deliver<FeedEvent>(this.feedListeners, { type: "change", change: r.value.feed });
      if (r.value.kind === "mutate" && r.value.entry && op.kind === "mutate") {
        const isDefault = op.ref.scope === "default";
        this.emit(isDefault ? DEFAULT_TUPLE : op.ref.sessionId, { type: "change", sessionId: isDefault ? undefined : op.ref.sessionId, entry: r.value.entry });
      } else if (r.value.kind === "delete" && op.kind === "delete") {
        this.emit(op.sessionId, { type: "deleted", sessionId: op.sessionId, deletedAt: r.value.deletedAt });
      }
    });
  }

  private emit(channel: TupleId, event: StoreEvent): void {
    deliver(this.listeners.get(channel) ?? [], event);
  }

  private settingsOf(id: TupleId): JsonObject {
    return entriesObject(this.reader.settings(id));
  }

  private snapshot(id: TupleId): Tuple {
    const row = tupleRow(this.reader, id);
    return { ...row.controls, settings: this.settingsOf(id), revision: row.revision };
  }
}

function toTuple(t: TupleTexts): Tuple {
  const { entries, ...rest } = t;
  return { ...rest, settings: entriesObject(entries) };
}
