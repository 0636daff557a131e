// The Redis store (SPEC §6): settings in hashes, every mutation one Lua
// script, history in a stream, events over pub/sub. Script error codes are
// turned into domain errors in one function, `expectOk`.
import { Cluster, Redis, ReplyError, type RedisOptions } from "ioredis";
import type { Config } from "../../config.js";
import { DomainError, errors } from "../../domain/errors.js";
import { mutationFingerprint } from "../../domain/fingerprint.js";
import { canonicalJson, compareKeys, setOwn } from "../../domain/json.js";
import type {
  Change,
  ControlFields,
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
} from "../../domain/types.js";
import { deliver, type HistoryPage, type Listener, type NewSession, type SessionPage, type SettingsRead, type Store, type Unsubscribe } from "../store.js";
import { RedisKeys, type TupleKeys } from "./keys.js";
import { expectOk, type ReplyFacts } from "./script-codes.js";
import { registerScripts, type ScriptCommands } from "./scripts.js";

type Client = (Redis | Cluster) & ScriptCommands;
type RedisConfig = Pick<
  Config,
  "redisUrl" | "redisClusterNodes" | "redisPrefix" | "storeTimeoutMs" | "seedDefaults" | "historyLimit" | "limits" | "requestIdLimit"
>;

export class RedisStore implements Store {
  readonly kind: "redis" | "redis-cluster";
  private readonly keys: RedisKeys;
  private subscriber?: Promise<Redis | Cluster>;
  private readonly channels = new Map<string, { listeners: Set<Listener>; ready: Promise<void> }>();

  private constructor(
    private readonly redis: Client,
    private readonly config: RedisConfig,
    private readonly now: () => Date,
  ) {
    this.kind = redis instanceof Cluster ? "redis-cluster" : "redis";
    this.keys = new RedisKeys(config.redisPrefix);
  }

  /** The server(s), without credentials. */
  get location(): string {
    if (this.config.redisClusterNodes) return this.config.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(",");
    const url = new URL(this.config.redisUrl!);
    return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  }

  /** Connects, registers the scripts and seeds the default tuple. */
  static async connect(config: RedisConfig, now: () => Date = () => new Date()): Promise<RedisStore> {
    const options: RedisOptions = {
      lazyConnect: true,
      connectTimeout: config.storeTimeoutMs,
      commandTimeout: config.storeTimeoutMs,
      // Fail fast while Redis is away instead of queueing writes for replay
      // behind the caller's back; reconnect in the background.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Commands issued in the same tick share one socket write: under load the write
      // syscall, not Redis, was the largest cost of a call (bench --profile).
      enableAutoPipelining: true,
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
    };
    const client = config.redisClusterNodes
      ? new Cluster(config.redisClusterNodes, { lazyConnect: true, redisOptions: options, enableOfflineQueue: false, enableAutoPipelining: true })
      : new Redis(config.redisUrl!, options);
    client.on("error", () => {
      // Failures surface to callers as STORE_UNAVAILABLE; this keeps ioredis
      // from printing every reconnect attempt.
    });
    try {
      await client.connect();
    } catch (cause) {
      client.disconnect();
      throw new Error(`cannot connect to Redis: ${(cause as Error).message}`);
    }
    const store = new RedisStore(registerScripts(client), config, now);
    const d = store.keys.defaults();
    const seed = config.seedDefaults;
    await store.call(() => store.redis.seedDefaults(d.tuple, seed.approvalPolicy, seed.networkAccess, seed.filesystemSandbox));
    return store;
  }

  async requireActiveSession(sessionId: string): Promise<void> {
    const [state, systemOwned, deletedAt] = await this.call(() =>
      this.redis.hmget(this.keys.session(sessionId).meta, "state", "systemOwned", "deletedAt"),
    );
    if (!state) throw errors.notFound(sessionId);
    if (state === "deleted") throw errors.deleted(sessionId, new Date(Number(deletedAt)));
    if (systemOwned === "1") throw errors.systemSession(sessionId);
  }

  async createSession(input: NewSession) {
    const defaults = await this.readTupleAt(this.keys.defaults(), false, input.sessionId);
    const controls: ControlFields = { ...pickControls(defaults), ...input.overrides };
    const k = this.keys.session(input.sessionId);
    const pairs = objectPairs(defaults.settings);
    const bytes = pairs.reduce((n, s) => n + Buffer.byteLength(s), 0);
    const reply = await this.call(() =>
      this.redis.createSession(
        k.meta, k.tuple, k.settings, k.history,
        input.sessionId, input.cwd, input.createdAt.getTime(), input.systemOwned ? "1" : "0",
        controls.model ?? "", controls.approvalPolicy, controls.networkAccess, controls.filesystemSandbox,
        bytes, ...pairs,
      ),
    );
    this.expectOk(reply, { sessionId: input.sessionId });
    if (!input.systemOwned) await this.call(() => this.redis.zadd(this.keys.sessionIndex(), 0, input.sessionId));
    const { overrides: _, ...fields } = input;
    const session: SessionRecord = { ...fields, updatedAt: input.createdAt, state: "active" };
    return { session, tuple: { ...controls, settings: defaults.settings, revision: 0n } };
  }

  async getSession(sessionId: string) {
    const k = this.keys.session(sessionId);
    const [fields, settings] = await this.readTupleFields(k, true, sessionId);
    const meta = await this.call(() => this.redis.hgetall(k.meta));
    return { session: toSession(meta, fields), tuple: this.tupleOf(fields, settings) };
  }

  async listSessions(limit: number, after?: string): Promise<SessionPage> {
    const ids = await this.call(() =>
      this.redis.zrangebylex(this.keys.sessionIndex(), after === undefined ? "-" : `(${after}`, "+", "LIMIT", 0, limit + 1),
    );
    const page = ids.slice(0, limit);
    const rows = await this.call(() =>
      Promise.all(page.map((id) => Promise.all([this.redis.hgetall(this.keys.session(id).meta), this.redis.hgetall(this.keys.session(id).tuple)]))),
    );
    return {
      sessions: rows.filter(([meta]) => meta.state === "active").map(([meta, t]) => ({ session: toSession(meta, t), controls: this.controlsOf(t) })),
      nextAfter: ids.length > limit ? page[page.length - 1] : undefined,
    };
  }

  async deleteSession(sessionId: string, at: Date) {
    const k = this.keys.session(sessionId);
    const event = JSON.stringify({ type: "deleted", sessionId, deletedAt: at.getTime() });
    const reply = await this.call(() =>
      this.redis.deleteSession(k.meta, k.tuple, k.settings, k.history, k.requests, k.requestOrder, at.getTime(), k.channel, event),
    );
    this.expectOk(reply, { sessionId });
    await this.call(() => this.redis.zrem(this.keys.sessionIndex(), sessionId));
    return { deletedAt: at };
  }

  async readSettings(ref: ScopeRef, key?: string): Promise<SettingsRead> {
    const k = await this.target(ref);
    const reply = await this.call(() =>
      this.redis.readScope(k.meta, k.tuple, k.settings, checkFlag(ref), key === undefined ? "map" : "key", key ?? ""),
    );
    this.expectOk(reply, ref);
    const revision = BigInt(reply[1] as string);
    if (key === undefined) return { settings: pairsToObject(reply[2] as string[]), revision };
    const text = reply[2] as string | null;
    return { found: text !== null, value: text === null ? null : (JSON.parse(text) as JsonValue), revision };
  }

  async readTuple(ref: ScopeRef): Promise<Tuple> {
    return this.readTupleAt(await this.target(ref), ref.scope === "session", ref.sessionId);
  }

  async mutate(ref: ScopeRef, mutation: Mutation, options: WriteOptions): Promise<MutationResult> {
    const k = await this.target(ref);
    const [script, args] = mutationCall(k, ref, mutation, options, this.config, this.now());
    const reply = await this.call(() => this.redis[script](...args));
    this.expectOk(reply, { ...ref, ifRevision: options.ifRevision, requestId: options.requestId });
    const result: MutationResult = {
      changed: reply[1] === 1,
      revision: BigInt(reply[2] as number),
      removed: reply[3] === 1,
    };
    if (typeof reply[4] === "string") result.value = JSON.parse(reply[4]) as JsonValue;
    if (Array.isArray(reply[5])) result.settings = pairsToObject(reply[5] as string[]);
    if (reply[6] === 1) result.replayed = true;
    if (mutation.op === "controls") result.controls = result.replayed ? pickControls(await this.readTuple(ref)) : { ...mutation.controls };
    return result;
  }

  async listHistory(ref: ScopeRef, limit: number, before?: bigint): Promise<HistoryPage> {
    const reply = await this.readHistory(ref, "before", before?.toString() ?? "", limit + 1);
    const entries = (reply[3] as StreamEntry[]).map((e) => toHistoryEntry(e, ref.scope));
    const page = entries.slice(0, limit);
    return { entries: page, nextBefore: entries.length > limit ? page[page.length - 1]!.revision : undefined };
  }

  async historySince(ref: ScopeRef, after: bigint): Promise<HistoryEntry[]> {
    const reply = await this.readHistory(ref, "since", after.toString(), 0);
    const current = BigInt(reply[1] as string);
    const oldest = typeof reply[2] === "string" ? revisionOf(reply[2]) : current + 1n;
    if (after < current && after + 1n < oldest) throw errors.historyTruncated(ref.sessionId, ref.scope, oldest);
    return (reply[3] as StreamEntry[]).map((e) => toHistoryEntry(e, ref.scope));
  }

  async subscribe(channel: { sessionId?: string }, listener: Listener): Promise<Unsubscribe> {
    const name = channel.sessionId === undefined ? this.keys.defaults().channel : this.keys.session(channel.sessionId).channel;
    const subscriber = await this.ensureSubscriber();
    let entry = this.channels.get(name);
    if (!entry) {
      // Later listeners of the same channel wait for the same SUBSCRIBE acknowledgement.
      entry = { listeners: new Set(), ready: this.call(() => subscriber.subscribe(name)).then(() => undefined) };
      this.channels.set(name, entry);
      entry.ready.catch(() => {
        if (this.channels.get(name) === entry) this.channels.delete(name);
      });
    }
    entry.listeners.add(listener);
    const unsubscribe = () => {
      entry.listeners.delete(listener);
      if (entry.listeners.size === 0 && this.channels.get(name) === entry) {
        this.channels.delete(name);
        subscriber.unsubscribe(name).catch(() => {});
      }
    };
    try {
      await entry.ready;
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  async ping(): Promise<void> {
    await this.call(() => this.redis.ping());
  }

  async close(): Promise<void> {
    this.channels.clear();
    const subscriber = await this.subscriber?.catch(() => undefined);
    await Promise.allSettled([subscriber?.quit(), this.redis.quit()]);
  }

  /**
   * One shared subscriber connection per process, multiplexed over listeners.
   * When it drops, every listener hears "unavailable": messages published
   * while it was away are lost, so watchers must not carry on as if whole.
   */
  private ensureSubscriber(): Promise<Redis | Cluster> {
    if (this.subscriber) return this.subscriber;
    const subscriber = this.redis.duplicate();
    subscriber.on("error", () => {});
    subscriber.on("message", (channel: string, message: string) => {
      const entry = this.channels.get(channel);
      if (entry) deliver(entry.listeners, parseEvent(message));
    });
    subscriber.on("close", () => {
      for (const entry of this.channels.values()) deliver(entry.listeners, { type: "unavailable" });
    });
    this.subscriber = this.call(() => subscriber.connect()).then(() => subscriber);
    this.subscriber.catch(() => {
      this.subscriber = undefined;
      subscriber.disconnect();
    });
    return this.subscriber;
  }

  /** The keys of a tuple; the default tuple's slot cannot see the session, so it is checked first. */
  private async target(ref: ScopeRef): Promise<TupleKeys> {
    if (ref.scope === "default") await this.requireActiveSession(ref.sessionId);
    return this.keys.of(ref);
  }

  private async readTupleAt(k: TupleKeys, checkSession: boolean, sessionId: string): Promise<Tuple> {
    return this.tupleOf(...(await this.readTupleFields(k, checkSession, sessionId)));
  }

  /** One consistent read of a tuple's own hash and its settings. */
  private async readTupleFields(k: TupleKeys, checkSession: boolean, sessionId: string): Promise<[Record<string, string>, string[]]> {
    const reply = await this.call(() => this.redis.readScope(k.meta, k.tuple, k.settings, checkSession ? "1" : "0", "tuple", ""));
    this.expectOk(reply, { sessionId });
    return [pairsToStrings(reply[1] as string[]), reply[2] as string[]];
  }

  private tupleOf(t: Record<string, string>, settings: string[]): Tuple {
    return { ...this.controlsOf(t), settings: pairsToObject(settings), revision: BigInt(t.revision ?? "0") };
  }

  private controlsOf(t: Record<string, string>): ControlFields {
    const seed = this.config.seedDefaults;
    return {
      model: t.model ?? null,
      approvalPolicy: (t.approvalPolicy ?? seed.approvalPolicy) as Tuple["approvalPolicy"],
      networkAccess: (t.networkAccess ?? seed.networkAccess) as Tuple["networkAccess"],
      filesystemSandbox: (t.filesystemSandbox ?? seed.filesystemSandbox) as Tuple["filesystemSandbox"],
    };
  }

  private async readHistory(ref: ScopeRef, mode: "since" | "before", revision: string, count: number) {
    const k = await this.target(ref);
    const reply = await this.call(() => this.redis.readHistory(k.meta, k.tuple, k.history, checkFlag(ref), mode, revision, count));
    this.expectOk(reply, ref);
    return reply;
  }

  private expectOk(reply: unknown[], facts: Partial<ReplyFacts> & { sessionId: string }): void {
    expectOk(reply, { scope: "session", limits: this.config.limits, ...facts });
  }

  /** Runs a Redis call; connection failures and timeouts become STORE_UNAVAILABLE. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      if (cause instanceof DomainError || cause instanceof ReplyError) throw cause;
      throw errors.unavailable(cause);
    }
  }
}

type StreamEntry = [id: string, fields: string[]];

type MutationScript = "setEntries" | "replaceSettings" | "unsetSetting" | "setPath" | "applyControls";

type WriteConfig = Pick<Config, "limits" | "historyLimit" | "requestIdLimit">;

/**
 * The script and arguments of one mutation: the frame every write script
 * reads (includes/write.lua), then the operation's own arguments. Exported
 * so the benchmark can call the very same script directly.
 */
export function mutationCall(
  k: TupleKeys,
  ref: ScopeRef,
  m: Mutation,
  options: WriteOptions,
  config: WriteConfig,
  time: Date,
): [MutationScript, (string | number)[]] {
  const fingerprint = options.requestId === undefined ? "" : mutationFingerprint(ref.scope, m, options.ifRevision);
  const frame = [
    k.meta, k.tuple, k.settings, k.history, k.requests, k.requestOrder,
    checkFlag(ref), options.ifRevision?.toString() ?? "", time.getTime(), options.actor, options.source,
    config.historyLimit, k.channel, config.limits.maxSettingsKeys, config.limits.maxSettingsBytes,
    options.withSettings || m.op === "controls" ? "1" : "0", ref.scope, ref.scope === "default" ? "" : ref.sessionId,
    options.claimedActor ?? "", options.requestId ?? "", fingerprint, config.requestIdLimit,
  ];
  switch (m.op) {
    case "set":
      return ["setEntries", [...frame, "set", m.key, canonicalJson(m.value)]];
    case "merge":
      return ["setEntries", [...frame, "merge", ...objectPairs(m.settings)]];
    case "replace":
      return ["replaceSettings", [...frame, ...objectPairs(m.settings)]];
    case "unset":
      return ["unsetSetting", [...frame, m.key]];
    case "path":
      return ["setPath", [...frame, m.pathOp, canonicalJson(m.value), m.key, ...m.segments]];
    case "controls": {
      const c = m.controls;
      const settings = m.settings === undefined ? ["0"] : ["1", ...objectPairs(m.settings)];
      return ["applyControls", [...frame, c.model ?? "", c.approvalPolicy, c.networkAccess, c.filesystemSandbox, ...settings]];
    }
  }
}

function checkFlag(ref: ScopeRef): string {
  return ref.scope === "session" ? "1" : "0";
}

/** Key, JSON pairs in the engine's change order (code point order of keys). */
function objectPairs(settings: JsonObject): string[] {
  return Object.keys(settings).sort(compareKeys).flatMap((key) => [key, canonicalJson(settings[key]!)]);
}

function pairsToStrings(flat: string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

function pairsToObject(flat: string[]): JsonObject {
  const out: JsonObject = {};
  for (let i = 0; i < flat.length; i += 2) setOwn(out, flat[i]!, JSON.parse(flat[i + 1]!) as JsonValue);
  return out;
}

function pickControls(t: ControlFields): ControlFields {
  return { model: t.model, approvalPolicy: t.approvalPolicy, networkAccess: t.networkAccess, filesystemSandbox: t.filesystemSandbox };
}

/** A session from its meta hash and its tuple's hash (which keeps updatedAt). */
function toSession(meta: Record<string, string>, tuple: Record<string, string>): SessionRecord {
  const createdAt = new Date(Number(meta.createdAt));
  const session: SessionRecord = {
    sessionId: meta.sessionId!,
    cwd: meta.cwd ?? "",
    createdAt,
    updatedAt: tuple.updatedAt ? new Date(Number(tuple.updatedAt)) : createdAt,
    systemOwned: meta.systemOwned === "1",
    state: meta.state === "deleted" ? "deleted" : "active",
  };
  if (meta.deletedAt) session.deletedAt = new Date(Number(meta.deletedAt));
  return session;
}

function revisionOf(streamId: string): bigint {
  return BigInt(streamId.slice(0, streamId.indexOf("-")));
}

function toHistoryEntry([id, fields]: StreamEntry, scope: Scope): HistoryEntry {
  const f = pairsToStrings(fields);
  const entry: HistoryEntry = {
    revision: revisionOf(id),
    scope,
    op: f.op as HistoryEntry["op"],
    actor: f.actor!,
    source: f.source!,
    time: new Date(Number(f.time)),
    changes: JSON.parse(f.changes!) as Change[],
  };
  if (f.claimedActor !== undefined) entry.claimedActor = f.claimedActor;
  if (f.path !== undefined) entry.path = JSON.parse(f.path) as HistoryEntry["path"];
  return entry;
}

function parseEvent(message: string): StoreEvent {
  const e = JSON.parse(message) as {
    type: "change" | "deleted"; sessionId: string; deletedAt: number; scope: Scope; revision: number;
    op: HistoryEntry["op"]; actor: string; claimedActor?: string; source: string; time: number; changes: Change[];
    path?: HistoryEntry["path"];
  };
  if (e.type === "deleted") return { type: "deleted", sessionId: e.sessionId, deletedAt: new Date(e.deletedAt) };
  return {
    type: "change",
    sessionId: e.scope === "default" ? undefined : e.sessionId,
    entry: {
      revision: BigInt(e.revision), scope: e.scope, op: e.op, actor: e.actor, source: e.source,
      time: new Date(e.time), changes: e.changes,
      ...(e.claimedActor !== undefined && { claimedActor: e.claimedActor }),
      ...(e.path !== undefined && { path: e.path }),
    },
  };
}
