// The SDK's one error type: a ConnectError with the service's reason read
// out of its ErrorDetail, and the request id of the write that failed.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema, type ErrorDetail, type Issue, type Violation } from "../../gen/codexmanager/settings/v1/errors_pb.js";
import { Scope } from "../../gen/codexmanager/settings/v1/settings_pb.js";

/** One problem the service found with a request, or with a settings value under its key's schema. */
export interface SettingsIssue {
  /** The request field, dotted ("controls.model"); for a schema issue, the place in the settings map, dotted. */
  path: string;
  /** The same place as segments, exact even when a key contains a dot (a schema issue's first is the top-level key). */
  segments: string[];
  message: string;
  /** invalid_type, invalid_value, too_small, too_big, invalid_format or custom. */
  code: string;
  /** Schema issues only: the JSON Schema keyword the value failed ("maximum", "enum", ...). */
  keyword?: string;
  /** Schema issues only: the place as a JSON Pointer ("/team/review/autoApprove/threshold"). */
  pointer?: string;
}

/** One scope whose stored value breaks a key's schema (the default scope's sessionId is ""). */
export interface SchemaViolation {
  sessionId: string;
  scope: "session" | "default";
  issues: SettingsIssue[];
}

export const issuesOf = (issues: Issue[]): SettingsIssue[] =>
  issues.map((i) => ({
    path: i.path,
    segments: i.pathSegments,
    message: i.message,
    code: i.code,
    ...(i.keyword && { keyword: i.keyword, pointer: i.pointer }),
  }));

export const violationOf = (v: Violation): SchemaViolation => ({
  sessionId: v.sessionId,
  scope: v.scope === Scope.DEFAULT ? "default" : "session",
  issues: issuesOf(v.issues),
});

/** Every failure, with the service's reason (e.g. "SESSION_DELETED") when it sent one. */
export class SettingsError extends Error {
  override readonly name = "SettingsError";
  readonly reason: string | undefined;
  readonly detail: ErrorDetail | undefined;
  /**
   * On a failed write: the request id it was sent with. After OUTCOME_UNKNOWN,
   * sending the same write again with this id applies it at most once.
   */
  requestId: string | undefined;
  constructor(override readonly cause: ConnectError) {
    super(cause.rawMessage);
    this.detail = cause.findDetails(ErrorDetailSchema)[0];
    this.reason = this.detail?.reason || undefined;
  }
  get code(): Code {
    return this.cause.code;
  }
  /** INVALID_REQUEST: every problem found (a write a schema refused: each with its keyword and JSON Pointer). */
  get issues(): SettingsIssue[] {
    return issuesOf(this.detail?.issues ?? []);
  }
  /** SCHEMA_VIOLATED: how many stored values break the schema, and the first of them. */
  get violations(): { key: string; count: number; first: SchemaViolation[] } | undefined {
    const d = this.detail;
    if (d?.violationCount === undefined) return undefined;
    return { key: d.key, count: Number(d.violationCount), first: d.violations.map(violationOf) };
  }
}

export const settingsError = (err: unknown) => (err instanceof ConnectError ? new SettingsError(err) : err);

export async function guard<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw settingsError(err);
  }
}
