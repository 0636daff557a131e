// The one table of Lua reply codes. Every script answers { 0, ... } or a
// negative code, named in lua/includes/codes.lua; this turns each code into
// the very domain error the write engine and the session rules raise for the
// same case, so all stores answer identical errors and messages (bullmq keeps
// its script codes the same way). test/lua-codes.test.ts holds the names and
// numbers here equal to codes.lua's.
import { DomainError, errors, type Issue } from "../../domain/errors.js";
import { limitErrors, type Limits } from "../../domain/limits.js";
import type { Scope } from "../../domain/types.js";

export interface ReplyFacts {
  sessionId: string;
  scope: Scope;
  ifRevision?: bigint;
  requestId?: string;
  limits: Pick<Limits, "maxSettingsKeys" | "maxSettingsBytes">;
  /** What Node's schema check found, answered when the script confirms it (SCHEMA_INVALID). */
  issues?: Issue[];
}

type ToError = (reply: unknown[], f: ReplyFacts) => DomainError;

export const SCRIPT_CODES: Record<string, [code: number, toError: ToError]> = {
  NOT_FOUND: [-1, (_, f) => errors.notFound(f.sessionId)],
  DELETED: [-2, (r, f) => errors.deleted(f.sessionId, new Date(Number(r[1])))],
  SYSTEM_SESSION: [-3, (_, f) => errors.systemSession(f.sessionId)],
  CONFLICT: [-4, (r, f) => errors.conflict(f.sessionId, f.scope, f.ifRevision ?? 0n, BigInt(r[1] as string))],
  TOO_MANY_KEYS: [-5, (_, f) => limitErrors.keys(f.limits.maxSettingsKeys)],
  TOO_MANY_BYTES: [-6, (_, f) => limitErrors.bytes(f.limits.maxSettingsBytes)],
  EXISTS: [-8, (_, f) => errors.exists(f.sessionId)],
  REQUEST_REUSED: [-9, (_, f) => errors.requestReused(f.requestId ?? "")],
  // Retried by the caller (./schema-view.ts); answered only when the schemas kept changing under every try.
  SCHEMA_STALE: [-10, () => errors.unavailable("the key's schema or value kept changing while this write was checked; nothing was applied: retry")],
  SCHEMA_INVALID: [-11, (_, f) => errors.schemaInvalid(f.issues ?? [])],
  SCHEMA_BUSY: [-12, () => errors.unavailable("another change of this key's schema is in progress; nothing was registered: retry")],
};

/** A script's answer that the schemas it was checked against are out of date: read them again and retry. */
export const SCHEMA_STALE = SCRIPT_CODES.SCHEMA_STALE![0];

const BY_CODE = new Map(Object.values(SCRIPT_CODES));

/** Throws the domain error of a script's negative reply code; returns on 0. */
export function expectOk(reply: unknown[], facts: ReplyFacts): void {
  const code = reply[0] as number;
  if (code === 0) return;
  const toError = BY_CODE.get(code);
  if (!toError) throw new Error(`unexpected script reply code ${code}`);
  throw toError(reply, facts);
}
