// What one server instance knows of the schema registry on Redis, and how a
// write is checked against it. A Lua script cannot run a JSON Schema
// validator, so Node checks each write (src/domain/typed-writes.ts) and the
// script commits it only if that check still holds (lua/includes/schema.lua):
//   - every write names the schema generation of its shard that this view was
//     read at; every schema change moves every shard's generation after it
//     changes the registry (./schema-registry.ts), so a write checked against
//     an older registry answers SCHEMA_STALE, and is checked again after the
//     view is read anew. Generations are read before the registry, so a view
//     is never older than the generations it carries;
//   - a path write into a key with a schema depends on the stored value: Node
//     reads that key's text, checks the result, and the script commits only
//     if the text is still the same (compare-and-set), else SCHEMA_STALE.
// So validation sees exactly the value committed, under exactly the schemas
// committed, without a lock, and a write that touches no key with a schema
// keeps its single round trip (the generation check is one GET in the script).
//
// Each instance hears of a schema change at once on the registry's channel
// (one more subscription on the existing subscriber connection) and reads
// the view again. A lost message, or a subscriber connection that dropped,
// costs at most one SCHEMA_STALE retry: correctness rests on the generation
// check in every write, never on pub/sub.
//
// While a registration checks stored values, the new schema is pending beside
// the current one, and a write of that key must satisfy both.
import type { Cluster, Redis } from "ioredis";
import type { Issue } from "../../domain/errors.js";
import { SchemaValidators, type ValueCheck } from "../../domain/schemas.js";
import { NO_SCHEMAS, readsSchemaKey, writeIssues, type SchemaCheck } from "../../domain/typed-writes.js";
import type { JsonValue, Mutation } from "../../domain/types.js";
import type { Unsubscribe } from "../store.js";
import type { FeedShard, FeedShards } from "./feed-shards.js";
import type { RedisKeys } from "./keys.js";
import type { SchemaArgs } from "./mutation-call.js";
import type { Subscriptions } from "./subscriptions.js";

/** Runs one Redis command within a fresh budget of the store's (reads). */
export type Read = <T>(fn: () => Promise<T>) => Promise<T>;

/** A schema as the registry hash holds it: its text, and a pending registration's. */
export interface RegistryEntry {
  text?: string;
  /** Its record: revision, time (ms), actor, source. */
  record?: { revision: number; time: number; actor: string; source: string };
  pending?: string;
}

/** The registry hash's fields (lua/begin-schema-1.lua) by key. */
export function registryEntries(fields: Record<string, string>): Map<string, RegistryEntry> {
  const entries = new Map<string, RegistryEntry>();
  for (const [field, value] of Object.entries(fields)) {
    const key = field.slice(2);
    const entry = entries.get(key) ?? {};
    if (field.startsWith("s:")) entry.text = value;
    else if (field.startsWith("m:")) entry.record = JSON.parse(value) as RegistryEntry["record"];
    else if (field.startsWith("p:")) entry.pending = value;
    else continue;
    entries.set(key, entry);
  }
  return entries;
}

interface View {
  /** Shard name -> the schema generation read. */
  generations: Map<string, string>;
  check: SchemaCheck;
  typed: boolean;
}

/** A write's schema arguments, and the issues its check found. */
export type CheckedWrite = SchemaArgs & { issues: Issue[] };

export class SchemaView {
  private readonly validators = new SchemaValidators();
  private current?: View;
  private loading?: Promise<View>;
  /** Moves whenever the view may be out of date, so that a read begun before is not kept. */
  private epoch = 0;
  private following?: Promise<Unsubscribe>;
  /** The last path write queued per (settings hash, key with a schema), for serially(). */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: RedisKeys,
    private readonly feeds: FeedShards,
    private readonly subscriptions: Subscriptions,
    private readonly read: Read,
  ) {}

  /** The view may be out of date (a script said SCHEMA_STALE, or the registry announced a change). */
  stale(): void {
    this.epoch++;
    this.current = undefined;
  }

  /** Checks `m`, written to a tuple of `shard`; `stored` reads a key's text, for a path write into a key with a schema. */
  async checkWrite(shard: FeedShard, m: Mutation, stored: (key: string) => Promise<string | null>): Promise<CheckedWrite> {
    const view = await this.viewOf(shard);
    const generation = view.generations.get(shard.shard)!;
    if (!view.typed) return { generation, verdict: "ok", casKey: "", casText: "", issues: [] };
    let casKey = "";
    let casText = "";
    let current: JsonValue | undefined;
    if (readsSchemaKey(m, view.check)) {
      const text = await stored(m.key);
      casKey = m.key;
      casText = text ?? "";
      current = text === null ? undefined : (JSON.parse(text) as JsonValue);
    }
    const issues = writeIssues(m, () => current, view.check);
    return { generation, verdict: issues.length > 0 ? "invalid" : "ok", casKey, casText, issues };
  }

  /** Whether `m` may be a path write into a key with a schema (so its tries should take turns: serially()). */
  readsStored(m: Mutation): boolean {
    return m.op === "path" && (this.current === undefined || this.current.check.has(m.key));
  }

  /**
   * Runs path writes into one key with a schema from this instance one at a
   * time, each with all its tries: concurrent ones would only make each
   * other's compare-and-set fail, and a write sent to the back of the line
   * to try again would find the value moved again.
   */
  serially<T>(hash: string, key: string, write: () => Promise<T>): Promise<T> {
    const name = `${hash}\u0000${key}`;
    const run = (this.queues.get(name) ?? Promise.resolve()).then(write);
    const done = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(name, done);
    void done.then(() => {
      if (this.queues.get(name) === done) this.queues.delete(name);
    });
    return run;
  }

  /** Checks the settings a new session copies (key, canonical text). */
  async checkCopies(shard: FeedShard, issuesOf: (check: SchemaCheck) => Issue[]): Promise<CheckedWrite> {
    const view = await this.viewOf(shard);
    const issues = view.typed ? issuesOf(view.check) : [];
    return { generation: view.generations.get(shard.shard)!, verdict: issues.length > 0 ? "invalid" : "ok", casKey: "", casText: "", issues };
  }

  /** The view, read anew if it is out of date or does not know `shard` (a master it had not seen). */
  private async viewOf(shard: FeedShard): Promise<View> {
    let view = this.current ?? (await this.load());
    if (!view.generations.has(shard.shard)) {
      this.stale();
      view = await this.load();
    }
    return view;
  }

  private load(): Promise<View> {
    this.loading ??= this.readView().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async readView(): Promise<View> {
    await this.follow();
    const epoch = this.epoch;
    const shards = this.feeds.all();
    // Generations first: a view is never older than the generations it carries (see the header).
    const generations = await this.read(() => Promise.all(shards.map((s) => this.redis.get(s.schemaGen))));
    const fields = await this.read(() => this.redis.hgetall(this.keys.schemas().registry));
    const byKey = new Map<string, ValueCheck[]>();
    const live: [string, string][] = [];
    for (const [key, entry] of registryEntries(fields)) {
      const texts = [entry.text, entry.pending].filter((t): t is string => t !== undefined);
      live.push(...texts.map((t): [string, string] => [key, t]));
      byKey.set(key, texts.map((t) => this.validators.check(key, t)));
    }
    this.validators.retain(live);
    const view: View = {
      generations: new Map(shards.map((s, i) => [s.shard, generations[i] ?? "0"])),
      check: byKey.size === 0 ? NO_SCHEMAS : { has: (key) => byKey.has(key), issues: (key, value) => issuesUnder(byKey.get(key), value) },
      typed: byKey.size > 0,
    };
    if (epoch === this.epoch) this.current = view;
    return view;
  }

  /** Subscribes once to the registry's channel; a lost subscription is made again at the next read. */
  private async follow(): Promise<void> {
    this.following ??= this.subscriptions.subscribeSignal(this.keys.schemas().channel, (event) => {
      this.stale();
      if (event.type === "unavailable") this.following = undefined;
    });
    try {
      await this.following;
    } catch {
      // No subscriber now: the generation check in every write still holds; try again next time.
      this.following = undefined;
    }
  }
}

/** A value under every schema its key has now (the current one, and a pending one); each issue once. */
function issuesUnder(checks: ValueCheck[] | undefined, value: JsonValue): Issue[] {
  if (!checks) return [];
  if (checks.length === 1) return checks[0]!(value);
  const seen = new Set<string>();
  return checks.flatMap((check) => check(value)).filter((i) => {
    const id = JSON.stringify([i.path, i.keyword, i.message]);
    return !seen.has(id) && Boolean(seen.add(id));
  });
}
