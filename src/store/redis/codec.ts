// Turning Redis replies and pub/sub messages into domain values, and domain
// values into script arguments, in one place for the Redis store.
import { canonicalJson, compareKeys, setOwn } from "../../domain/json.js";
import { changeKindOf } from "../../domain/feed.js";
import type {
  Change,
  ChangeKind,
  ControlFields,
  FeedChange,
  FeedEvent,
  HistoryEntry,
  JsonObject,
  JsonValue,
  Scope,
  ScopeRef,
  SessionRecord,
  StoreEvent,
} from "../../domain/types.js";

export type StreamEntry = [id: string, fields: string[]];

export function checkFlag(ref: ScopeRef): string {
  return ref.scope === "session" ? "1" : "0";
}

/** Key, JSON pairs in the engine's change order (code point order of keys). */
export function objectPairs(settings: JsonObject): string[] {
  return Object.keys(settings).sort(compareKeys).flatMap((key) => [key, canonicalJson(settings[key]!)]);
}

/** A flat [k, v, k, v, ...] reply as [k, v] pairs. */
export function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = new Array(flat.length / 2);
  for (let i = 0; i < flat.length; i += 2) out[i / 2] = [flat[i]!, flat[i + 1]!];
  return out;
}

export function pairsToStrings(flat: string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

export function pairsToObject(flat: string[]): JsonObject {
  const out: JsonObject = {};
  for (let i = 0; i < flat.length; i += 2) setOwn(out, flat[i]!, JSON.parse(flat[i + 1]!) as JsonValue);
  return out;
}

export function pickControls(t: ControlFields): ControlFields {
  return { model: t.model, approvalPolicy: t.approvalPolicy, networkAccess: t.networkAccess, filesystemSandbox: t.filesystemSandbox };
}

/** A session from its meta hash and its tuple's hash (which keeps updatedAt). */
export function toSession(meta: Record<string, string>, tuple: Record<string, string>): SessionRecord {
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

export function revisionOf(streamId: string): bigint {
  return BigInt(streamId.slice(0, streamId.indexOf("-")));
}

export function toHistoryEntry([id, fields]: StreamEntry, scope: Scope): HistoryEntry {
  return entryOf(revisionOf(id), scope, pairsToStrings(fields));
}

/** One entry of a shard's change feed (lua/includes/feed.lua): its id is <seq>-0. */
export function toFeedChange([id, fields]: StreamEntry, shard: string): FeedChange {
  const f = pairsToStrings(fields);
  const scope = f.scope as Scope;
  const revision = BigInt(f.rev!);
  return {
    position: { shard, seq: revisionOf(id) },
    sessionId: f.sid!,
    scope,
    revision,
    kind: f.kind as ChangeKind,
    entry: entryOf(revision, scope, f),
  };
}

/** The fields history and the feed both keep: op, actor, source, time, changes, claimedActor?, path?. */
function entryOf(revision: bigint, scope: Scope, f: Record<string, string>): HistoryEntry {
  const entry: HistoryEntry = {
    revision,
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

/** What the scripts publish (lua/includes/write.lua, create-session, delete-session). */
interface PublishedEvent {
  type: "change" | "created" | "deleted";
  sessionId: string;
  deletedAt: number;
  scope: Scope;
  revision: number;
  op: HistoryEntry["op"];
  actor: string;
  claimedActor?: string;
  source: string;
  time: number;
  changes: Change[];
  path?: HistoryEntry["path"];
  feed: { shard: string; seq: number };
}

function publishedEntry(e: PublishedEvent, scope: Scope, op: HistoryEntry["op"], time: number): HistoryEntry {
  return {
    revision: BigInt(e.revision), scope, op, actor: e.actor, source: e.source,
    time: new Date(time), changes: e.changes ?? [],
    ...(e.claimedActor !== undefined && { claimedActor: e.claimedActor }),
    ...(e.path !== undefined && { path: e.path }),
  };
}

/** An event as a scope's watchers hear it; a session's creation is none of theirs. */
export function parseEvent(message: string): StoreEvent | undefined {
  const e = JSON.parse(message) as PublishedEvent;
  if (e.type === "deleted") return { type: "deleted", sessionId: e.sessionId, deletedAt: new Date(e.deletedAt) };
  if (e.type !== "change") return undefined;
  return { type: "change", sessionId: e.scope === "default" ? undefined : e.sessionId, entry: publishedEntry(e, e.scope, e.op, e.time) };
}

/** An event as the change feed's watchers hear it. */
export function parseFeedEvent(message: string): FeedEvent | undefined {
  const e = JSON.parse(message) as PublishedEvent;
  if (!e.feed) return undefined;
  const op: HistoryEntry["op"] = e.type === "created" ? "create" : e.type === "deleted" ? "delete" : e.op;
  const scope: Scope = e.type === "change" ? e.scope : "session";
  const entry = publishedEntry(e, scope, op, e.type === "deleted" ? e.deletedAt : e.time);
  const change: FeedChange = {
    position: { shard: e.feed.shard, seq: BigInt(e.feed.seq) },
    sessionId: e.sessionId,
    scope,
    revision: entry.revision,
    kind: changeKindOf(op),
    entry,
  };
  return { type: "change", change };
}
