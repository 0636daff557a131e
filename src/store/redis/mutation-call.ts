// The script and arguments of one mutation, shared by the Redis store and the
// benchmark's raw-write scenario.
import type { Config } from "../../config.js";
import { mutationFingerprint } from "../../domain/fingerprint.js";
import { canonicalJson } from "../../domain/json.js";
import type { Mutation, ScopeRef, WriteOptions } from "../../domain/types.js";
import { checkFlag, objectPairs } from "./codec.js";
import type { FeedShard } from "./feed-shards.js";
import type { TupleKeys } from "./keys.js";

type MutationScript = "setEntries" | "replaceSettings" | "unsetSetting" | "setPath" | "applyControls";

type WriteConfig = Pick<Config, "limits" | "historyLimit" | "requestIdLimit" | "feedLimit">;

/**
 * What Node checked a write's schemas at (lua/includes/schema.lua): the
 * shard's schema generation, the verdict, and for a path write into a key
 * with a schema, that key's stored text the check read ("" = absent).
 */
export interface SchemaArgs {
  generation: string;
  verdict: "ok" | "invalid";
  casKey: string;
  casText: string;
  /** For a compare-and-set: this write's token, and whether it claims the field if it loses again. */
  token?: string;
  claim?: boolean;
}

/** A write checked against no schema, on a store where none was ever registered (the benchmark's raw calls). */
export const UNCHECKED: SchemaArgs = { generation: "0", verdict: "ok", casKey: "", casText: "" };

/** How long a claim on a field holds (lua/includes/schema.lua) if its write never comes back. */
const CLAIM_MS = 200;

/** The frame every write script reads (includes/write.lua), then the operation's own arguments. */
export function mutationCall(
  k: TupleKeys,
  feed: FeedShard,
  ref: ScopeRef,
  m: Mutation,
  options: WriteOptions,
  config: WriteConfig,
  time: Date,
  schema: SchemaArgs = UNCHECKED,
): [MutationScript, (string | number)[]] {
  const fingerprint = options.requestId === undefined ? "" : mutationFingerprint(ref.scope, m, options.ifRevision);
  const frame = [
    k.meta, k.tuple, k.settings, k.history, k.requests, k.requestOrder,
    checkFlag(ref), options.ifRevision?.toString() ?? "", time.getTime(), options.actor, options.source,
    config.historyLimit, k.channel, config.limits.maxSettingsKeys, config.limits.maxSettingsBytes,
    options.withSettings || m.op === "controls" ? "1" : "0", ref.scope, ref.scope === "default" ? "" : ref.sessionId,
    options.claimedActor ?? "", options.requestId ?? "", fingerprint, config.requestIdLimit,
    ...feedArgs(feed, config),
    ...schemaArgs(feed, schema),
    schema.casKey === "" ? "" : `${k.settings}:claim:${schema.casKey}`, schema.token ?? "", schema.claim ? "1" : "0", CLAIM_MS,
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


/** The frame's schema arguments (lua/includes/schema.lua). */
export function schemaArgs(feed: FeedShard, schema: SchemaArgs): string[] {
  return [feed.schemaGen, schema.generation, schema.verdict, schema.casKey, schema.casText];
}

/** The feed a script appends to: its counter and stream keys, its bound and its shard's name (lua/includes/feed.lua). */
export function feedArgs(feed: FeedShard, config: Pick<Config, "feedLimit">): (string | number)[] {
  return [feed.seq, feed.log, config.feedLimit, feed.shard];
}
