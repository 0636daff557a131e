// Exit codes tell outcomes apart for scripts: one per service reason, 2 for
// anything the command line itself got wrong.
import { CommanderError } from "commander";
import { retryable, SettingsError } from "../client/index.js";
import type { Io } from "./io.js";
import { issueLine, violationLines } from "./format.js";

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  deleted: 4,
  locked: 5,
  conflict: 6,
  invalid: 7,
  systemSession: 8,
  unavailable: 9,
  unauthenticated: 10,
  forbidden: 11,
  outcomeUnknown: 12,
  rateLimited: 13,
} as const;

const EXIT_BY_REASON: Record<string, number> = {
  SESSION_NOT_FOUND: EXIT.notFound,
  SESSION_DELETED: EXIT.deleted,
  DEFAULTS_LOCKED: EXIT.locked,
  REVISION_MISMATCH: EXIT.conflict,
  SESSION_EXISTS: EXIT.conflict,
  INVALID_REQUEST: EXIT.invalid,
  PAYLOAD_TOO_LARGE: EXIT.invalid,
  SYSTEM_SESSION: EXIT.systemSession,
  STORE_UNAVAILABLE: EXIT.unavailable,
  UNAUTHENTICATED: EXIT.unauthenticated,
  PERMISSION_DENIED: EXIT.forbidden,
  OUTCOME_UNKNOWN: EXIT.outcomeUnknown,
  RATE_LIMITED: EXIT.rateLimited,
  SCHEMA_VIOLATED: EXIT.conflict,
  SCHEMA_NOT_FOUND: EXIT.notFound,
};

/** A combination of options that commander alone cannot refuse. */
export class UsageError extends Error {}

/** Reports `err` on stderr (commander has already reported its own) and picks the exit code. */
export function exitCodeFor(err: unknown, io: Io): number {
  if (err instanceof CommanderError) {
    // --help and --version end with exit code 0; help shown because a command is
    // missing (bare `cm`, `cm sessions`) and every parse error end with 1: a usage error.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof UsageError) {
    io.err(`cm: ${err.message}`);
    return EXIT.usage;
  }
  if (err instanceof SettingsError) {
    const issues = err.issues.map((i) => `\n  ${issueLine(i)}`).join("");
    const violations = err.violations?.first.flatMap(violationLines).map((l) => `\n  ${l}`).join("") ?? "";
    // Only a write that may be sent again gets its id: with it, the same write is applied at most once.
    const again = err.requestId && retryable(err) ? `\n  to try this write again safely, add --request-id ${err.requestId}` : "";
    io.err(`cm: ${err.reason ?? "error"}: ${err.message}${issues}${violations}${again}`);
    return (err.reason && EXIT_BY_REASON[err.reason]) || (err.code === 14 ? EXIT.unavailable : EXIT.failed);
  }
  io.err(`cm: ${(err as Error)?.message ?? String(err)}`);
  return EXIT.failed;
}
