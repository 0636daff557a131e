// The Redis store (SPEC §6): settings in hashes, every mutation one Lua
// script, history in a stream, events over pub/sub (./subscriptions.ts).
// Script reply codes turn into domain errors in one table (./script-codes.ts);
// what a failed call means for the caller is decided in one place
// (./call-budget.ts); the dataset identity guard (./dataset.ts) refuses to serve
// a Redis that lost its data. Writes are checked against the keys' JSON
// Schemas in Node and confirmed by their script (./schema-view.ts,
// ./checked-write.ts); the schema registry is ./schema-registry.ts. (Over 300
// lines: it is the Store interface's one Redis implementation, each method a
// few commands; the rules live in the modules it names.)
import { Cluster, type Redis } from "ioredis";
import type { Logger } from "../../observe/log.js";
import type { Config } from "../../config.js";
import { errors, type DomainError, type Issue } from "../../domain/errors.js";
import { copiedIssues } from "../../domain/typed-writes.js";
import { encodeCursor, type FeedCursor } from "../../domain/feed.js";
import {
  CONTROL_NAMES,
  type ControlFields,
  type FeedChange,
  type FeedEvent,
  type HistoryEntry,
  type JsonValue,
  type Mutation,
  type MutationResult,
  type ScopeRef,
  type SessionRecord,
  type Tuple,
  type WriteOptions,
} from "../../domain/types.js";
import {
  type HistoryPage,
  type ListedTuple,
  type Provenance,
  type TuplePage,
  type ListedSession,
  type Listener,
  type NewSession,
  type SchemaChange,
  type SchemaPut,
  type SessionPage,
  type SettingsRead,
  type SettingsTexts,
  type Store,
  type Unsubscribe,
} from "../store.js";
import {
  checkFlag,
  objectPairs,
  pairs,
  pairsToObject,
  pairsToStrings,
  parseEvent,
  parseFeedEvent,
  pickControls,
  revisionOf,
  toFeedChange,
  toHistoryEntry,
  toSession,
  type StreamEntry,
} from "./codec.js";
import { createRedisClient, describeRedis, quit, type RedisConnectionConfig } from "./connection.js";
import { DatasetIdentity } from "./dataset.js";
import { RedisKeys, type TupleKeys } from "./keys.js";
import { FeedShards } from "./feed-shards.js";
import { feedArgs, mutationCall, schemaArgs } from "./mutation-call.js";
import { withinBudget, type CallBudget, type CallKind } from "./call-budget.js";
import { RedisSchemaRegistry } from "./schema-registry.js";
import { SchemaView, type CheckedWrite } from "./schema-view.js";
import { checkedWrite } from "./checked-write.js";
import { expectOk, type ReplyFacts } from "./script-codes.js";
import { registerScripts, type ScriptCommands } from "./scripts.js";
import { Subscriptions } from "./subscriptions.js";

type Client = (Redis | Cluster) & ScriptCommands;

/** Says when the connection is lost and when it is back: calls answer unavailable in between. */
function logConnection(client: Redis | Cluster, store: string, log: Logger): void {
  let lost = false;
  client.on("close", () => {
    if (lost) return;
    lost = true;
    log.warn({ store }, "Redis connection lost: calls answer unavailable until it is back");
  });
  client.on("ready", () => {
    if (!lost) return;
    lost = false;
    log.info({ store }, "Redis connection restored");
  });
}

/** How long a refused write keeps the store not ready (readyz 503). */
const REFUSAL_HOLD_MS = 5000;
type RedisConfig = RedisConnectionConfig &
  Pick<Config, "redisPrefix" | "storeTimeoutMs" | "seedDefaults" | "historyLimit" | "limits" | "requestIdLimit" | "feedLimit">;

const BY_DEFAULT: Provenance = { actor: "user", source: "api" };

export class RedisStore implements Store {
  readonly kind: "redis" | "redis-cluster" | "redis-sentinel";
  readonly location: string;
  private readonly keys: RedisKeys;
  private readonly subscriptions: Subscriptions;
  private readonly feeds: FeedShards;
  /** The schema registry as this instance checks writes against it, and the registry itself (issue 24). */
  private readonly schemaView: SchemaView;
  private readonly schemas: RedisSchemaRegistry;
  /** The last refusal (out of memory, read-only, a slot failing over, ...), which keeps the store not ready for a while. */
  private refusal?: { error: Error; at: number };

  private constructor(
    private readonly redis: Client,
    private readonly config: RedisConfig,
    private readonly dataset: DatasetIdentity,
    private readonly now: () => Date,
    private readonly log?: Logger,
  ) {
    this.kind = redis instanceof Cluster ? "redis-cluster" : config.redisSentinels ? "redis-sentinel" : "redis";
    this.location = describeRedis(config);
    this.keys = new RedisKeys(config.redisPrefix);
    this.subscriptions = new Subscriptions(redis, { channels: parseEvent, patterns: parseFeedEvent }, (fn) => this.run(this.budget("read"), fn));
    this.feeds = new FeedShards(redis, this.keys);
    const read = <T>(fn: () => Promise<T>) => this.run(this.budget("read"), fn);
    const write = <T>(fn: () => Promise<T>) => this.run(this.budget("write"), fn);
    this.schemaView = new SchemaView(redis, this.keys, this.feeds, this.subscriptions, read);
    this.schemas = new RedisSchemaRegistry(redis, this.keys, this.feeds, config, read, write);
  }

  /** Connects, claims the dataset identity, loads the functions library (./scripts.ts) and seeds the default tuple. */
  static async connect(config: RedisConfig, { now = () => new Date(), log }: { now?: () => Date; log?: Logger } = {}): Promise<RedisStore> {
    const client = createRedisClient(config);
    client.on("error", () => {
      // Failures reach callers as domain errors; this keeps ioredis from printing every reconnect attempt.
    });
    try {
      await client.connect();
    } catch (cause) {
      client.disconnect();
      throw new Error(`cannot connect to Redis: ${(cause as Error).message}`);
    }
    const keys = new RedisKeys(config.redisPrefix);
    const dataset = new DatasetIdentity(keys.dataset());
    await dataset.claim(client);
    dataset.watch(client, () =>
      log?.error({ store: describeRedis(config) }, "the Redis dataset changed (its data was lost or replaced): every call is refused until a restart"),
    );
    if (log) logConnection(client, describeRedis(config), log);
    const store = new RedisStore(registerScripts(client), config, dataset, now, log);
    await store.run(store.budget("write"), () => store.redis.loadFunctions());
    const d = keys.defaults();
    const seed = config.seedDefaults;
    await store.run(store.budget("write"), () => store.redis.seedDefaults(d.tuple, seed.approvalPolicy, seed.networkAccess, seed.filesystemSandbox));
    return store;
  }

  async requireActiveSession(sessionId: string, budget = this.budget("read")): Promise<void> {
    const [state, systemOwned, deletedAt] = await this.run(budget, () =>
      this.redis.hmget(this.keys.session(sessionId).meta, "state", "systemOwned", "deletedAt"),
    );
    if (!state) throw errors.notFound(sessionId);
    if (state === "deleted") throw errors.deleted(sessionId, new Date(Number(deletedAt)));
    if (systemOwned === "1") throw errors.systemSession(sessionId);
  }

  async createSession(input: NewSession) {
    const budget = this.budget("write");
    const defaults = await this.readTupleAt(this.keys.defaults(), false, input.sessionId, budget);
    const controls: ControlFields = { ...pickControls(defaults), ...input.overrides };
    const k = this.keys.session(input.sessionId);
    const flat = objectPairs(defaults.settings);
    const bytes = flat.reduce((n, s) => n + Buffer.byteLength(s), 0);
    // The list index is in another slot, so it cannot share the script. It is
    // written first, and ListSessions lists an id only when its meta says the
    // session is active and user-owned: a crash between the two leaves an id
    // that is skipped (harmless, and a later create of that id lists it), never
    // a session that is not listed. A retry of a create that crashed after its
    // script writes the index again before it hears SESSION_EXISTS. An index
    // written by earlier versions (ZADD after the script) reads the same way:
    // no migration.
    if (!input.systemOwned) await this.run(budget, () => this.redis.zadd(this.keys.sessionIndex(), 0, input.sessionId));
    const by = input.by ?? BY_DEFAULT;
    const feed = this.feeds.of(k.meta);
    const copies = pairs(flat);
    const { reply, issues } = await this.typedWrite(
      budget,
      () => this.schemaView.checkCopies(feed, (check) => copiedIssues(copies, check)),
      (checked) =>
        this.redis.createSession(
          k.meta, k.tuple, k.settings, k.history,
          input.sessionId, input.cwd, input.createdAt.getTime(), input.systemOwned ? "1" : "0",
          controls.model ?? "", controls.approvalPolicy, controls.networkAccess, controls.filesystemSandbox,
          bytes, k.channel, ...feedArgs(feed, this.config), by.actor, by.source, createdChanges(controls, flat),
          ...schemaArgs(feed, checked).slice(0, 3), ...flat,
        ),
    );
    this.expectOk(reply, { sessionId: input.sessionId, issues });
    const { overrides: _, ...fields } = input;
    const session: SessionRecord = { ...fields, updatedAt: input.createdAt, state: "active" };
    return { session, tuple: { ...controls, settings: defaults.settings, revision: 0n } };
  }

  async getSession(sessionId: string) {
    const budget = this.budget("read");
    const k = this.keys.session(sessionId);
    const [fields, settings] = await this.readTupleFields(k, true, sessionId, budget);
    const meta = await this.run(budget, () => this.redis.hgetall(k.meta));
    return { session: toSession(meta, fields), tuple: this.tupleOf(fields, settings) };
  }

  /**
   * Active user sessions after `after`, by id. The index may hold ids that are
   * not listed (see createSession and deleteSession): each id's meta decides,
   * the page is filled past them, and `nextAfter` is set only when another
   * listed session follows.
   */
  async listSessions(limit: number, after?: string): Promise<SessionPage> {
    const budget = this.budget("read");
    const listed: ListedSession[] = [];
    for (let cursor = after; ; ) {
      const want = limit + 1 - listed.length;
      const ids = await this.run(budget, () =>
        this.redis.zrangebylex(this.keys.sessionIndex(), cursor === undefined ? "-" : `(${cursor}`, "+", "LIMIT", 0, want),
      );
      const rows = await this.run(budget, () =>
        Promise.all(ids.map((id) => Promise.all([this.redis.hgetall(this.keys.session(id).meta), this.redis.hgetall(this.keys.session(id).tuple)]))),
      );
      for (const [meta, t] of rows) {
        if (meta.state === "active" && meta.systemOwned !== "1") listed.push({ session: toSession(meta, t), controls: this.controlsOf(t) });
      }
      if (listed.length > limit || ids.length < want) break;
      cursor = ids[ids.length - 1];
    }
    const sessions = listed.slice(0, limit);
    return { sessions, nextAfter: listed.length > limit ? sessions[limit - 1]!.session.sessionId : undefined };
  }

  async deleteSession(sessionId: string, at: Date, by = BY_DEFAULT) {
    const budget = this.budget("write");
    const k = this.keys.session(sessionId);
    const reply = await this.run(budget, () =>
      this.redis.deleteSession(
        k.meta, k.tuple, k.settings, k.history, k.requests, k.requestOrder,
        at.getTime(), k.channel, by.actor, by.source, ...feedArgs(this.feeds.of(k.meta), this.config),
      ),
    );
    this.expectOk(reply, { sessionId });
    // After the tombstone: an id whose removal is lost (a crash, Redis full) is
    // skipped by ListSessions. Removing frees memory, so Redis allows it when full.
    await this.run(budget, () => this.redis.zrem(this.keys.sessionIndex(), sessionId));
    return { deletedAt: at };
  }

  async readSettings(ref: ScopeRef, key?: string): Promise<SettingsRead> {
    const budget = this.budget("read");
    const k = await this.target(ref, budget);
    const reply = await this.run(budget, () =>
      this.redis.readScope(k.meta, k.tuple, k.settings, checkFlag(ref), key === undefined ? "map" : "key", key ?? ""),
    );
    this.expectOk(reply, ref);
    const revision = BigInt(reply[1] as string);
    if (key === undefined) return { settings: pairsToObject(reply[2] as string[]), revision };
    const text = reply[2] as string | null;
    return { found: text !== null, value: text === null ? null : (JSON.parse(text) as JsonValue), revision };
  }

  async readSettingsTexts(ref: ScopeRef, known?: bigint): Promise<SettingsTexts> {
    const budget = this.budget("read");
    const k = await this.target(ref, budget);
    const reply = await this.run(budget, () => this.redis.readScope(k.meta, k.tuple, k.settings, checkFlag(ref), "map", known?.toString() ?? ""));
    this.expectOk(reply, ref);
    const revision = BigInt(reply[1] as string);
    return reply.length < 3 ? { revision } : { revision, entries: pairs(reply[2] as string[]) };
  }

  async readTuple(ref: ScopeRef): Promise<Tuple> {
    const budget = this.budget("read");
    return this.readTupleAt(await this.target(ref, budget), ref.scope === "session", ref.sessionId, budget);
  }

  async mutate(ref: ScopeRef, mutation: Mutation, options: WriteOptions): Promise<MutationResult> {
    const budget = this.budget("write", options.requestId);
    const k = await this.target(ref, budget);
    const feed = this.feeds.of(k.tuple);
    const time = this.now();
    const { reply, issues } = await this.typedWrite(
      budget,
      (moved) => this.schemaView.checkWrite(feed, mutation, (key) => (moved ? Promise.resolve(moved.text) : this.run(budget, () => this.redis.hget(k.settings, key)))),
      (checked) => {
        const [script, args] = mutationCall(k, feed, ref, mutation, options, this.config, time, checked);
        return this.redis[script](...args);
      },
      mutation.op === "path" ? { hash: k.settings, mutation } : undefined,
    );
    this.expectOk(reply, { ...ref, ifRevision: options.ifRevision, requestId: options.requestId, issues });
    const result: MutationResult = {
      changed: reply[1] === 1,
      revision: BigInt(reply[2] as string),
      removed: reply[3] === 1,
    };
    if (typeof reply[4] === "string") result.value = JSON.parse(reply[4]) as JsonValue;
    if (Array.isArray(reply[5])) result.settingsEntries = pairs(reply[5] as string[]);
    if (reply[6] === 1) result.replayed = true;
    if (mutation.op === "controls") {
      result.controls = result.replayed ? pickControls(await this.readTupleAt(k, false, ref.sessionId, budget)) : { ...mutation.controls };
    }
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
    return this.subscriptions.subscribe(name, listener);
  }

  async subscribeFeed(listener: (event: FeedEvent) => void): Promise<Unsubscribe> {
    return this.subscriptions.subscribePattern(this.keys.channelPattern(), listener);
  }

  async feedHead(): Promise<FeedCursor> {
    const heads = await this.readShards(this.feeds.all().map((f) => f.shard), 0n, 0);
    return new Map(heads.map((h) => [h.shard, h.newest]));
  }

  /** At most `limit` changes from each shard read. */
  async readFeed(after: FeedCursor, limit: number, shard?: string): Promise<FeedChange[]> {
    const shards = shard === undefined ? this.feeds.all().map((f) => f.shard) : [shard];
    const read = await Promise.all(shards.map((s) => this.readShards([s], after.get(s) ?? 0n, limit)));
    const replies = read.flat();
    const truncated = replies.some((r) => r.from < r.newest && r.from + 1n < r.oldest);
    if (truncated) {
      const all = await this.readShards(this.feeds.all().map((f) => f.shard), 0n, 0);
      throw errors.feedTruncated(encodeCursor(new Map(all.map((r) => [r.shard, r.oldest - 1n]))));
    }
    return replies.flatMap((r) => r.entries.map((e) => toFeedChange(e, r.shard)));
  }

  async listTuples(limit: number, after?: string): Promise<TuplePage> {
    const budget = this.budget("read");
    const tuples: ListedTuple[] = [];
    if (after === undefined) tuples.push({ sessionId: "", scope: "default", tuple: await this.readTupleAt(this.keys.defaults(), false, "", budget) });
    const room = limit - tuples.length;
    const page = room > 0 ? await this.listSessions(room, after === "" ? undefined : after) : { sessions: [], nextAfter: "" };
    const read = await Promise.all(
      page.sessions.map(async ({ session }): Promise<ListedTuple | undefined> => {
        try {
          return { sessionId: session.sessionId, scope: "session", tuple: await this.readTupleAt(this.keys.session(session.sessionId), true, session.sessionId, budget) };
        } catch (err) {
          // Deleted since it was listed: a listing shows what is active when each page is read.
          if ((err as DomainError).reason === "SESSION_DELETED") return undefined;
          throw err;
        }
      }),
    );
    for (const t of read) if (t) tuples.push(t);
    const nextAfter = page.nextAfter === undefined ? undefined : page.sessions.length > 0 ? page.sessions[page.sessions.length - 1]!.session.sessionId : "";
    return { tuples, nextAfter };
  }

  putSchema(change: SchemaPut) {
    return this.schemas.put(change);
  }

  deleteSchema(change: SchemaChange) {
    return this.schemas.delete(change);
  }

  getSchema(key: string, historyLimit: number) {
    return this.schemas.get(key, historyLimit);
  }

  listSchemas() {
    return this.schemas.list();
  }

  listViolations(key: string, limit: number) {
    return this.schemas.violations(key, limit);
  }

  /** A write checked against the schemas, sent again while they (or the value checked) move under it (./checked-write.ts). */
  private typedWrite(
    budget: CallBudget,
    check: (moved?: { text: string | null }) => Promise<CheckedWrite>,
    send: (checked: CheckedWrite) => Promise<unknown[]>,
    path?: { hash: string; mutation: Extract<Mutation, { op: "path" }> },
  ): Promise<{ reply: unknown[]; issues: Issue[] }> {
    return checkedWrite({ view: this.schemaView, run: (b, fn) => this.run(b, fn), budget, check, send, path });
  }

  /** Each shard's newest seq and oldest retained one, with up to `count` entries after `from`. */
  private async readShards(shards: string[], from: bigint, count: number) {
    const budget = this.budget("read");
    return Promise.all(
      shards.map(async (shard) => {
        const feed = this.feeds.named(shard);
        if (!feed) throw errors.unavailable(`the change feed has no shard ${JSON.stringify(shard)} now (Redis Cluster's slots moved): list again`);
        const [newest, oldestId, entries] = (await this.run(budget, () => this.redis.readFeed(feed.seq, feed.log, from.toString(), count, this.config.feedLimit))) as [string, string | false, StreamEntry[]];
        const last = BigInt(newest);
        return { shard, from, newest: last, oldest: oldestId ? revisionOf(oldestId) : last + 1n, entries };
      }),
    );
  }

  /**
   * Ready means writable: no call refused in the last REFUSAL_HOLD_MS (a
   * small probe may pass where real writes are refused for memory, and on a
   * cluster it writes one slot while a failed-over master's slots refuse),
   * and a small expiring write goes through now (Redis up, not read-only,
   * our dataset).
   */
  async ping(): Promise<void> {
    if (this.refusal && Date.now() - this.refusal.at < REFUSAL_HOLD_MS) throw this.refusal.error;
    await this.run(this.budget("write"), () => this.redis.set(this.keys.readinessProbe(), String(Date.now()), "PX", 60_000));
  }

  /** Says goodbye politely (QUIT), but never waits on a Redis that does not answer. */
  async close(): Promise<void> {
    const within = Math.min(1000, this.config.storeTimeoutMs);
    await Promise.all([this.subscriptions.close(within), quit(this.redis, within)]);
  }

  /** The keys of a tuple; the default tuple's slot cannot see the session, so it is checked first. */
  private async target(ref: ScopeRef, budget: CallBudget): Promise<TupleKeys> {
    if (ref.scope === "default") await this.requireActiveSession(ref.sessionId, budget);
    return this.keys.of(ref);
  }

  private async readTupleAt(k: TupleKeys, checkSession: boolean, sessionId: string, budget: CallBudget): Promise<Tuple> {
    return this.tupleOf(...(await this.readTupleFields(k, checkSession, sessionId, budget)));
  }

  /** One consistent read of a tuple's own hash and its settings. */
  private async readTupleFields(k: TupleKeys, checkSession: boolean, sessionId: string, budget: CallBudget): Promise<[Record<string, string>, string[]]> {
    const reply = await this.run(budget, () => this.redis.readScope(k.meta, k.tuple, k.settings, checkSession ? "1" : "0", "tuple", ""));
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
    const budget = this.budget("read");
    const k = await this.target(ref, budget);
    const reply = await this.run(budget, () => this.redis.readHistory(k.meta, k.tuple, k.history, checkFlag(ref), mode, revision, count, this.config.historyLimit));
    this.expectOk(reply, ref);
    return reply;
  }

  private expectOk(reply: unknown[], facts: Partial<ReplyFacts> & { sessionId: string }): void {
    expectOk(reply, { scope: "session", limits: this.config.limits, ...facts });
  }

  /** One store operation's budget: STORE_TIMEOUT_MS for all its commands together. */
  private budget(kind: CallKind, requestId?: string): CallBudget {
    return {
      deadline: Date.now() + this.config.storeTimeoutMs,
      kind,
      requestId,
      onRefusal: this.holdNotReady,
      // A cluster's readiness probe writes one slot: it cannot see a node that is down.
      onUnreachable: this.redis instanceof Cluster ? this.holdNotReady : undefined,
    };
  }

  /** Keeps the store not ready for REFUSAL_HOLD_MS, saying so once per hold (a full Redis refuses every write). */
  private readonly holdNotReady = (error: DomainError): void => {
    if (!this.refusal || Date.now() - this.refusal.at >= REFUSAL_HOLD_MS) this.log?.warn({ store: this.location, cause: error.message }, "Redis refused a write");
    this.refusal = { error, at: Date.now() };
  };

  /** Runs one command within `budget`, on a dataset this server still recognizes. */
  private run<T>(budget: CallBudget, fn: () => Promise<T>): Promise<T> {
    this.dataset.assertSame();
    return withinBudget(budget, () => this.redis.status === "ready", fn);
  }
}

/** A new session's feed entry: its controls, then its settings in change order (`pairs` is key, JSON text, ...). */
function createdChanges(controls: ControlFields, pairs: string[]): string {
  const parts = CONTROL_NAMES.map((name) => `{"kind":"control","key":"${name}","after":${JSON.stringify(controls[name])}}`);
  for (let i = 0; i < pairs.length; i += 2) parts.push(`{"kind":"setting","key":${JSON.stringify(pairs[i])},"after":${pairs[i + 1]}}`);
  return `[${parts.join(",")}]`;
}
