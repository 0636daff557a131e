// The one mapping from domain errors to Connect/gRPC codes, with an
// ErrorDetail carrying the reason so clients can tell 404 from 410.
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "../../gen/codexmanager/settings/v1/errors_pb.js";
import { DomainError, type ErrorReason } from "../domain/errors.js";
import type { Logger } from "../observe/log.js";
import { issueToPb, scopeToPb, violationToPb } from "../service/convert.js";

export const CONNECT_CODES: Record<ErrorReason, Code> = {
  INVALID_REQUEST: Code.InvalidArgument,
  SYSTEM_SESSION: Code.PermissionDenied,
  SESSION_NOT_FOUND: Code.NotFound,
  SESSION_DELETED: Code.NotFound,
  SESSION_EXISTS: Code.AlreadyExists,
  DEFAULTS_LOCKED: Code.FailedPrecondition,
  REVISION_MISMATCH: Code.Aborted,
  PAYLOAD_TOO_LARGE: Code.ResourceExhausted,
  HISTORY_TRUNCATED: Code.OutOfRange,
  WATCH_BACKLOG: Code.ResourceExhausted,
  STORE_UNAVAILABLE: Code.Unavailable,
  OUTCOME_UNKNOWN: Code.DeadlineExceeded,
  UNAUTHENTICATED: Code.Unauthenticated,
  PERMISSION_DENIED: Code.PermissionDenied,
  RATE_LIMITED: Code.ResourceExhausted,
  SCHEMA_VIOLATED: Code.FailedPrecondition,
  SCHEMA_NOT_FOUND: Code.NotFound,
};


export function domainToConnect(err: DomainError): ConnectError {
  const f = err.facts;
  const detail = create(ErrorDetailSchema, {
    reason: err.reason,
    sessionId: f.sessionId ?? "",
    scope: f.scope ? scopeToPb(f.scope) : undefined,
    deletedAt: f.deletedAt ? timestampFromDate(f.deletedAt) : undefined,
    expectedRevision: f.expectedRevision,
    currentRevision: f.currentRevision,
    limit: f.limit === undefined ? undefined : BigInt(f.limit),
    oldestCursor: f.cursor ?? "",
    retryAfter: f.retryAfterMs === undefined ? undefined : durationFromMs(f.retryAfterMs),
    issues: (f.issues ?? []).map(issueToPb),
    key: f.key ?? "",
    violationCount: f.violationCount === undefined ? undefined : BigInt(f.violationCount),
    violations: (f.violations ?? []).map(violationToPb),
  });
  return new ConnectError(err.message, CONNECT_CODES[err.reason], undefined, [
    { desc: ErrorDetailSchema, value: detail },
  ]);
}

/**
 * Turns any error into what the client may see: DomainErrors map by reason,
 * ConnectErrors raised by the framework pass through, and anything else is
 * logged and becomes a bare `internal` with no internals leaked.
 */
export function toConnectError(err: unknown, log: Logger, procedure: string): ConnectError {
  if (err instanceof DomainError) return domainToConnect(err);
  if (err instanceof ConnectError) return err;
  log.error({ procedure, err }, "unexpected error");
  return new ConnectError("internal server error", Code.Internal);
}
