// REST routes compatible with codex-manager's API (SPEC §5), on the same
// port. Each route parses its declared JSON shape, calls the same operations
// as Connect, and maps errors in one place (./errors.ts).
import type { z } from "zod";
import { errors, issue } from "../../domain/errors.js";
import { entriesJson, isObject } from "../../domain/json.js";
import { SESSION_LIST_PAGE } from "../../domain/limits.js";
import type { JsonObject, JsonValue, MutationResult, Scope } from "../../domain/types.js";
import type { Logger } from "../../observe/log.js";
import type { SettingsUpdate } from "../../service/operations.js";
import { sendJson } from "../http-json.js";
import type { Req, Res } from "../http-types.js";
import type { RouteContext, RouteHandler } from "../server.js";
import { readJsonBody } from "./body.js";
import { openApiDocument } from "./openapi.js";
import { SettingsSnapshot } from "../../service/settings-snapshot.js";
import { restError, type RestAnswer } from "./errors.js";
import { streamEvents } from "./events.js";
import {
  atRevisionQuery,
  controlsBody,
  createSessionBody,
  deleteKeyQuery,
  eventsQuery,
  historyQuery,
  listSessionsQuery,
  scopeSchema,
  settingsBody,
  toIssues,
  toRevision,
} from "./schemas.js";
import { controlsViewJson, historyEntryJson, sessionJson, sessionListJson, tupleJson } from "./views.js";
import { Ctx, ok, withSettings, written, type Handler } from "./route-context.js";
import { getChanges, listSettings } from "./change-routes.js";
import { peerOf } from "../peer.js";
import { SCHEMA_ROUTES } from "./schema-routes.js";

/** What every write takes besides its payload: its scope, provenance, compare-and-set and the Idempotency-Key header; REST answers the whole map after it. */
function writeOf(ctx: Ctx, fields: { ifRevision?: number | string; actor?: string; source?: string }, sessionId: string, scope: Scope) {
  const key = ctx.req.headers["idempotency-key"];
  return {
    caller: ctx.caller,
    ifRevision: toRevision(fields.ifRevision),
    actor: fields.actor,
    source: fields.source,
    requestId: typeof key === "string" ? key : undefined,
    sessionId,
    scope,
    withSettings: true,
  };
}
const outcome = (changed: boolean) => (changed ? "ok" : "unchanged");
/** A settings write's answer: `body`, then the whole map after the write (from its stored texts) and the revision. */
const writtenWithMap = (body: object, result: MutationResult) =>
  withSettings(body, entriesJson(result.settingsEntries ?? []), result.revision, result.replayed);

/**
 * SPEC §4 step 1: a scope that is not session or default is a malformed request.
 * Routes with a declared schema get it checked there; this serves the rest and
 * the early check of a body's scope before the session is looked at.
 */
function parseScope(raw: unknown): Scope {
  if (raw === undefined || raw === null) return "session";
  const parsed = scopeSchema.safeParse(raw);
  if (!parsed.success) throw errors.invalid(toIssues(parsed.error, ["scope"]));
  return parsed.data;
}

/**
 * Reads and shape-checks a body. A bad body to a session that is deleted,
 * system-owned or unknown reports the session first (SPEC §4).
 */
async function parseBody<S extends z.ZodType>(ctx: Ctx, schema: S, sessionId?: string): Promise<z.output<S>> {
  const body = await readJsonBody(ctx.req, ctx.ops.config.limits.maxBodyBytes);
  if (body.ok && isObject(body.value)) {
    if (typeof body.value.actor === "string") ctx.declaredActor = body.value.actor;
    parseScope(body.value.scope);
  }
  const parsed = body.ok ? schema.safeParse(body.value ?? {}) : undefined;
  if (parsed?.success) return parsed.data;
  if (sessionId !== undefined) await ctx.ops.requireSession(sessionId);
  throw errors.invalid(body.ok ? toIssues(parsed!.error) : body.issues);
}

const createSession: Handler = async (ctx) => {
  const b = await parseBody(ctx, createSessionBody);
  const { session, tuple } = await ctx.ops.createSession({
    caller: ctx.caller,
    sessionId: b.sessionId,
    cwd: b.cwd,
    systemOwned: b.systemOwned,
    overrides: { model: b.model, approvalPolicy: b.approvalPolicy, networkAccess: b.networkAccess, filesystemSandbox: b.filesystemSandbox },
  });
  return ok({ session: sessionJson(session, tuple) });
};

/**
 * codex-manager's session list: active user sessions ordered by id, paged by
 * an opaque cursor. This service archives nothing, so the archived list is
 * empty; system-owned sessions are never listed (every call to them answers 403).
 */
const listSessions: Handler = async ({ query, ops, caller }) => {
  const q = listSessionsQuery.safeParse(Object.fromEntries(query));
  if (!q.success) throw errors.invalid(toIssues(q.error));
  if (q.data.archived === "true") return ok(sessionListJson([], null, true));
  const page = await ops.listSessions(q.data.limit ?? SESSION_LIST_PAGE.default, q.data.cursor ?? "", caller);
  return ok(sessionListJson(page.sessions, page.nextPageToken || null, false));
};

const getSession: Handler = async ({ params: [sessionId], ops, caller }) => {
  const { session, tuple } = await ops.getSession(sessionId!, caller);
  return ok({ session: sessionJson(session, tuple) });
};

const deleteSession: Handler = async ({ params: [sessionId], ops, caller }) => {
  const { deletedAt } = await ops.deleteSession(sessionId!, caller);
  return ok({ status: "ok", sessionId, deletedAt: deletedAt.toISOString() });
};

/** `?atRevision=N`: a read of the scope as it was at revision N. */
function atRevisionOf(query: URLSearchParams): bigint | undefined {
  const q = atRevisionQuery.safeParse({ atRevision: query.get("atRevision") ?? undefined });
  if (!q.success) throw errors.invalid(toIssues(q.error));
  return toRevision(q.data.atRevision);
}

const getSettings: Handler = async ({ params: [sessionId], query, ops, caller }) => {
  const scope = parseScope(query.get("scope") ?? undefined);
  const key = query.get("key") ?? undefined;
  const read = await ops.getSettings({ sessionId: sessionId!, scope }, key, caller, atRevisionOf(query));
  // The map's JSON text is built once per revision and shared; the envelope around it is small.
  if (read instanceof SettingsSnapshot) return withSettings({ status: "ok", sessionId, scope }, await read.json(), read.revision);
  return ok({ status: "ok", sessionId, scope, key: key!.trim(), found: read.found, value: read.value, revision: Number(read.revision) });
};

const postSettings: Handler = async (ctx) => {
  const sessionId = ctx.params[0]!;
  const b = await parseBody(ctx, settingsBody, sessionId);
  const scope = b.scope ?? "session";
  const update: SettingsUpdate =
    b.settings !== undefined
      ? { kind: "object", settings: b.settings, mode: b.mode ?? "merge" }
      : b.path !== undefined
        ? { kind: "path", ...(typeof b.path === "string" ? { path: b.path } : { segments: b.path }), value: b.value as JsonValue | undefined, op: b.op ?? "set" }
        : { kind: "entry", key: b.key, value: b.value as JsonValue | undefined };
  const result = await ctx.ops.setSettings(
    writeOf(ctx, b, sessionId, scope),
    update,
  );
  const body: Record<string, unknown> = { status: outcome(result.changed), sessionId, scope };
  if (result.key !== undefined) body.key = result.key;
  if (update.kind === "path" && update.op === "unset") body.removed = result.removed;
  return writtenWithMap(body, result);
};

const deleteSetting: Handler = async (ctx) => {
  const [sessionId, rawKey] = ctx.params as [string, string];
  const q = deleteKeyQuery.safeParse(Object.fromEntries(ctx.query));
  if (!q.success) throw errors.invalid(toIssues(q.error));
  const scope = q.data.scope ?? "session";
  const result = await ctx.ops.unsetSetting(
    writeOf(ctx, q.data, sessionId, scope),
    rawKey,
  );
  return writtenWithMap({ status: outcome(result.changed), sessionId, scope, key: result.key, removed: result.removed }, result);
};

const getControls: Handler = async ({ params: [sessionId], query, ops, caller }) => {
  const view = await ops.getControls(sessionId!, caller, atRevisionOf(query));
  return ok({ status: "ok", sessionId, ...controlsViewJson(view) });
};

const postControls: Handler = async (ctx) => {
  const sessionId = ctx.params[0]!;
  const b = await parseBody(ctx, controlsBody, sessionId);
  const scope = b.scope ?? "session";
  const controls = b.controls as JsonObject;
  const result = await ctx.ops.applyControls(
    writeOf(ctx, b, sessionId, scope),
    controls,
    Object.prototype.hasOwnProperty.call(controls, "settings") ? controls.settings : undefined,
  );
  const view = await ctx.ops.controlsView(sessionId);
  return written({
    status: outcome(result.changed), scope, applied: tupleJson(result.applied), summary: result.summary,
    sessionId, ...controlsViewJson(view),
  }, result.replayed);
};

const getHistory: Handler = async ({ params: [sessionId], query, ops, caller }) => {
  const q = historyQuery.safeParse(Object.fromEntries(query));
  if (!q.success) throw errors.invalid(toIssues(q.error));
  const scope = q.data.scope ?? "session";
  const page = await ops.listHistory({ sessionId: sessionId!, scope }, Number(q.data.limit ?? 0), toRevision(q.data.before), caller);
  return ok({
    status: "ok", sessionId, scope, entries: page.entries.map(historyEntryJson),
    nextBefore: page.nextBefore === undefined ? null : Number(page.nextBefore),
  });
};

const getEvents: Handler = async ({ params: [sessionId], query, req, res, ops, log, signal, caller }) => {
  const q = eventsQuery.safeParse(Object.fromEntries(query));
  if (!q.success) throw errors.invalid(toIssues(q.error));
  const scope = q.data.scope ?? "session";
  const lastEventId = req.headers["last-event-id"];
  const from = q.data.fromRevision ?? (typeof lastEventId === "string" && /^\d{1,20}$/.test(lastEventId) ? lastEventId : undefined);
  const watch = await ops.watch(
    { sessionId: sessionId!, scope },
    { fromRevision: toRevision(from), includeSettings: q.data.includeSettings === "true", signal, caller, protocol: "rest" },
  );
  await streamEvents(res, watch, { ops, log, signal });
  return undefined;
};

// Each route names the procedure it calls, so that metrics and logs count REST and RPC alike.
const ROUTES: { method: string; name: string; procedure: string; pattern: RegExp; handler: Handler }[] = (
  [
    ["GET", "/api/openapi.json", "OpenApi", async () => ok(openApiDocument())],
    ["GET", "/api/sessions", "ListSessions", listSessions],
    ["GET", "/api/settings", "ListSettings", listSettings],
    ["GET", "/api/events", "WatchChanges", getChanges],
    ["POST", "/api/sessions", "CreateSession", createSession],
    ["GET", "/api/sessions/:sessionId", "GetSession", getSession],
    ["DELETE", "/api/sessions/:sessionId", "DeleteSession", deleteSession],
    ["GET", "/api/sessions/:sessionId/settings", "GetSettings", getSettings],
    ["POST", "/api/sessions/:sessionId/settings", "SetSettings", postSettings],
    ["GET", "/api/sessions/:sessionId/settings/history", "ListHistory", getHistory],
    ["GET", "/api/sessions/:sessionId/settings/events", "WatchSettings", getEvents],
    ["DELETE", "/api/sessions/:sessionId/settings/:key", "UnsetSetting", deleteSetting],
    ["GET", "/api/sessions/:sessionId/session-controls", "GetControls", getControls],
    ["POST", "/api/sessions/:sessionId/session-controls", "ApplyControls", postControls],
    ...SCHEMA_ROUTES,
  ] as const
).map(([method, name, procedure, handler]) => ({
  method,
  name: `${method} ${name}`,
  procedure,
  // Parameters match one raw segment; an encoded "/" (%2F) stays inside it. No trailing
  // slash, as in codex-manager: a client that resolves ".." must not hit the parent route.
  pattern: new RegExp(`^${name.replace(/:\w+/g, "([^/]+)")}$`),
  handler,
}));

function decodeParams(match: RegExpExecArray): string[] {
  try {
    const params = new Array<string>(match.length - 1);
    for (let i = 1; i < match.length; i++) params[i - 1] = match[i]!.includes("%") ? decodeURIComponent(match[i]!) : match[i]!;
    return params;
  } catch {
    throw errors.invalid([issue([], "the path is not valid percent-encoding", "invalid_format")]);
  }
}

/** The query of every request that has none; routes only read a query. */
const NO_QUERY = new URLSearchParams();

export function restRoutes({ ops, log, shutdown, auth, limiter, trace, observe }: RouteContext): RouteHandler {
  return async (req: Req, res: Res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== "/api" && !path.startsWith("/api/")) return false;
    let match: RegExpExecArray | null = null;
    const route = ROUTES.find((r) => r.method === req.method && (match = r.pattern.exec(path)) !== null);
    if (!route || !match) {
      sendJson(res, 404, { status: "error", code: "not_found", message: `no route for ${req.method} ${path}` });
      return true;
    }
    const started = performance.now();
    let answer: RestAnswer | undefined;
    const query = q === -1 ? NO_QUERY : new URLSearchParams(url.slice(q + 1));
    const ctx = new Ctx(req, res, log, query, ops, shutdown);
    const serve = async () => {
      try {
        const peer = auth || limiter ? peerOf(req.socket) : undefined;
        ctx.caller = auth?.authenticate(req.headers.authorization, peer);
        limiter?.admit(route.procedure, { principal: ctx.caller, certificate: peer?.certificate, address: peer?.address ?? "" });
        ctx.params = decodeParams(match!);
        answer = await route.handler(ctx);
      } catch (err) {
        answer = await restError(err, ops, log, route.name);
      }
    };
    // With tracing on, the route's span lasts as long as it does (SSE: the whole stream).
    const traced = trace?.(req.method!, route.name, req.headers);
    if (traced) ctx.ops = traced.ops;
    await serve();
    traced?.end(answer?.status ?? 200, route.name.includes(":sessionId") ? ctx.params[0] : undefined);
    const actor = ctx.caller?.actor ?? (ctx.declaredActor || undefined);
    observe({ protocol: "rest", procedure: route.procedure, code: answer?.code ?? "ok", ms: performance.now() - started, actor });
    if (answer !== undefined) sendJson(res, answer.status, answer.raw ?? answer.body, answer.headers, answer.raw !== undefined);
    return true;
  };
}
