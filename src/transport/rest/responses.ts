// The JSON shape of every REST answer, declared once with zod: the OpenAPI
// document is generated from these (./openapi.ts), views.ts builds answers
// typed by them, and a test validates real answers against the document.
import { z } from "zod";
import { APPROVAL_POLICIES, FILESYSTEM_SANDBOXES, NETWORK_ACCESS } from "../../domain/types.js";

export const jsonValue = z.unknown().meta({ description: "Any JSON value." });
export const settingsMap = z.record(z.string(), jsonValue).meta({ id: "SettingsMap", description: "Top-level key → any JSON value." });
const scope = z.enum(["session", "default"]);
const revision = z.number().int().nonnegative().meta({ description: "The scope's revision: +1 on every write that changes something." });

export const controlsTuple = z
  .object({
    model: z.string().nullable().meta({ description: "null inherits the runtime's default model." }),
    approvalPolicy: z.enum(APPROVAL_POLICIES),
    networkAccess: z.enum(NETWORK_ACCESS),
    filesystemSandbox: z.enum(FILESYSTEM_SANDBOXES),
    settings: settingsMap.optional(),
    revision: revision.optional(),
  })
  .meta({ id: "SessionControlsTuple" });

export const sessionSummary = z
  .object({
    sessionId: z.string(),
    title: z.string().meta({ description: 'Always "New chat": this service keeps settings, not conversations.' }),
    materialized: z.boolean(),
    modelProvider: z.string(),
    approvalPolicy: z.enum(APPROVAL_POLICIES),
    sessionControls: controlsTuple,
    createdAt: z.number().meta({ description: "Unix seconds." }),
    updatedAt: z.number().meta({ description: "Unix seconds of the last change to settings or controls." }),
    cwd: z.string(),
    source: z.string(),
    projectId: z.null(),
    systemOwned: z.boolean(),
  })
  .meta({ id: "SessionSummary" });

export const sessionResponse = z.object({ session: sessionSummary }).meta({ id: "SessionResponse" });
export const sessionListResponse = z
  .object({ data: z.array(sessionSummary), nextCursor: z.string().nullable(), archived: z.boolean() })
  .meta({ id: "SessionListResponse" });
export const deleteSessionResponse = z.object({ status: z.literal("ok"), sessionId: z.string(), deletedAt: z.iso.datetime() });

const outcome = z.enum(["ok", "unchanged"]);
export const settingsMapResponse = z
  .object({ status: z.literal("ok"), sessionId: z.string(), scope, settings: settingsMap, revision })
  .meta({ id: "SessionSettingsListResponse" });
export const settingsKeyResponse = z
  .object({ status: z.literal("ok"), sessionId: z.string(), scope, key: z.string(), found: z.boolean(), value: jsonValue, revision })
  .meta({ id: "SessionSettingsKeyResponse" });
export const settingsSetResponse = z
  .object({
    status: outcome, sessionId: z.string(), scope,
    key: z.string().optional().meta({ description: "The top-level key written by an entry or path update." }),
    removed: z.boolean().optional().meta({ description: "For a path unset: whether the leaf existed." }),
    settings: settingsMap, revision,
  })
  .meta({ id: "SessionSettingsSetResponse" });
export const settingsDeleteResponse = z
  .object({ status: outcome, sessionId: z.string(), scope, key: z.string(), removed: z.boolean(), settings: settingsMap, revision })
  .meta({ id: "SessionSettingsDeleteResponse" });

const controlsView = {
  sessionId: z.string(),
  controls: controlsTuple,
  defaults: controlsTuple,
  defaultsEditable: z.boolean(),
  defaultLockReason: z.string().nullable(),
};
export const controlsResponse = z.object({ status: z.literal("ok"), ...controlsView }).meta({ id: "SessionControlsResponse" });
export const applyControlsResponse = z
  .object({ status: outcome, scope, applied: controlsTuple, summary: z.string(), ...controlsView })
  .meta({ id: "ApplySessionControlsResponse" });

const pathOp = z.enum(["set", "merge", "unset"]);
export const historyEntry = z
  .object({
    revision,
    scope,
    op: z.enum(["set", "merge", "replace", "path", "unset", "controls", "create", "delete"]).meta({
      description: "create and delete appear only in the change feed (a new session's controls and settings; a deletion).",
    }),
    actor: z.string(),
    claimedActor: z.string().optional(),
    source: z.string(),
    time: z.iso.datetime(),
    path: z.object({ segments: z.array(z.string()), op: pathOp }).optional(),
    changes: z.array(
      z.object({ kind: z.enum(["setting", "control"]), key: z.string(), before: jsonValue.optional(), after: jsonValue.optional() }),
    ),
  })
  .meta({ id: "HistoryEntry" });
export const historyResponse = z
  .object({ status: z.literal("ok"), sessionId: z.string(), scope, entries: z.array(historyEntry), nextBefore: z.number().int().nullable() })
  .meta({ id: "HistoryResponse" });

// ---- The change feed ----
export const listSettingsResponse = z
  .object({
    items: z.array(
      z.object({
        sessionId: z.string().meta({ description: "Empty for the default scope, which comes first." }),
        scope,
        revision,
        settings: settingsMap,
        controls: controlsTuple,
      }),
    ),
    nextPageToken: z.string().nullable(),
    cursor: z.string().meta({ description: "The feed position taken when this listing began (every page carries it): watch from it after the last page." }),
  })
  .meta({ id: "ListSettingsResponse" });
export const feedChange = z
  .object({
    cursor: z.string(),
    sessionId: z.string().meta({ description: "Empty for the default scope." }),
    scope,
    revision,
    kind: z.enum(["session_created", "session_deleted", "settings", "controls"]),
    entry: historyEntry,
  })
  .meta({ id: "FeedChange", description: "The data of an `event: change`; its id is the cursor." });

// ---- Schemas (typed settings) ----
const schemaRevision = z.number().int().nonnegative().meta({ description: "Schema revisions count schema changes store-wide: each put or delete takes the next." });
export const putSchemaResponse = z
  .object({ status: outcome, key: z.string(), revision: schemaRevision, violations: z.number().int().meta({ description: "With force: stored values that break it." }) })
  .meta({ id: "PutSchemaResponse" });
export const deleteSchemaResponse = z.object({ status: outcome, key: z.string(), revision: schemaRevision }).meta({ id: "DeleteSchemaResponse" });
export const schemaHistoryEntry = z
  .object({
    revision: schemaRevision, op: z.enum(["put", "delete"]), actor: z.string(), claimedActor: z.string().optional(), source: z.string(),
    time: z.iso.datetime(), forced: z.boolean(), violations: z.number().int(),
  })
  .meta({ id: "SchemaHistoryEntry" });
export const getSchemaResponse = z
  .object({
    key: z.string(), schema: z.record(z.string(), jsonValue), revision: schemaRevision,
    updatedAt: z.iso.datetime(), actor: z.string(), source: z.string(),
    history: z.array(schemaHistoryEntry).meta({ description: "This key's recent schema changes, newest first." }),
  })
  .meta({ id: "GetSchemaResponse" });
export const listSchemasResponse = z
  .object({ schemas: z.array(z.object({ key: z.string(), revision: schemaRevision })) })
  .meta({ id: "ListSchemasResponse" });

// ---- Errors (SPEC §4) ----
const error = (code: string) => ({ status: z.literal("error"), code: z.literal(code), message: z.string() });
export const issue = z
  .object({
    code: z.string(),
    path: z.array(z.union([z.string(), z.number()])).meta({ description: "Field names and array indexes from the body's root." }),
    message: z.string(),
  })
  .meta({ id: "Issue" });
export const schemaIssue = z
  .object({
    path: z.string().meta({ description: 'A JSON Pointer within the settings map, the top-level key first: "/team/review/autoApprove/threshold".' }),
    message: z.string(),
    keyword: z.string().meta({ description: 'The JSON Schema keyword the value failed: "maximum", "enum", "required", ...' }),
  })
  .meta({ id: "SchemaIssue", description: "A settings value that breaks its key's JSON Schema." });
export const invalidRequest = z
  .object({ ...error("invalid_request"), issues: z.array(z.union([issue, schemaIssue])) })
  .meta({ id: "ApiValidationError" });
export const violation = z
  .object({ sessionId: z.string().meta({ description: "Empty for the default scope." }), scope, issues: z.array(schemaIssue) })
  .meta({ id: "SchemaViolation" });
export const schemaViolated = z
  .object({ ...error("schema_violated"), key: z.string(), count: z.number().int(), violations: z.array(violation).meta({ description: "The first 20: the default scope first, then sessions by id." }) })
  .meta({ id: "SchemaViolated" });
export const schemaNotFound = z.object({ ...error("schema_not_found"), key: z.string() }).meta({ id: "SchemaNotFound" });
export const unauthenticated = z.object(error("unauthenticated")).meta({ id: "Unauthenticated" });
export const forbidden = z.object(error("forbidden")).meta({ id: "Forbidden" });
export const systemSession = z.object({ ...error("system_session"), sessionId: z.string() }).meta({ id: "SystemSessionError" });
export const sessionNotFound = z.object({ status: z.literal("not_found"), sessionId: z.string() }).meta({ id: "SessionNotFoundPayload" });
export const routeNotFound = z.object(error("not_found")).meta({ id: "RouteNotFound" });
export const sessionDeleted = z
  .object({ status: z.literal("deleted"), sessionId: z.string(), message: z.string(), deletedAt: z.iso.datetime() })
  .meta({ id: "DeletedSessionPayload" });
export const feedTruncated = z
  .object({ ...error("history_truncated"), oldestCursor: z.string() })
  .meta({ id: "FeedTruncated", description: "The change feed no longer reaches that cursor; watch from oldestCursor, or list again." });
export const historyTruncated = z
  .object({ ...error("history_truncated"), sessionId: z.string(), scope, oldestRevision: revision })
  .meta({ id: "HistoryTruncated" });
export const revisionMismatch = z
  .object({ status: z.literal("conflict"), code: z.literal("revision_mismatch"), sessionId: z.string(), scope, expectedRevision: revision, currentRevision: revision })
  .meta({ id: "RevisionMismatch" });
export const sessionExists = z.object({ ...error("session_exists"), sessionId: z.string() }).meta({ id: "SessionExists" });
export const payloadTooLarge = z.object({ ...error("payload_too_large"), limit: z.number().int() }).meta({ id: "PayloadTooLarge" });
export const locked = z
  .object({
    status: z.literal("locked"), scope: z.literal("default"), message: z.literal("Managed by harness configuration"),
    settings: settingsMap.meta({ description: "The default scope's map, as codex-manager sends it." }),
    ...controlsView,
  })
  .meta({ id: "SessionSettingsLockedResponse" });
export const unavailable = z.object(error("unavailable")).meta({ id: "Unavailable" });
export const originNotAllowed = z.object(error("origin_not_allowed")).meta({ id: "OriginNotAllowed" });
export const unsupportedMediaType = z.object(error("unsupported_media_type")).meta({ id: "UnsupportedMediaType" });
export const internal = z.object(error("internal_error")).meta({ id: "InternalError" });
export const violationsResponse = z
  .object({ key: z.string(), revision: z.number().int(), count: z.number().int(), violations: z.array(violation) })
  .meta({ id: "ListViolationsResponse" });
