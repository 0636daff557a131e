// Every failure the service reports is one DomainError with a reason of SPEC §4.
// Transports map reasons to their codes and statuses in one place each.
import type { Scope } from "./types.js";

export type ErrorReason =
  | "INVALID_REQUEST"
  | "SYSTEM_SESSION"
  | "SESSION_NOT_FOUND"
  | "SESSION_DELETED"
  | "SESSION_EXISTS"
  | "DEFAULTS_LOCKED"
  | "REVISION_MISMATCH"
  | "PAYLOAD_TOO_LARGE"
  | "HISTORY_TRUNCATED"
  | "WATCH_BACKLOG"
  | "STORE_UNAVAILABLE"
  | "OUTCOME_UNKNOWN"
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "RATE_LIMITED"
  | "SCHEMA_VIOLATED"
  | "SCHEMA_NOT_FOUND";

/** Where an issue is: field names and array indexes from the request's root, as zod reports them. */
export type IssuePath = (string | number)[];
/** zod's issue codes, so that REST answers look like codex-manager's (zod) issues. */
export type IssueCode = "invalid_type" | "invalid_value" | "too_small" | "too_big" | "invalid_format" | "custom";

export interface Issue {
  code: IssueCode;
  path: IssuePath;
  message: string;
  /**
   * Set on a settings value that breaks its key's JSON Schema: the schema
   * keyword it failed ("maximum", "enum", ...). Its path is then the place
   * within the settings map (first the top-level key), not in the request.
   */
  keyword?: string;
}

/** Values of one scope that break a schema: the default scope's sessionId is "". */
export interface Violation {
  sessionId: string;
  scope: Scope;
  issues: Issue[];
}

/** A JSON Pointer (RFC 6901) to a place in the settings map: "/team/review/autoApprove/threshold". */
export function pointerOf(path: IssuePath): string {
  return path.map((s) => `/${String(s).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

/** One issue; a plain string names a top-level field. */
export function issue(where: string | IssuePath, message: string, code: IssueCode = "custom"): Issue {
  return { code, path: typeof where === "string" ? (where === "" ? [] : [where]) : where, message };
}

export interface ErrorFacts {
  sessionId?: string;
  scope?: Scope;
  deletedAt?: Date;
  expectedRevision?: bigint;
  currentRevision?: bigint;
  limit?: number;
  issues?: Issue[];
  requestId?: string;
  /** For a change feed cursor that is too old: the oldest cursor still held. */
  cursor?: string;
  /** RATE_LIMITED: how long until the caller may try again. */
  retryAfterMs?: number;
  /** The settings key whose schema is meant. */
  key?: string;
  /** SCHEMA_VIOLATED: how many scopes hold a value that breaks the schema, and the first of them. */
  violationCount?: number;
  violations?: Violation[];
}

export class DomainError extends Error {
  override readonly name = "DomainError";
  constructor(
    readonly reason: ErrorReason,
    message: string,
    readonly facts: ErrorFacts = {},
  ) {
    super(message);
  }
}

export const LOCK_REASON = "Managed by harness configuration";

const tooLarge = (what: string, limit: number) =>
  new DomainError("PAYLOAD_TOO_LARGE", `${what} exceeds the limit of ${limit}`, { limit });

const invalid = (issues: Issue[]) =>
  new DomainError(
    "INVALID_REQUEST",
    issues.map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; "),
    { issues },
  );

/** Schema issues, one per line of the message: "/team/review/x: must be <= 100 (maximum)". */
const schemaIssueText = (issues: Issue[]) => issues.map((i) => `${pointerOf(i.path)}: ${i.message} (${i.keyword})`).join("; ");

export const errors = {
  invalid,
  /** A write whose result breaks a key's schema; nothing was applied. */
  schemaInvalid: (issues: Issue[]) =>
    new DomainError("INVALID_REQUEST", `the settings do not satisfy their schema: ${schemaIssueText(issues)}`, { issues }),
  schemaViolated: (key: string, violationCount: number, violations: Violation[]) =>
    new DomainError(
      "SCHEMA_VIOLATED",
      `${violationCount} stored value${violationCount === 1 ? "" : "s"} of ${JSON.stringify(key)} break${violationCount === 1 ? "s" : ""} the schema; ` +
        "fix them first, or register it with force (future writes are then validated, stored values stay as they are)",
      { key, violationCount, violations },
    ),
  schemaNotFound: (key: string) => new DomainError("SCHEMA_NOT_FOUND", `no schema is registered for ${JSON.stringify(key)}`, { key }),
  notFound: (sessionId: string) =>
    new DomainError("SESSION_NOT_FOUND", `session ${sessionId} not found`, { sessionId }),
  deleted: (sessionId: string, deletedAt: Date) =>
    new DomainError("SESSION_DELETED", `session ${sessionId} was deleted`, { sessionId, deletedAt }),
  systemSession: (sessionId: string) =>
    new DomainError("SYSTEM_SESSION", `session ${sessionId} is owned by the system`, { sessionId }),
  exists: (sessionId: string) =>
    new DomainError("SESSION_EXISTS", `session ${sessionId} already exists`, { sessionId }),
  locked: (sessionId: string) =>
    new DomainError("DEFAULTS_LOCKED", LOCK_REASON, { sessionId, scope: "default" }),
  conflict: (sessionId: string, scope: Scope, expectedRevision: bigint, currentRevision: bigint) =>
    new DomainError(
      "REVISION_MISMATCH",
      `revision is ${currentRevision}, not ${expectedRevision}`,
      { sessionId, scope, expectedRevision, currentRevision },
    ),
  /** A limit was passed (the limits and their errors: ./limits.ts). */
  tooLarge,
  requestReused: (requestId: string) =>
    invalid([issue("requestId", `${JSON.stringify(requestId)} was already used for a different write`)]),
  historyTruncated: (sessionId: string, scope: Scope, oldest: bigint) =>
    new DomainError(
      "HISTORY_TRUNCATED",
      `history no longer reaches that revision; the oldest retained is ${oldest}`,
      { sessionId, scope, currentRevision: oldest },
    ),
  feedTruncated: (oldestCursor: string) =>
    new DomainError(
      "HISTORY_TRUNCATED",
      `the change feed no longer reaches that cursor; the oldest cursor still held is ${oldestCursor}`,
      { cursor: oldestCursor },
    ),
  watchBacklog: (events: number, bytes: number) =>
    new DomainError(
      "WATCH_BACKLOG",
      `the watcher fell behind by more than ${events} changes or ${bytes} bytes; resume with fromRevision`,
      { limit: events },
    ),
  unauthenticated: (what = "a valid bearer token") => new DomainError("UNAUTHENTICATED", `${what} is required`),
  forbidden: (message: string) => new DomainError("PERMISSION_DENIED", message),
  /** A caller over its rate limit (service/rate-limits.ts): nothing was applied; retry after `retryAfterMs`. */
  rateLimited: (what: string, perSecond: number, burst: number, retryAfterMs: number) =>
    new DomainError(
      "RATE_LIMITED",
      `too many ${what}: this caller may make ${perSecond} a second (${burst} at once); retry in ${Math.ceil(retryAfterMs / 100) / 10} s`,
      { limit: burst, retryAfterMs },
    ),
  /** Nothing was applied: safe to retry. */
  unavailable: (detail?: string, cause?: unknown) => {
    const e = new DomainError("STORE_UNAVAILABLE", `settings store is unavailable${detail ? `: ${detail}` : ""}`);
    if (cause !== undefined) (e as { cause?: unknown }).cause = cause;
    return e;
  },
  /** The server is going away (SIGTERM): nothing more is applied here; resume on another instance or after the restart. */
  shuttingDown: () => new DomainError("STORE_UNAVAILABLE", "the server is shutting down"),
  /** A write was sent to the store and no answer came in time: it may have been applied. */
  outcomeUnknown: (requestId?: string) =>
    new DomainError(
      "OUTCOME_UNKNOWN",
      "the store did not answer in time, so the write may or may not have been applied: read it back, " +
        "or retry with the same request id (a remembered id is never applied twice)",
      requestId === undefined ? {} : { requestId },
    ),
};
