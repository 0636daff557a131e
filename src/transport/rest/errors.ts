// The one mapping from domain errors to REST statuses and bodies (SPEC §4).
import { DomainError, pointerOf, type Issue, type Violation } from "../../domain/errors.js";
import type { Logger } from "../../observe/log.js";
import { codeName } from "../rpc/connect-protocol.js";
import { CONNECT_CODES } from "../connect-errors.js";
import type { Operations } from "../../service/operations.js";
import { controlsViewJson } from "./views.js";

export interface RestAnswer {
  status: number;
  body: unknown;
  /** The Connect code name of a failure ("not_found"), for metrics and logs alike across transports. */
  code?: string;
  headers?: Record<string, string>;
  /** The body as JSON text already (a big map's, built once and shared). */
  raw?: string;
}

/** A refusal of the HTTP layer rather than the domain (415: a body not declared JSON). */
export class RestRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const INTERNAL: RestAnswer = {
  status: 500,
  body: { status: "error", code: "internal_error", message: "internal server error" },
  code: "internal",
};

export async function restError(err: unknown, ops: Operations, log: Logger, route: string): Promise<RestAnswer> {
  if (err instanceof RestRefusal) {
    return { status: err.status, body: { status: "error", code: err.code, message: err.message }, code: "invalid_argument" };
  }
  if (!(err instanceof DomainError)) {
    log.error({ route, err }, "unexpected error");
    return INTERNAL;
  }
  return { ...(await restAnswerOf(err, ops)), code: codeName(CONNECT_CODES[err.reason]) };
}

async function restAnswerOf(err: DomainError, ops: Operations): Promise<RestAnswer> {
  const f = err.facts;
  const message = err.message;
  switch (err.reason) {
    case "INVALID_REQUEST":
      return { status: 400, body: { status: "error", code: "invalid_request", message, issues: (f.issues ?? []).map(restIssue) } };
    case "SYSTEM_SESSION":
      return { status: 403, body: { status: "error", code: "system_session", sessionId: f.sessionId, message } };
    case "SESSION_NOT_FOUND":
      return { status: 404, body: { status: "not_found", sessionId: f.sessionId } };
    case "SESSION_DELETED":
      return { status: 410, body: { status: "deleted", sessionId: f.sessionId, message, deletedAt: f.deletedAt?.toISOString() } };
    case "SESSION_EXISTS":
      return { status: 409, body: { status: "error", code: "session_exists", sessionId: f.sessionId, message } };
    case "DEFAULTS_LOCKED": {
      // The locked answer carries the current view, so a client can show it without another
      // call, and `settings`, the default scope's map, as codex-manager sends it.
      const view = await ops.controlsView(f.sessionId!).catch(() => undefined);
      return {
        status: 423,
        body: {
          status: "locked", scope: "default", message, sessionId: f.sessionId,
          ...(view && { settings: view.defaults.settings, ...controlsViewJson(view) }),
        },
      };
    }
    case "REVISION_MISMATCH":
      return {
        status: 409,
        body: {
          status: "conflict", code: "revision_mismatch", sessionId: f.sessionId, scope: f.scope,
          expectedRevision: Number(f.expectedRevision), currentRevision: Number(f.currentRevision),
        },
      };
    case "PAYLOAD_TOO_LARGE":
      return { status: 413, body: { status: "error", code: "payload_too_large", message, limit: f.limit } };
    case "HISTORY_TRUNCATED":
      // A feed cursor that is too old names the oldest cursor held; a revision, the oldest revision.
      if (f.cursor !== undefined) return { status: 410, body: { status: "error", code: "history_truncated", message, oldestCursor: f.cursor } };
      return {
        status: 410,
        body: { status: "error", code: "history_truncated", sessionId: f.sessionId, scope: f.scope, message, oldestRevision: Number(f.currentRevision) },
      };
    case "WATCH_BACKLOG":
      return { status: 429, body: { status: "error", code: "watch_backlog", message, limit: f.limit } };
    case "OUTCOME_UNKNOWN":
      return { status: 504, body: { status: "error", code: "outcome_unknown", message, ...(f.requestId !== undefined && { requestId: f.requestId }) } };
    case "STORE_UNAVAILABLE":
      return { status: 503, body: { status: "error", code: "unavailable", message } };
    case "UNAUTHENTICATED":
      return { status: 401, body: { status: "error", code: "unauthenticated", message } };
    case "PERMISSION_DENIED":
      return { status: 403, body: { status: "error", code: "forbidden", message } };
    case "RATE_LIMITED": {
      // Retry-After takes whole seconds; the body says it to the millisecond.
      const retryAfterMs = f.retryAfterMs ?? 1000;
      return {
        status: 429,
        body: { status: "error", code: "rate_limited", message, limit: f.limit, retryAfterMs },
        headers: { "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
      };
    }
    case "SCHEMA_VIOLATED":
      return {
        status: 409,
        body: { status: "error", code: "schema_violated", message, key: f.key, count: f.violationCount, violations: (f.violations ?? []).map(violationJson) },
      };
    case "SCHEMA_NOT_FOUND":
      return { status: 404, body: { status: "error", code: "schema_not_found", key: f.key, message } };
  }
}

/**
 * An issue as REST shows it: a schema issue as {path: JSON Pointer within
 * the settings map, message, keyword}; any other as {code, path: [...], message}.
 */
export function restIssue(i: Issue): unknown {
  return i.keyword === undefined ? i : { path: pointerOf(i.path), message: i.message, keyword: i.keyword };
}

export function violationJson(v: Violation) {
  return { sessionId: v.sessionId, scope: v.scope, issues: v.issues.map(restIssue) };
}
