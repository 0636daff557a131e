// GET /api/openapi.json: the OpenAPI 3.1 document of the REST routes,
// generated from the same zod schemas that parse requests (./schemas.ts) and
// describe answers (./responses.ts), never written by hand.
import { z } from "zod";
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiResponsesObject } from "zod-openapi";
import { MAX_ID_LENGTH } from "../../domain/limits.js";
import * as R from "./responses.js";
import {
  atRevisionQuery,
  changesQuery,
  controlsBody,
  createSessionBody,
  deleteKeyQuery,
  eventsQuery,
  historyQuery,
  listSessionsQuery,
  listSettingsQuery,
  settingsBody,
  putSchemaBody,
  deleteSchemaQuery,
  violationsQuery,
} from "./schemas.js";

const json = (schema: z.ZodType, description: string) => ({ description, content: { "application/json": { schema } } });
const oneOf = (...schemas: z.ZodType[]) => z.union(schemas as [z.ZodType, z.ZodType, ...z.ZodType[]]);

/** What any route may answer besides its own. */
const common: ZodOpenApiResponsesObject = {
  "400": json(R.invalidRequest, "Malformed identifiers, query or payload."),
  "401": json(R.unauthenticated, "Authentication is on and no valid bearer token was given."),
  "500": json(R.internal, "Anything unexpected; nothing internal is revealed."),
  "503": json(R.unavailable, "The store is unreachable; nothing was applied."),
};
/** What a route naming a session may answer. */
const session: ZodOpenApiResponsesObject = {
  ...common,
  "403": json(oneOf(R.systemSession, R.forbidden), "A system-owned session, or a role that may not do this."),
  "404": json(R.sessionNotFound, "No such session."),
  "410": json(R.sessionDeleted, "The session was deleted."),
};
/** What any write may answer besides: a page of a foreign origin may not write (see CORS_ORIGINS). */
const crossSite = (forbidden: z.ZodType[], description: string) => ({
  "403": json(oneOf(...forbidden, R.originNotAllowed), `${description} Or a write from a web page whose origin is not allowed.`),
});
/** What a write with a body may answer besides. */
const notJson = { "415": json(R.unsupportedMediaType, "The body was not sent as content-type: application/json.") };
/** What a write to a session may answer. */
const sessionWrite: ZodOpenApiResponsesObject = {
  ...session,
  ...crossSite([R.systemSession, R.forbidden], "A system-owned session, or a role that may not do this."),
};
const write: ZodOpenApiResponsesObject = {
  ...sessionWrite,
  "409": json(R.revisionMismatch, "ifRevision did not match; nothing changed."),
  "413": json(R.payloadTooLarge, "The body or the resulting map is over a limit."),
  "423": json(R.locked, "The default scope is locked (SESSION_DEFAULTS_LOCKED)."),
};

const sessionId = z.object({ sessionId: z.string().meta({ description: `1-${MAX_ID_LENGTH} characters from A-Z a-z 0-9 . _ : -` }) });
const schemaKey = z.object({ key: z.string().meta({ description: "The top-level settings key (URL-encoded)." }) });
/** What changing a schema may answer besides (it needs the admin role with authentication on). */
const schemaChange: ZodOpenApiResponsesObject = {
  ...common,
  ...crossSite([R.forbidden], "The role may not change schemas (admin only)."),
};
const op = (summary: string, responses: ZodOpenApiResponsesObject, extra: Partial<ZodOpenApiOperationObject> = {}): ZodOpenApiOperationObject => ({
  summary,
  responses,
  ...extra,
});
const body = (schema: z.ZodType) => ({ requestBody: { content: { "application/json": { schema } } } });

let document: object | undefined;

export function openApiDocument(): object {
  document ??= createDocument({
    openapi: "3.1.0",
    info: {
      title: "Session settings service (codex-manager compatible REST)",
      version: "1",
      description: "The REST routes of SPEC §5. The same operations are served over gRPC, Connect and gRPC-Web on the same port.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "Only when the service runs with AUTH_TOKENS_FILE." } },
    },
    paths: {
      "/api/sessions": {
        get: op("List active user sessions, paged", { ...common, "200": json(R.sessionListResponse, "A page of sessions.") }, {
          requestParams: { query: listSessionsQuery },
        }),
        post: op("Create a session (copies the default tuple)", {
          ...common,
          ...notJson,
          "200": json(R.sessionResponse, "The new session."),
          ...crossSite([R.systemSession, R.forbidden], "The id belongs to a system-owned session, or the role may not create."),
          "409": json(R.sessionExists, "A session with this id exists."),
          "410": json(R.sessionDeleted, "A session with this id was deleted."),
          "413": json(R.payloadTooLarge, "The body is over MAX_BODY_BYTES."),
        }, body(createSessionBody)),
      },
      "/api/settings": {
        get: op("Every scope's settings, controls and revision, a page at a time, with the cursor to watch from", {
          ...common,
          "200": json(R.listSettingsResponse, "One page; the default scope first, then active sessions by id."),
        }, { requestParams: { query: listSettingsQuery } }),
      },
      "/api/events": {
        get: op("The store-wide change feed as Server-Sent Events (event: created, change, heartbeat, error)", {
          ...common,
          "200": { description: "A text/event-stream; each change's id is its cursor (see FeedChange).", content: { "text/event-stream": { schema: R.feedChange } } },
          "410": json(R.feedTruncated, "The feed no longer reaches `after`."),
        }, { requestParams: { query: changesQuery } }),
      },
      "/api/schemas": {
        get: op("Every registered schema's key and revision", { ...common, "403": json(R.forbidden, "The role may not read."), "200": json(R.listSchemasResponse, "By key.") }),
      },
      "/api/schemas/{key}": {
        put: op("Register (or replace) a key's JSON Schema; every write of the key is then checked against it", {
          ...schemaChange,
          ...notJson,
          "200": json(R.putSchemaResponse, "Registered, or unchanged (the same schema)."),
          "400": json(R.invalidRequest, "The schema does not compile, is over MAX_SCHEMA_BYTES, or references anything outside itself; the issues say where."),
          "409": json(R.schemaViolated, "Stored values of the key break the schema (and force was not given); nothing was registered."),
          "413": json(R.payloadTooLarge, "The body is over MAX_BODY_BYTES."),
        }, { requestParams: { path: schemaKey }, ...body(putSchemaBody) }),
        get: op("A key's schema, with its recent changes", {
          ...common, "403": json(R.forbidden, "The role may not read."),
          "200": json(R.getSchemaResponse, "The schema."), "404": json(R.schemaNotFound, "The key has no schema."),
        }, { requestParams: { path: schemaKey } }),
        delete: op("Remove a key's schema (writes of the key are no longer checked)", {
          ...schemaChange, "200": json(R.deleteSchemaResponse, "Removed, or unchanged (the key had none)."),
        }, { requestParams: { path: schemaKey, query: deleteSchemaQuery } }),
      },
      "/api/schemas/{key}/violations": {
        get: op("The stored values of a key that break its schema (registered with force, say)", {
          ...common, "403": json(R.forbidden, "The role may not read."),
          "200": json(R.violationsResponse, "How many scopes, and the first of them."), "404": json(R.schemaNotFound, "The key has no schema."),
        }, { requestParams: { path: schemaKey, query: violationsQuery } }),
      },
      "/api/sessions/{sessionId}": {
        get: op("Get a session", { ...session, "200": json(R.sessionResponse, "The session.") }, { requestParams: { path: sessionId } }),
        delete: op("Delete a session, leaving a tombstone", { ...sessionWrite, "200": json(R.deleteSessionResponse, "Deleted.") }, {
          requestParams: { path: sessionId },
        }),
      },
      "/api/sessions/{sessionId}/settings": {
        get: op("Read the settings map, or one key", { ...session, "200": json(oneOf(R.settingsMapResponse, R.settingsKeyResponse), "The map, or the key.") }, {
          requestParams: { path: sessionId, query: atRevisionQuery.extend({ scope: z.enum(["session", "default"]).optional(), key: z.string().optional() }) },
        }),
        post: op("Write settings: {settings, mode}, {key, value} or {path, value, op}", { ...write, ...notJson, "200": json(R.settingsSetResponse, "Written, or unchanged.") }, {
          requestParams: { path: sessionId },
          ...body(settingsBody),
        }),
      },
      "/api/sessions/{sessionId}/settings/{key}": {
        delete: op("Remove one top-level key (URL-encoded)", { ...write, "200": json(R.settingsDeleteResponse, "Removed, or unchanged.") }, {
          requestParams: { path: sessionId.extend({ key: z.string() }), query: deleteKeyQuery },
        }),
      },
      "/api/sessions/{sessionId}/settings/history": {
        get: op("History of changes, newest first", { ...session, "200": json(R.historyResponse, "A page of history.") }, {
          requestParams: { path: sessionId, query: historyQuery },
        }),
      },
      "/api/sessions/{sessionId}/settings/events": {
        get: op("Server-Sent Events of changes (event: created, change, heartbeat, error)", {
          ...session,
          "200": { description: "A text/event-stream; each change's id is its revision.", content: { "text/event-stream": { schema: z.string() } } },
          "410": json(oneOf(R.sessionDeleted, R.historyTruncated), "Deleted, or history no longer reaches fromRevision."),
        }, { requestParams: { path: sessionId, query: eventsQuery } }),
      },
      "/api/sessions/{sessionId}/session-controls": {
        get: op("Both control tuples (atRevision: the session's as it was then)", { ...session, "200": json(R.controlsResponse, "The session's and the default tuple.") }, {
          requestParams: { path: sessionId, query: atRevisionQuery },
        }),
        post: op("Apply controls (settings only when controls.settings is given)", { ...write, ...notJson, "200": json(R.applyControlsResponse, "Applied, or unchanged.") }, {
          requestParams: { path: sessionId },
          ...body(controlsBody),
        }),
      },
    },
  });
  return document;
}
