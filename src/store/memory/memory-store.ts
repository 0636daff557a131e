// The embedded store: the default when no Redis is configured. It keeps every
// value in the same canonical JSON text as the Redis store and applies the
// same rules, so the contract suite runs unchanged against both. Node runs
// one callback at a time, so each method body is one atomic step.
import type { Config } from "../../config.js";
import { errors } from "../../domain/errors.js";
import { canonicalJson, setOwn, utf8Length } from "../../domain/json.js";
import { applyPath } from "../../domain/paths.js";
import {
  CONTROL_NAMES,
  type Change,
  type ControlFields,
  type HistoryEntry,
  type JsonObject,
  type JsonValue,
  type Mutation,
  type MutationResult,
  type ScopeRef,
  type SessionRecord,
  type StoreEvent,
  type Tuple,
  type WriteOptions,
} from "../../domain/types.js";
import { deliver, type HistoryPage, type Listener, type NewSession, type SessionPage, type SettingsRead, type Store, type Unsubscribe } from "../store.js";

interface TupleState {
  controls: ControlFields;
  /** Top-level key → canonical JSON text. */
  settings: Map<string, string>;
  /** Σ UTF-8 bytes of keys and value texts, checked against maxSettingsBytes. */
  bytes: number;
  revision: bigint;
  history: HistoryEntry[];
}

interface SessionEntry {
  record: SessionRecord;
  tuple?: TupleState;
}

const DEFAULT_CHANNEL = "\0default";

export class MemoryStore implements Store {
  readonly kind = "embedded" as const;
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly defaults: TupleState;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly config: Pick<Config, "seedDefaults" | "historyLimit" | "limits">) {
    this.defaults = emptyTuple({ ...config.seedDefaults });
  }

  async requireActiveSession(sessionId: string): Promise<void> {
    this.activeSession(sessionId);
  }

  async createSession(input: NewSession) {
    const existing = this.sessions.get(input.sessionId);
    if (existing) {
      if (existing.record.state === "deleted") throw errors.deleted(input.sessionId, existing.record.deletedAt!);
      if (existing.record.systemOwned) throw errors.systemSession(input.sessionId);
      throw errors.exists(input.sessionId);
    }
    const tuple = emptyTuple({ ...this.defaults.controls, ...input.overrides });
    tuple.settings = new Map(this.defaults.settings);
    tuple.bytes = this.defaults.bytes;
    const record: SessionRecord = {
      sessionId: input.sessionId,
      cwd: input.cwd,
      createdAt: input.createdAt,
      systemOwned: input.systemOwned,
      state: "active",
    };
    this.sessions.set(input.sessionId, { record, tuple });
    return { session: { ...record }, tuple: snapshot(tuple) };
  }

  async getSession(sessionId: string) {
    const entry = this.activeSession(sessionId);
    return { session: { ...entry.record }, tuple: snapshot(entry.tuple!) };
  }

  async listSessions(limit: number, after?: string): Promise<SessionPage> {
    const ids = [...this.sessions.values()]
      .filter((s) => s.record.state === "active" && !s.record.systemOwned)
      .map((s) => s.record.sessionId)
      .filter((id) => after === undefined || id > after)
      .sort();
    const page = ids.slice(0, limit);
    return {
      sessions: page.map((id) => ({ ...this.sessions.get(id)!.record })),
      nextAfter: ids.length > limit ? page[page.length - 1] : undefined,
    };
  }

  async deleteSession(sessionId: string, at: Date) {
    const entry = this.activeSession(sessionId);
    entry.record = { ...entry.record, state: "deleted", deletedAt: at };
    entry.tuple = undefined;
    this.emit(sessionId, { type: "deleted", sessionId, deletedAt: at });
    return { deletedAt: at };
  }

  async readSettings(ref: ScopeRef, key?: string): Promise<SettingsRead> {
    const tuple = this.tupleOf(ref);
    if (key === undefined) return { settings: toObject(tuple.settings), revision: tuple.revision };
    const text = tuple.settings.get(key);
    return {
      found: text !== undefined,
      value: text === undefined ? null : (JSON.parse(text) as JsonValue),
      revision: tuple.revision,
    };
  }

  async readTuple(ref: ScopeRef): Promise<Tuple> {
    return snapshot(this.tupleOf(ref));
  }

  async mutate(ref: ScopeRef, mutation: Mutation, options: WriteOptions): Promise<MutationResult> {
    const tuple = this.tupleOf(ref);
    if (options.ifRevision !== undefined && options.ifRevision !== tuple.revision) {
      throw errors.conflict(ref.sessionId, ref.scope, options.ifRevision, tuple.revision);
    }
    const { changes, removed } = plan(tuple, mutation);
    const bytesAfter = this.checkLimits(tuple, changes);

    const result: MutationResult = { changed: changes.length > 0, revision: tuple.revision, removed };
    if (changes.length > 0) {
      for (const c of changes) {
        if (c.kind === "control") continue;
        if (c.afterText === undefined) tuple.settings.delete(c.key);
        else tuple.settings.set(c.key, c.afterText);
      }
      tuple.bytes = bytesAfter;
      if (mutation.op === "controls") tuple.controls = { ...mutation.controls };
      tuple.revision += 1n;
      result.revision = tuple.revision;
      const entry: HistoryEntry = {
        revision: tuple.revision,
        scope: ref.scope,
        op: mutation.op,
        actor: options.actor,
        source: options.source,
        time: new Date(),
        changes: changes.map(toChange),
      };
      if (options.claimedActor !== undefined) entry.claimedActor = options.claimedActor;
      tuple.history.push(entry);
      if (tuple.history.length > this.config.historyLimit) {
        tuple.history.splice(0, tuple.history.length - this.config.historyLimit);
      }
      this.emit(ref.scope === "default" ? DEFAULT_CHANNEL : ref.sessionId, {
        type: "change",
        sessionId: ref.scope === "default" ? undefined : ref.sessionId,
        entry,
      });
    }
    if (mutation.op === "set" || mutation.op === "path") {
      const text = tuple.settings.get(mutation.key);
      if (text !== undefined) result.value = JSON.parse(text) as JsonValue;
    }
    if (options.withSettings || mutation.op === "controls") result.settings = toObject(tuple.settings);
    if (mutation.op === "controls") result.controls = { ...tuple.controls };
    return result;
  }

  async listHistory(ref: ScopeRef, limit: number, before?: bigint): Promise<HistoryPage> {
    const older = this.tupleOf(ref).history.filter((e) => before === undefined || e.revision < before);
    const entries = older.slice(-limit).reverse();
    const last = entries[entries.length - 1];
    return { entries, nextBefore: older.length > limit && last ? last.revision : undefined };
  }

  async historySince(ref: ScopeRef, after: bigint): Promise<HistoryEntry[]> {
    const tuple = this.tupleOf(ref);
    const oldest = tuple.history[0]?.revision ?? tuple.revision + 1n;
    if (after < tuple.revision && after + 1n < oldest) {
      throw errors.historyTruncated(ref.sessionId, ref.scope, oldest);
    }
    return tuple.history.filter((e) => e.revision > after);
  }

  async subscribe(channel: { sessionId?: string }, listener: Listener): Promise<Unsubscribe> {
    const name = channel.sessionId ?? DEFAULT_CHANNEL;
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(name) === set) this.listeners.delete(name);
    };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private emit(channel: string, event: StoreEvent): void {
    deliver(this.listeners.get(channel) ?? [], event);
  }

  private activeSession(sessionId: string): SessionEntry {
    const entry = this.sessions.get(sessionId);
    if (!entry) throw errors.notFound(sessionId);
    if (entry.record.state === "deleted") throw errors.deleted(sessionId, entry.record.deletedAt!);
    if (entry.record.systemOwned) throw errors.systemSession(sessionId);
    return entry;
  }

  private tupleOf(ref: ScopeRef): TupleState {
    const entry = this.activeSession(ref.sessionId);
    return ref.scope === "default" ? this.defaults : entry.tuple!;
  }

  /** Refuses a write that grows the map past a limit; answers the map's byte total after it. */
  private checkLimits(tuple: TupleState, changes: PlannedChange[]): number {
    const { maxSettingsKeys, maxSettingsBytes } = this.config.limits;
    let keys = tuple.settings.size;
    let bytes = tuple.bytes;
    for (const c of changes) {
      if (c.kind === "control") continue;
      const old = tuple.settings.get(c.key);
      if (old !== undefined) {
        keys -= 1;
        bytes -= utf8Length(c.key) + utf8Length(old);
      }
      if (c.afterText !== undefined) {
        keys += 1;
        bytes += utf8Length(c.key) + utf8Length(c.afterText);
      }
    }
    if (keys > maxSettingsKeys && keys > tuple.settings.size) throw errors.tooLarge("settings keys", maxSettingsKeys);
    if (bytes > maxSettingsBytes && bytes > tuple.bytes) throw errors.tooLarge("settings bytes", maxSettingsBytes);
    return bytes;
  }
}

interface PlannedChange {
  kind: "setting" | "control";
  key: string;
  beforeText?: string;
  afterText?: string;
}

/** Works out what a mutation changes, without changing anything. */
function plan(tuple: TupleState, mutation: Mutation): { changes: PlannedChange[]; removed: boolean } {
  const changes: PlannedChange[] = [];
  const put = (key: string, after: JsonValue | undefined) => {
    const beforeText = tuple.settings.get(key);
    const afterText = after === undefined ? undefined : canonicalJson(after);
    if (beforeText !== afterText) changes.push({ kind: "setting", key, beforeText, afterText });
  };
  const parse = (key: string) => {
    const text = tuple.settings.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
  };
  const replaceAll = (settings: JsonObject) => {
    for (const key of [...tuple.settings.keys()].sort()) {
      if (!Object.prototype.hasOwnProperty.call(settings, key)) put(key, undefined);
    }
    for (const key of Object.keys(settings).sort()) put(key, settings[key]);
  };

  switch (mutation.op) {
    case "set":
      put(mutation.key, mutation.value);
      return { changes, removed: false };
    case "merge":
      for (const key of Object.keys(mutation.settings).sort()) put(key, mutation.settings[key]);
      return { changes, removed: false };
    case "replace":
      replaceAll(mutation.settings);
      return { changes, removed: false };
    case "unset":
      put(mutation.key, undefined);
      return { changes, removed: changes.length > 0 };
    case "path": {
      const result = applyPath(parse(mutation.key), mutation.segments, mutation.pathOp, mutation.value);
      put(mutation.key, result.value);
      return { changes, removed: result.removed };
    }
    case "controls": {
      for (const name of CONTROL_NAMES) {
        const before = tuple.controls[name];
        const after = mutation.controls[name];
        if (before !== after) {
          changes.push({ kind: "control", key: name, beforeText: JSON.stringify(before), afterText: JSON.stringify(after) });
        }
      }
      if (mutation.settings !== undefined) replaceAll(mutation.settings);
      return { changes, removed: false };
    }
  }
}

function toChange(c: PlannedChange): Change {
  const change: Change = { kind: c.kind, key: c.key };
  if (c.beforeText !== undefined) change.before = JSON.parse(c.beforeText) as JsonValue;
  if (c.afterText !== undefined) change.after = JSON.parse(c.afterText) as JsonValue;
  return change;
}

function emptyTuple(controls: ControlFields): TupleState {
  return { controls, settings: new Map(), bytes: 0, revision: 0n, history: [] };
}

function toObject(settings: Map<string, string>): JsonObject {
  const out: JsonObject = {};
  for (const [key, text] of settings) setOwn(out, key, JSON.parse(text) as JsonValue);
  return out;
}

function snapshot(tuple: TupleState): Tuple {
  return { ...tuple.controls, settings: toObject(tuple.settings), revision: tuple.revision };
}
