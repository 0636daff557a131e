// The SDK's plain shapes (JSON values, enum names, bigint revisions) and the
// conversions between them and the generated protobuf messages.
import { fromJson, type MessageInitShape } from "@bufbuild/protobuf";
import { NullValue, timestampDate, ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import type { Session } from "../../gen/codexmanager/settings/v1/session_pb.js";
import {
  ChangeKind,
  Scope as ScopePb,
  type ControlsSchema,
  type HistoryEntry as HistoryEntryPb,
  type ScopeControls,
} from "../../gen/codexmanager/settings/v1/settings_pb.js";
import {
  APPROVAL_POLICIES,
  FILESYSTEM_SANDBOXES,
  NETWORK_ACCESS,
  type ControlFields,
  type JsonObject,
  type JsonValue,
  type Scope,
} from "../domain/types.js";
import { setOwn } from "../domain/json.js";

export interface Tuple extends ControlFields {
  settings: JsonObject;
  revision: bigint;
}

export interface Change {
  kind: "setting" | "control";
  key: string;
  before?: JsonValue;
  after?: JsonValue;
}

export interface SettingsChange {
  revision: bigint;
  scope: Scope;
  op: string;
  actor: string;
  source: string;
  time: Date;
  /** For op "path": the segments written (the first is the top-level key) and what was done there. */
  path?: { segments: string[]; op: "set" | "merge" | "unset" };
  changes: Change[];
  /** The whole map after the change, when asked with includeSettings. */
  settings?: JsonObject;
}

const PATH_OPS = ["set", "merge", "unset"] as const;
export const scopePb = (scope: Scope | undefined) => (scope === "default" ? ScopePb.DEFAULT : ScopePb.SESSION);
export const value = (v: JsonValue): Value => fromJson(ValueSchema, v);

/**
 * A Value as plain JSON. Not protobuf-es's toJson, which assigns each Struct
 * key to a plain object, so that "__proto__" would set the prototype instead.
 */
export function json(v: Value | undefined): JsonValue | undefined {
  if (v === undefined) return undefined;
  switch (v.kind.case) {
    case "structValue": {
      const fields = v.kind.value.fields;
      const out: JsonObject = {};
      for (const k of Object.keys(fields)) setOwn(out, k, json(fields[k]) ?? null);
      return out;
    }
    case "listValue":
      return v.kind.value.values.map((item) => json(item) ?? null);
    case "numberValue":
    case "stringValue":
    case "boolValue":
      return v.kind.value;
    default:
      return null;
  }
}

/** Plain JSON as a Value, every key an own entry ("__proto__" too); the inverse of `json`. */
export function valueOf(j: JsonValue): Value {
  const kind: Value["kind"] =
    j === null ? { case: "nullValue", value: NullValue.NULL_VALUE }
    : typeof j === "number" ? { case: "numberValue", value: j }
    : typeof j === "string" ? { case: "stringValue", value: j }
    : typeof j === "boolean" ? { case: "boolValue", value: j }
    : Array.isArray(j) ? { case: "listValue", value: { $typeName: "google.protobuf.ListValue", values: j.map(valueOf) } }
    : { case: "structValue", value: { $typeName: "google.protobuf.Struct", fields: ownEntries(j, valueOf) } };
  return { $typeName: "google.protobuf.Value", kind };
}

/** An object of `o`'s keys, each mapped, every one an own property. */
export function ownEntries<T>(o: Record<string, JsonValue>, map: (v: JsonValue) => T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o)) setOwn(out, k, map(o[k]!));
  return out;
}
const enumName = <T extends string>(values: readonly T[], n: number) => values[n - 1]!;
const enumNumber = <T extends string>(values: readonly T[], v: T) => values.indexOf(v) + 1;

export function tupleOf(t: Pick<ScopeControls, "controls" | "revision"> | undefined): Tuple {
  const c = t?.controls;
  return {
    model: c?.model ?? null,
    approvalPolicy: enumName(APPROVAL_POLICIES, c?.approvalPolicy ?? 0),
    networkAccess: enumName(NETWORK_ACCESS, c?.networkAccess ?? 0),
    filesystemSandbox: enumName(FILESYSTEM_SANDBOXES, c?.filesystemSandbox ?? 0),
    settings: c?.settings ?? {},
    revision: t?.revision ?? 0n,
  };
}

export function controlsPb(c: ControlFields & { settings?: JsonObject }): MessageInitShape<typeof ControlsSchema> {
  return {
    model: c.model ?? undefined,
    approvalPolicy: enumNumber(APPROVAL_POLICIES, c.approvalPolicy),
    networkAccess: enumNumber(NETWORK_ACCESS, c.networkAccess),
    filesystemSandbox: enumNumber(FILESYSTEM_SANDBOXES, c.filesystemSandbox),
    settings: c.settings,
  };
}

/** The controls a new session is created with: unspecified (0) where not given, so the defaults apply. */
export function createControlsPb(c: Partial<ControlFields>) {
  return {
    model: c.model ?? undefined,
    approvalPolicy: c.approvalPolicy ? enumNumber(APPROVAL_POLICIES, c.approvalPolicy) : 0,
    networkAccess: c.networkAccess ? enumNumber(NETWORK_ACCESS, c.networkAccess) : 0,
    filesystemSandbox: c.filesystemSandbox ? enumNumber(FILESYSTEM_SANDBOXES, c.filesystemSandbox) : 0,
  };
}

export function changeOf(entry: HistoryEntryPb, settings?: JsonObject): SettingsChange {
  return {
    revision: entry.revision,
    scope: entry.scope === ScopePb.DEFAULT ? "default" : "session",
    op: entry.op,
    actor: entry.actor,
    source: entry.source,
    time: entry.time ? timestampDate(entry.time) : new Date(0),
    ...(entry.path && { path: { segments: entry.path.segments, op: PATH_OPS[entry.path.op - 1] ?? "set" } }),
    changes: entry.changes.map((c) => ({
      kind: c.kind === ChangeKind.CONTROL ? "control" : "setting",
      key: c.key,
      before: json(c.before),
      after: json(c.after),
    })),
    settings,
  };
}

export const sessionOf = (s: Session | undefined) => ({
  sessionId: s?.sessionId ?? "",
  cwd: s?.cwd ?? "",
  createdAt: s?.createdAt ? timestampDate(s.createdAt) : undefined,
  systemOwned: s?.systemOwned ?? false,
});
