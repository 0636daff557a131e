// The one table of Lua reply codes. Every script answers { 0, ... } or a
// negative code; this turns each code into the very domain error the write
// engine raises for the same case, so both stores answer identical errors
// and messages (bullmq keeps its script codes the same way).
import { DomainError, errors } from "../../domain/errors.js";
import type { Limits } from "../../config.js";
import type { Scope } from "../../domain/types.js";

export interface ReplyFacts {
  sessionId: string;
  scope: Scope;
  ifRevision?: bigint;
  requestId?: string;
  limits: Pick<Limits, "maxSettingsKeys" | "maxSettingsBytes">;
}

const CODES: Record<number, (reply: unknown[], f: ReplyFacts) => DomainError> = {
  [-1]: (_, f) => errors.notFound(f.sessionId),
  [-2]: (r, f) => errors.deleted(f.sessionId, new Date(Number(r[1]))),
  [-3]: (_, f) => errors.systemSession(f.sessionId),
  [-4]: (r, f) => errors.conflict(f.sessionId, f.scope, f.ifRevision ?? 0n, BigInt(r[1] as string)),
  [-5]: (_, f) => errors.tooManyKeys(f.limits.maxSettingsKeys),
  [-6]: (_, f) => errors.tooManyBytes(f.limits.maxSettingsBytes),
  [-8]: (_, f) => errors.exists(f.sessionId),
  [-9]: (_, f) => errors.requestReused(f.requestId ?? ""),
};

/** Throws the domain error of a script's negative reply code; returns on 0. */
export function expectOk(reply: unknown[], facts: ReplyFacts): void {
  const code = reply[0] as number;
  if (code === 0) return;
  const toError = CODES[code];
  if (!toError) throw new Error(`unexpected script reply code ${code}`);
  throw toError(reply, facts);
}
