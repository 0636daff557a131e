// The one mapping from domain errors to Connect/gRPC codes, with an
// ErrorDetail carrying the reason so clients can tell 404 from 410.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { ErrorDetailSchema } from "../../gen/codexmanager/settings/v1/errors_pb.js";
import { DomainError, type ErrorReason } from "../domain/errors.js";
import type { Logger } from "../observe/log.js";
import { protocolOf, type CallObserver, type Protocol } from "../observe/calls.js";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { principalKey, type Authenticator } from "../auth.js";
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

/** Authenticates every call and leaves the caller in the context values for the handlers. */
export function authInterceptor(auth: Authenticator): Interceptor {
  return (next) => async (req) => {
    req.contextValues.set(principalKey, auth.authenticate(req.header.get("authorization")));
    return next(req);
  };
}

/** Maps the errors of unary and streaming calls, and records each call's outcome. */
export function callInterceptor(log: Logger, observe: CallObserver): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const procedure = req.method.name;
    const protocol = (req as { protocolName?: Protocol }).protocolName ?? protocolOf(req.header.get("content-type"));
    const done = (code: string) => {
      const declared = req.stream ? undefined : (req.message as { actor?: string }).actor;
      const actor = req.contextValues.get(principalKey)?.actor ?? (declared || undefined);
      observe({ protocol, procedure, code, ms: performance.now() - started, actor });
    };
    const fail = (err: unknown) => {
      // A client that went away mid-stream is a cancellation, not a fault of ours.
      const gone = req.signal.aborted || (err as { code?: string })?.code === "ERR_STREAM_PREMATURE_CLOSE";
      const ce = gone ? new ConnectError("the client went away", Code.Canceled) : toConnectError(err, log, procedure);
      done(codeToString(ce.code));
      return ce;
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        done("ok");
        return res;
      }
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
            done("ok");
          } catch (err) {
            throw fail(err);
          }
        })(),
      };
    } catch (err) {
      throw fail(err);
    }
  };
}
