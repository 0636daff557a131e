// The script and arguments of one mutation, shared by the Redis store and the
// benchmark's raw-EVALSHA scenario.
import type { Config } from "../../config.js";
import { mutationFingerprint } from "../../domain/fingerprint.js";
import { canonicalJson } from "../../domain/json.js";
import type { Mutation, ScopeRef, WriteOptions } from "../../domain/types.js";
import { checkFlag, objectPairs } from "./codec.js";
import type { FeedShard } from "./feed-shards.js";
import type { TupleKeys } from "./keys.js";

type MutationScript = "setEntries" | "replaceSettings" | "unsetSetting" | "setPath" | "applyControls";

type WriteConfig = Pick<Config, "limits" | "historyLimit" | "requestIdLimit" | "feedLimit">;

/** The frame every write script reads (includes/write.lua), then the operation's own arguments. */
export function mutationCall(
  k: TupleKeys,
  feed: FeedShard,
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
    ...feedArgs(feed, config),
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


/** The feed a script appends to: its counter and stream keys, its bound and its shard's name (lua/includes/feed.lua). */
export function feedArgs(feed: FeedShard, config: Pick<Config, "feedLimit">): (string | number)[] {
  return [feed.seq, feed.log, config.feedLimit, feed.shard];
}
