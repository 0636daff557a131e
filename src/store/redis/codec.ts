// Turning Redis replies and pub/sub messages into domain values, and domain
// values into script arguments, in one place for the Redis store.
import { canonicalJson, compareKeys, setOwn } from "../../domain/json.js";
import type {
  Change,
  ControlFields,
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

export function parseEvent(message: string): StoreEvent {
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
