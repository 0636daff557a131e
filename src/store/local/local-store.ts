// The in-process store: runs the write engine inside one backend transaction
// per operation, and publishes events to in-process listeners after commit.
// Storage (maps or SQLite) is the backend's; what a write means is the
// engine's; this file only sequences the two.
import type { Config } from "../../config.js";
import { planWrite, type ScopeState, type WritePlan } from "../../domain/engine.js";
import { errors } from "../../domain/errors.js";
import { setOwn } from "../../domain/json.js";
import type {
  HistoryEntry,
  JsonObject,
  JsonValue,
  Mutation,
  MutationResult,
  ScopeRef,
  StoreEvent,
  Tuple,
  WriteOptions,
} from "../../domain/types.js";
import { mutationFingerprint } from "../../domain/fingerprint.js";
import {
  deliver,
  type HistoryPage,
  type Listener,
  type NewSession,
  type SessionPage,
  type SettingsRead,
  type SettingsTexts,
  type Store,
  type Unsubscribe,
} from "../store.js";
import { DEFAULT_TUPLE, type Backend, type StoredSession, type TupleId, type TupleRow } from "./backend.js";

export type LocalStoreConfig = Pick<Config, "seedDefaults" | "historyLimit" | "limits" | "requestIdLimit">;

export class LocalStore implements Store {
  readonly kind: "memory" | "sqlite";
  private readonly listeners = new Map<TupleId, Set<Listener>>();

  constructor(
    private readonly backend: Backend,
    private readonly config: LocalStoreConfig,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.kind = backend.kind;
    backend.transaction(() => {
      if (backend.tuple(DEFAULT_TUPLE)) return;
      backend.putTuple(DEFAULT_TUPLE, { controls: { ...config.seedDefaults }, revision: 0n, keyCount: 0, bytes: 0, updatedAt: this.now(), requestSeq: 0 });
    });
  }

  get location(): string {
    return this.backend.location;
  }

  async requireActiveSession(sessionId: string): Promise<void> {
    this.backend.read(() => this.activeSession(sessionId));
  }

  async createSession(input: NewSession) {
    return this.backend.transaction(() => {
      const existing = this.backend.session(input.sessionId);
      if (existing) {
        if (existing.state === "deleted") throw errors.deleted(input.sessionId, existing.deletedAt!);
        if (existing.systemOwned) throw errors.systemSession(input.sessionId);
        throw errors.exists(input.sessionId);
      }
      const defaults = this.tupleRow(DEFAULT_TUPLE);
      const session: StoredSession = {
        sessionId: input.sessionId,
        cwd: input.cwd,
        createdAt: input.createdAt,
        systemOwned: input.systemOwned,
        state: "active",
      };
      this.backend.putSession(session);
      this.backend.putTuple(input.sessionId, {
        controls: { ...defaults.controls, ...input.overrides },
        revision: 0n,
        keyCount: defaults.keyCount,
        bytes: defaults.bytes,
        updatedAt: input.createdAt,
        requestSeq: 0,
      });
      this.backend.copySettings(DEFAULT_TUPLE, input.sessionId);
      return { session: { ...session, updatedAt: input.createdAt }, tuple: this.snapshot(input.sessionId) };
    });
  }

  async getSession(sessionId: string) {
    return this.backend.read(() => {
      const session = this.activeSession(sessionId);
      return { session: { ...session, updatedAt: this.tupleRow(sessionId).updatedAt }, tuple: this.snapshot(sessionId) };
    });
  }

  async listSessions(limit: number, after?: string): Promise<SessionPage> {
    return this.backend.read(() => {
      const found = this.backend.activeSessions(limit + 1, after);
      const sessions = found.slice(0, limit).map((session) => {
        const row = this.tupleRow(session.sessionId);
        return { session: { ...session, updatedAt: row.updatedAt }, controls: row.controls };
      });
      return { sessions, nextAfter: found.length > limit ? sessions[sessions.length - 1]!.session.sessionId : undefined };
    });
  }

  async deleteSession(sessionId: string, at: Date) {
    this.backend.transaction(() => {
      const session = this.activeSession(sessionId);
      this.backend.putSession({ ...session, state: "deleted", deletedAt: at });
      this.backend.dropTuple(sessionId);
    });
    this.emit(sessionId, { type: "deleted", sessionId, deletedAt: at });
    return { deletedAt: at };
  }

  async readSettings(ref: ScopeRef, key?: string): Promise<SettingsRead> {
    return this.backend.read(() => {
      const id = this.tupleOf(ref);
      const { revision } = this.tupleRow(id);
      if (key === undefined) return { settings: this.settingsOf(id), revision };
      const text = this.backend.setting(id, key);
      return { found: text !== undefined, value: text === undefined ? null : (JSON.parse(text) as JsonValue), revision };
    });
  }

  async readSettingsTexts(ref: ScopeRef, known?: bigint): Promise<SettingsTexts> {
    return this.backend.read(() => {
      const id = this.tupleOf(ref);
      const { revision } = this.tupleRow(id);
      return revision === known ? { revision } : { revision, entries: this.backend.settings(id) };
    });
  }

  async readTuple(ref: ScopeRef): Promise<Tuple> {
    return this.backend.read(() => this.snapshot(this.tupleOf(ref)));
  }

  async mutate(ref: ScopeRef, mutation: Mutation, options: WriteOptions): Promise<MutationResult> {
    const { plan, result } = this.backend.transaction(() => {
      const id = this.tupleOf(ref);
      const row = this.tupleRow(id);
      const decided = planWrite(this.scopeState(id, row), mutation, {
        scope: ref.scope,
        sessionId: ref.sessionId,
        actor: options.actor,
        claimedActor: options.claimedActor,
        source: options.source,
        ifRevision: options.ifRevision,
        requestId: options.requestId,
        fingerprint: options.requestId === undefined ? undefined : mutationFingerprint(ref.scope, mutation, options.ifRevision),
        time: this.now(),
        limits: this.config.limits,
        historyLimit: this.config.historyLimit,
      });
      if (!decided.ok) throw decided.error;
      const plan = decided.plan;
      if (!plan.replayed) this.store(id, row, plan);
      const result: MutationResult = { changed: plan.outcome.changed, revision: plan.outcome.revision, removed: plan.outcome.removed };
      if (plan.outcome.valueText !== undefined) result.value = JSON.parse(plan.outcome.valueText) as JsonValue;
      if (plan.replayed) result.replayed = true;
      if (options.withSettings || mutation.op === "controls") result.settings = this.settingsOf(id);
      if (mutation.op === "controls") result.controls = { ...plan.controls };
      return { plan, result };
    });
    if (plan.entry) {
      const channel = ref.scope === "default" ? DEFAULT_TUPLE : ref.sessionId;
      this.emit(channel, { type: "change", sessionId: ref.scope === "default" ? undefined : ref.sessionId, entry: plan.entry });
    }
    return result;
  }

  async listHistory(ref: ScopeRef, limit: number, before?: bigint): Promise<HistoryPage> {
    const entries = this.backend.read(() => this.backend.historyBefore(this.tupleOf(ref), limit + 1, before));
    const page = entries.slice(0, limit);
    return { entries: page, nextBefore: entries.length > limit ? page[page.length - 1]!.revision : undefined };
  }

  async historySince(ref: ScopeRef, after: bigint): Promise<HistoryEntry[]> {
    return this.backend.read(() => {
      const id = this.tupleOf(ref);
      const { revision } = this.tupleRow(id);
      const oldest = this.backend.oldestRevision(id) ?? revision + 1n;
      if (after < revision && after + 1n < oldest) throw errors.historyTruncated(ref.sessionId, ref.scope, oldest);
      return this.backend.historyAfter(id, after);
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

  async ping(): Promise<void> {
    this.backend.ping();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.backend.close();
  }

  /** Stores what the engine decided; the caller's transaction makes it all-or-nothing. */
  private store(id: TupleId, row: TupleRow, plan: WritePlan): void {
    const b = this.backend;
    if (plan.settings.length > 0) b.writeSettings(id, plan.settings);
    const next: TupleRow = {
      controls: plan.controls,
      revision: plan.outcome.revision,
      keyCount: plan.keyCount,
      bytes: plan.bytes,
      updatedAt: plan.entry?.time ?? row.updatedAt,
      requestSeq: row.requestSeq,
    };
    if (plan.entry) b.appendHistory(id, plan.entry);
    if (plan.trimHistoryThrough !== undefined) b.trimHistory(id, plan.trimHistoryThrough);
    if (plan.remember) {
      next.requestSeq += 1;
      b.remember(id, next.requestSeq, plan.remember.requestId, plan.remember);
      const forget = next.requestSeq - this.config.requestIdLimit;
      if (forget > 0) b.forgetRequests(id, forget);
    }
    if (plan.entry || plan.remember) b.putTuple(id, next);
  }

  private scopeState(id: TupleId, row: TupleRow): ScopeState {
    const b = this.backend;
    return {
      revision: row.revision,
      controls: row.controls,
      keyCount: row.keyCount,
      bytes: row.bytes,
      get: (key) => b.setting(id, key),
      keys: () => b.settingKeys(id),
      recall: (requestId) => b.recall(id, requestId),
    };
  }

  private emit(channel: TupleId, event: StoreEvent): void {
    deliver(this.listeners.get(channel) ?? [], event);
  }

  private activeSession(sessionId: string): StoredSession {
    const session = this.backend.session(sessionId);
    if (!session) throw errors.notFound(sessionId);
    if (session.state === "deleted") throw errors.deleted(sessionId, session.deletedAt!);
    if (session.systemOwned) throw errors.systemSession(sessionId);
    return session;
  }

  /** Checks the addressing session, then answers the tuple the ref names. */
  private tupleOf(ref: ScopeRef): TupleId {
    this.activeSession(ref.sessionId);
    return ref.scope === "default" ? DEFAULT_TUPLE : ref.sessionId;
  }

  private tupleRow(id: TupleId): TupleRow {
    const row = this.backend.tuple(id);
    if (!row) throw new Error(`tuple ${JSON.stringify(id)} is missing`);
    return row;
  }

  private settingsOf(id: TupleId): JsonObject {
    const out: JsonObject = {};
    for (const [key, text] of this.backend.settings(id)) setOwn(out, key, JSON.parse(text) as JsonValue);
    return out;
  }

  private snapshot(id: TupleId): Tuple {
    const row = this.tupleRow(id);
    return { ...row.controls, settings: this.settingsOf(id), revision: row.revision };
  }
}
