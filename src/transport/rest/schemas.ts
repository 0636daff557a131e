// The JSON shape of each REST route, declared once with zod. Domain rules
// (key length, depth, enums, ...) are not repeated here: the shared
// operations check those for every transport.
import { z } from "zod";
import type { Issue, IssueCode, IssuePath } from "../../domain/errors.js";
import { isObject } from "../../domain/json.js";
import { MAX_CURSOR_LENGTH, MAX_FILTER_KEYS, MAX_ID_LENGTH, SESSION_LIST_PAGE } from "../../domain/limits.js";
import type { JsonObject, JsonValue } from "../../domain/types.js";

// Objects pass through untouched (not rebuilt), so a "__proto__" key stays data.
const jsonObject = z
  .custom<JsonObject>((v) => isObject(v as JsonValue), { message: "must be a JSON object" })
  .meta({ type: "object", description: "A JSON object." });
const json = z.custom<JsonValue>(() => true).meta({ description: "Any JSON value." });

export const scopeSchema = z.enum(["session", "default"], { message: 'must be "session" or "default"' });

const revision = z.union([
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  z.string().regex(/^\d{1,20}$/, "must be a revision number"),
]);

const provenance = {
  ifRevision: revision.optional(),
  actor: z.string().optional(),
  source: z.string().optional(),
};

export const createSessionBody = z.object({
  sessionId: z.string().optional(),
  cwd: z.string().optional(),
  model: z.string().nullable().optional(),
  approvalPolicy: z.string().optional(),
  networkAccess: z.string().optional(),
  filesystemSandbox: z.string().optional(),
  systemOwned: z.boolean().optional(),
});

export const settingsBody = z
  .object({
    scope: scopeSchema.optional(),
    settings: json.optional().meta({ description: "With mode: merge (default) or replace the map." }),
    mode: z.enum(["merge", "replace"], { message: 'must be "merge" or "replace"' }).optional(),
    key: z.string().optional(),
    value: json.optional(),
    // A dotted string, or an array of segments; the domain rules check each segment.
    path: z.union([z.string(), z.array(z.unknown())], { message: "must be a dotted string or an array of segments" }).optional(),
    op: z.enum(["set", "merge", "unset"], { message: 'must be "set", "merge" or "unset"' }).optional(),
    ...provenance,
  })
  .superRefine((b, ctx) => {
    const fail = (message: string, path: string[] = []) => ctx.addIssue({ code: "custom", message, path });
    const hasValue = b.value !== undefined;
    const forms = [b.settings !== undefined, b.key !== undefined, b.path !== undefined].filter(Boolean).length;
    if (forms > 1) return fail("give either {settings[, mode]}, {key, value} or {path, value[, op]}, not several");
    if (b.settings !== undefined) {
      if (!isObject(b.settings)) fail("must be a JSON object", ["settings"]);
      if (hasValue) fail("value goes with key or path, not with settings", ["value"]);
    } else if (b.key !== undefined) {
      if (!hasValue) fail("is required with key (null is a value)", ["value"]);
    } else if (b.path !== undefined) {
      if (!hasValue && b.op !== "unset") fail("is required with path unless op is unset", ["value"]);
    } else if (hasValue) {
      fail("is required with value", ["key"]);
    } else {
      fail("give either {settings[, mode]}, {key, value} or {path, value[, op]}");
    }
    if (b.mode !== undefined && b.settings === undefined) fail("applies only to settings", ["mode"]);
    if (b.op !== undefined && b.path === undefined) fail("applies only to path", ["op"]);
  });

export const controlsBody = z.object({
  scope: scopeSchema.optional(),
  controls: jsonObject,
  ...provenance,
});

const revisionText = z.string().regex(/^\d{1,20}$/, "must be a revision number");

export const deleteKeyQuery = z.object({
  scope: scopeSchema.optional(),
  actor: z.string().optional(),
  source: z.string().optional(),
  ifRevision: revisionText.optional(),
});

const bool = z.enum(["true", "false"], { message: 'must be "true" or "false"' });

/** codex-manager's GET /api/sessions query. */
export const listSessionsQuery = z.object({
  archived: bool.optional(),
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(SESSION_LIST_PAGE.max).optional(),
  includeSystemOwned: bool.optional(),
});

export const historyQuery = z.object({
  scope: scopeSchema.optional(),
  before: revisionText.optional(),
  limit: z.string().regex(/^\d{1,4}$/, "must be a number from 0 to 9999").optional(),
});

/** A read at a past revision (GET settings, GET session-controls). */
export const atRevisionQuery = z.object({ atRevision: revisionText.optional() });

/** GET /api/events: the change feed as Server-Sent Events. `key` may repeat. */
export const changesQuery = z.object({
  after: z.string().min(1).max(MAX_CURSOR_LENGTH).optional(),
  scope: z.enum(["sessions", "session", "default"], { message: 'must be "sessions" or "default"' }).optional(),
  key: z.array(z.string()).max(MAX_FILTER_KEYS).optional(),
  sessionIdPrefix: z.string().max(MAX_ID_LENGTH).optional(),
});

/** GET /api/settings: every scope, a page at a time. */
export const listSettingsQuery = z.object({
  pageSize: z.string().regex(/^\d{1,4}$/, "must be a number from 0 to 9999").optional(),
  pageToken: z.string().max(MAX_CURSOR_LENGTH).optional(),
});

export const eventsQuery = z.object({
  scope: scopeSchema.optional(),
  fromRevision: revisionText.optional(),
  includeSettings: bool.optional(),
});

/** PUT /api/schemas/{key}: a JSON Schema (draft 2020-12) for the key, and who registers it. */
export const putSchemaBody = z.object({
  schema: jsonObject.meta({ description: "A JSON Schema (draft 2020-12) with references within itself only." }),
  force: z.boolean().optional().meta({ description: "Register it even though stored values break it (they stay as they are; later writes are checked)." }),
  actor: z.string().optional(),
  source: z.string().optional(),
});

/** DELETE /api/schemas/{key}: who removes it. */
export const deleteSchemaQuery = z.object({ actor: z.string().optional(), source: z.string().optional() });

/** GET /api/schemas/{key}/violations. */
export const violationsQuery = z.object({
  limit: z.string().regex(/^\d{1,4}$/, "must be a number from 0 to 9999").optional().meta({ description: "How many offending scopes to list: 0 or absent means 100, at most 1000." }),
});

/** zod's issues in the domain's form; `under` places them below a field. */
export function toIssues(error: z.ZodError, under: IssuePath = []): Issue[] {
  return error.issues.map((i) => ({
    code: (ISSUE_CODES.has(i.code) ? i.code : "custom") as IssueCode,
    path: [...under, ...i.path.map((p) => (typeof p === "number" ? p : String(p)))],
    message: i.message,
  }));
}

const ISSUE_CODES = new Set<string>(["invalid_type", "invalid_value", "too_small", "too_big", "invalid_format", "custom"]);

export function toRevision(v: number | string | undefined): bigint | undefined {
  return v === undefined ? undefined : BigInt(v);
}
