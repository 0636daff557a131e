// The schema registry on Redis: one hash, a revision counter and a history
// stream in a slot of their own ({schemas}), shared by every instance.
//
// Registering a schema checks every stored value of its key, in every
// session (scanned on every master) and the default scope, and no script can
// hold that many keys at once. So it goes in steps (lua/begin-schema-1.lua,
// lua/settle-schema-3.lua):
//   1. the new schema becomes pending beside the current one, with a lease;
//   2. every shard's schema generation moves: from here on every instance
//      checks writes of the key against both (./schema-view.ts), and a write
//      checked before cannot commit;
//   3. every stored value is checked: anything written before step 2 is there
//      to be seen, and anything after satisfies the new schema already;
//   4. the registration settles (put, or abort when values break it and it is
//      not forced), and the generations move again.
// The guarantee holds for a fixed slot layout, failovers included (a promoted
// replica has the generations); while slots are being moved to a master
// that no registration has reached yet, a write there can be checked against
// an older registry (README: "Typed settings").
import { randomUUID } from "node:crypto";
import { Cluster, type Redis } from "ioredis";
import { errors } from "../../domain/errors.js";
import { compareKeys } from "../../domain/json.js";
import { SchemaValidators, VIOLATIONS_SHOWN, violationsOf, type ValueCheck } from "../../domain/schemas.js";
import type { Config } from "../../config.js";
import type { SchemaChange, SchemaHistoryEntry, SchemaPut, SchemaRecord, ViolationReport } from "../store.js";
import { pairsToStrings, type StreamEntry } from "./codec.js";
import type { FeedShards } from "./feed-shards.js";
import type { RedisKeys } from "./keys.js";
import { expectOk } from "./script-codes.js";
import type { ScriptCommands } from "./scripts.js";
import { registryEntries, type Read, type RegistryEntry } from "./schema-view.js";

/** How long a registration may take before another may take the key over (its pending schema is then replaced). */
const LEASE_MS = 5 * 60_000;
/** Keys asked per SCAN step. */
const SCAN_COUNT = 1000;

type Client = (Redis | Cluster) & ScriptCommands;

export class RedisSchemaRegistry {
  private readonly validators = new SchemaValidators();

  constructor(
    private readonly redis: Client,
    private readonly keys: RedisKeys,
    private readonly feeds: FeedShards,
    private readonly config: Pick<Config, "historyLimit" | "limits">,
    /** Runs one command with a fresh budget: reads, or writes (whose lost answer is an unknown outcome). */
    private readonly read: Read,
    private readonly write: Read,
  ) {}

  async put(change: SchemaPut): Promise<{ changed: boolean; revision: bigint; violations: number }> {
    const k = this.keys.schemas();
    const token = randomUUID();
    const begun = await this.write(() => this.redis.beginSchema(k.registry, change.key, change.text, token, change.time.getTime(), LEASE_MS));
    this.expectOk(begun);
    if (begun[0] === 1) return { changed: false, revision: BigInt(begun[1] as number), violations: 0 };
    let settled = false;
    try {
      await this.moveGenerations();
      const { count, violations } = await this.scan(change.key, this.validators.check(change.key, change.text), VIOLATIONS_SHOWN);
      if (count > 0 && !change.force) {
        await this.settle("abort", change, token, change.text, count);
        settled = true;
        throw errors.schemaViolated(change.key, count, violations);
      }
      const revision = await this.settle("put", change, token, change.text, count);
      settled = true;
      return { changed: true, revision, violations: count };
    } finally {
      // Best effort when something failed on the way: else the lease ends it, and writes satisfy both until then.
      if (!settled) await this.settle("abort", change, token, change.text, 0).catch(() => undefined);
    }
  }

  async delete(change: SchemaChange): Promise<{ changed: boolean; revision: bigint }> {
    const k = this.keys.schemas();
    const reply = await this.write(() => this.redis.settleSchema(k.registry, k.revision, k.history, ...this.settleArgs("delete", change, "", "", 0)));
    this.expectOk(reply);
    if (reply[0] === 0) await this.moveGenerations();
    return { changed: reply[0] === 0, revision: BigInt(reply[1] as number) };
  }

  async get(key: string, historyLimit: number): Promise<{ schema: SchemaRecord; history: SchemaHistoryEntry[] }> {
    const k = this.keys.schemas();
    const [text, meta] = await this.read(() => this.redis.hmget(k.registry, `s:${key}`, `m:${key}`));
    if (text == null || meta == null) throw errors.schemaNotFound(key);
    const schema = recordOf(key, { text, record: JSON.parse(meta) as RegistryEntry["record"] });
    const stream = (await this.read(() => this.redis.xrevrange(k.history, "+", "-"))) as StreamEntry[];
    const history = stream.map(historyEntry).filter((e) => e.key === key).slice(0, historyLimit);
    return { schema, history };
  }

  async list(): Promise<SchemaRecord[]> {
    const fields = await this.read(() => this.redis.hgetall(this.keys.schemas().registry));
    return [...registryEntries(fields)]
      .filter(([, e]) => e.text !== undefined && e.record !== undefined)
      .map(([key, e]) => recordOf(key, e))
      .sort((a, b) => compareKeys(a.key, b.key));
  }

  async violations(key: string, limit: number): Promise<ViolationReport> {
    const { schema } = await this.get(key, 0);
    return { revision: schema.revision, ...(await this.scan(key, this.validators.check(key, schema.text), limit)) };
  }

  /** Every stored value of `key`: the default scope's, then each session's, scanned on every master. */
  private async scan(key: string, check: ValueCheck, limit: number) {
    const values: [string, string][] = [];
    const defaults = await this.read(() => this.redis.hget(this.keys.defaults().settings, key));
    if (defaults !== null) values.push(["", defaults]);
    const nodes: Redis[] = this.redis instanceof Cluster ? this.redis.nodes("master") : [this.redis];
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, found] = await this.read(() => node.scan(cursor, "MATCH", this.keys.sessionSettingsPattern(), "COUNT", SCAN_COUNT));
        cursor = next;
        const texts = await this.read(() => Promise.all(found.map((settings) => node.hget(settings, key))));
        found.forEach((settings, i) => {
          if (texts[i] !== null) values.push([this.keys.sessionOfSettings(settings), texts[i]!]);
        });
      } while (cursor !== "0");
    }
    return violationsOf(values, check, limit);
  }

  /** Moves every shard's schema generation (after the registry changed), then tells every instance. */
  private async moveGenerations(): Promise<void> {
    await this.write(() => Promise.all(this.feeds.all().map((s) => this.redis.incr(s.schemaGen))));
    await this.write(() => this.redis.publish(this.keys.schemas().channel, "schemas"));
  }

  private async settle(mode: "put" | "abort", change: SchemaPut, token: string, text: string, violations: number): Promise<bigint> {
    const k = this.keys.schemas();
    const reply = await this.write(() => this.redis.settleSchema(k.registry, k.revision, k.history, ...this.settleArgs(mode, change, token, text, violations, change.force)));
    this.expectOk(reply);
    await this.moveGenerations();
    return BigInt(reply[1] as number);
  }

  private settleArgs(mode: "put" | "abort" | "delete", change: SchemaChange, token: string, text: string, violations: number, forced = false) {
    const by = change.by;
    return [mode, change.key, token, text, change.time.getTime(), by.actor, by.claimedActor ?? "", by.source, forced ? "1" : "0", violations, this.config.historyLimit];
  }

  /** Registry scripts answer 0 (done), 1 (nothing to do) or a code (SCHEMA_BUSY). */
  private expectOk(reply: unknown[]): void {
    if (reply[0] !== 1) expectOk(reply, { sessionId: "", scope: "default", limits: this.config.limits });
  }
}

function recordOf(key: string, e: RegistryEntry): SchemaRecord {
  const r = e.record!;
  return { key, revision: BigInt(r.revision), text: e.text!, time: new Date(r.time), actor: r.actor, source: r.source };
}

function historyEntry([id, fields]: StreamEntry): SchemaHistoryEntry {
  const f = pairsToStrings(fields);
  const entry: SchemaHistoryEntry = {
    revision: BigInt(id.slice(0, id.indexOf("-"))),
    key: f.key!,
    op: f.op as "put" | "delete",
    actor: f.actor!,
    source: f.source!,
    time: new Date(Number(f.time)),
    forced: f.forced === "1",
    violations: Number(f.violations),
  };
  if (f.claimedActor !== undefined) entry.claimedActor = f.claimedActor;
  return entry;
}
