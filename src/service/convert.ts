// Domain ↔ protobuf conversions for the Connect/gRPC handlers. Struct fields
// arrive as JsonObject already; Value fields are walked directly (./value-json.ts).
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, type Value } from "@bufbuild/protobuf/wkt";
import {
  ApprovalPolicy as ApprovalPolicyPb,
  ChangeKind,
  ControlsSchema,
  FilesystemSandbox as FilesystemSandboxPb,
  NetworkAccess as NetworkAccessPb,
  PathOp as PathOpPb,
  Scope as ScopePb,
  type Controls,
} from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { SessionState } from "../../gen/codexmanager/settings/v1/session_pb.js";
import { jsonOfValue, valueOfJson } from "./value-json.js";
import { errors, issue, pointerOf, type Issue, type IssuePath, type Violation } from "../domain/errors.js";
import {
  APPROVAL_POLICIES,
  FILESYSTEM_SANDBOXES,
  NETWORK_ACCESS,
  type ControlFields,
  type HistoryEntry,
  type JsonObject,
  type JsonValue,
  type PathOp,
  type Scope,
  type SessionRecord,
  type Tuple,
} from "../domain/types.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HistoryEntrySchema, ScopeControlsSchema } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import type { SessionSchema } from "../../gen/codexmanager/settings/v1/session_pb.js";

/** SPEC §4 step 1: an unknown scope number is a malformed request. */
export function scopeFromPb(scope: ScopePb): Scope {
  if (scope === ScopePb.UNSPECIFIED || scope === ScopePb.SESSION) return "session";
  if (scope === ScopePb.DEFAULT) return "default";
  throw errors.invalid([issue("scope", "must be SCOPE_SESSION or SCOPE_DEFAULT", "invalid_value")]);
}

const PATH_OPS: PathOp[] = ["set", "merge", "unset"];

export function pathOpFromPb(op: PathOpPb): PathOp {
  return enumFromPb(PATH_OPS, op) ?? "set";
}

export function pathOpToPb(op: PathOp): PathOpPb {
  return enumToPb(PATH_OPS, op);
}

export function scopeToPb(scope: Scope): ScopePb {
  return scope === "default" ? ScopePb.DEFAULT : ScopePb.SESSION;
}

// Enum number n (n ≥ 1) is the domain value at index n - 1; 0 means "not given".
function enumFromPb<T extends string>(values: readonly T[], n: number): T | undefined {
  return n === 0 ? undefined : (values[n - 1] ?? (`unknown(${n})` as T));
}
function enumToPb<T extends string>(values: readonly T[], v: T): number {
  return values.indexOf(v) + 1;
}

/** Proto controls as raw domain input; unspecified enums stay absent so that the rules report them. */
export function controlsFromPb(c: Controls): Partial<Record<keyof ControlFields, unknown>> {
  const given = Object.entries({ ...overridesFromPb(c), model: c.model ?? null }).filter(([, v]) => v !== undefined);
  return Object.fromEntries(given);
}

export function overridesFromPb(req: {
  model?: string;
  approvalPolicy: ApprovalPolicyPb;
  networkAccess: NetworkAccessPb;
  filesystemSandbox: FilesystemSandboxPb;
}): Partial<Record<keyof ControlFields, unknown>> {
  return {
    model: req.model,
    approvalPolicy: enumFromPb(APPROVAL_POLICIES, req.approvalPolicy),
    networkAccess: enumFromPb(NETWORK_ACCESS, req.networkAccess),
    filesystemSandbox: enumFromPb(FILESYSTEM_SANDBOXES, req.filesystemSandbox),
  };
}

export function controlsToPb(t: ControlFields & { settings?: JsonObject }): Controls {
  return create(ControlsSchema, {
    model: t.model ?? undefined,
    approvalPolicy: enumToPb(APPROVAL_POLICIES, t.approvalPolicy),
    networkAccess: enumToPb(NETWORK_ACCESS, t.networkAccess),
    filesystemSandbox: enumToPb(FILESYSTEM_SANDBOXES, t.filesystemSandbox),
    settings: t.settings,
  });
}

export function tupleToPb(t: Tuple): MessageInitShape<typeof ScopeControlsSchema> {
  return { controls: controlsToPb(t), revision: t.revision };
}

/** A Value field as JSON; undefined when the field is absent or has no kind. */
export function valueFromPb(path: IssuePath, v: Value | undefined): JsonValue | undefined {
  if (v === undefined || v.kind.case === undefined) return undefined;
  try {
    return jsonOfValue(v);
  } catch {
    throw errors.invalid([issue(path, "must be a finite JSON value", "invalid_value")]);
  }
}

export function valueToPb(v: JsonValue | undefined): Value | undefined {
  return v === undefined ? undefined : valueOfJson(v);
}

export function sessionToPb(s: SessionRecord): MessageInitShape<typeof SessionSchema> {
  return {
    sessionId: s.sessionId,
    cwd: s.cwd,
    createdAt: timestampFromDate(s.createdAt),
    updatedAt: timestampFromDate(s.updatedAt),
    systemOwned: s.systemOwned,
    state: s.state === "deleted" ? SessionState.DELETED : SessionState.ACTIVE,
    deletedAt: s.deletedAt ? timestampFromDate(s.deletedAt) : undefined,
  };
}

export function historyEntryToPb(e: HistoryEntry): MessageInitShape<typeof HistoryEntrySchema> {
  return {
    revision: e.revision,
    scope: scopeToPb(e.scope),
    op: e.op,
    actor: e.actor,
    claimedActor: e.claimedActor ?? "",
    source: e.source,
    time: timestampFromDate(e.time),
    path: e.path && { segments: e.path.segments, op: pathOpToPb(e.path.op) },
    changes: e.changes.map((c) => ({
      kind: c.kind === "control" ? ChangeKind.CONTROL : ChangeKind.SETTING,
      key: c.key,
      before: valueToPb(c.before),
      after: valueToPb(c.after),
    })),
  };
}

/** One issue in the ErrorDetail's form; a schema issue also carries its keyword and JSON Pointer. */
export function issueToPb(i: Issue) {
  return {
    path: i.path.join("."),
    pathSegments: i.path.map(String),
    message: i.message,
    code: i.code,
    keyword: i.keyword ?? "",
    pointer: i.keyword === undefined ? "" : pointerOf(i.path),
  };
}

export function violationToPb(v: Violation) {
  return { sessionId: v.sessionId, scope: scopeToPb(v.scope), issues: v.issues.map(issueToPb) };
}
