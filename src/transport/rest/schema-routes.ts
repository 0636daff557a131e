// The schema registry for REST clients (typed settings, issue 24):
//   PUT    /api/schemas/{key}             {schema, force?, actor?, source?}
//   GET    /api/schemas/{key}             {key, schema, revision, ...}
//   GET    /api/schemas                   {schemas: [{key, revision}]}
//   DELETE /api/schemas/{key}?actor=&source=
//   GET    /api/schemas/{key}/violations?limit=
// Keys are URL-encoded path segments, as in DELETE .../settings/{key}.
import { errors } from "../../domain/errors.js";
import type { JsonObject } from "../../domain/types.js";
import type { SchemaHistoryEntry } from "../../store/store.js";
import { violationJson } from "./errors.js";
import { ok, type Handler } from "./route-context.js";
import { readJsonBody } from "./body.js";
import { deleteSchemaQuery, putSchemaBody, toIssues, violationsQuery } from "./schemas.js";

const outcome = (changed: boolean) => (changed ? "ok" : "unchanged");

function historyJson(e: SchemaHistoryEntry) {
  return {
    revision: Number(e.revision), op: e.op, actor: e.actor, ...(e.claimedActor !== undefined && { claimedActor: e.claimedActor }),
    source: e.source, time: e.time.toISOString(), forced: e.forced, violations: e.violations,
  };
}

const putSchema: Handler = async (ctx) => {
  const body = await readJsonBody(ctx.req, ctx.ops.config.limits.maxBodyBytes);
  const parsed = body.ok ? putSchemaBody.safeParse(body.value ?? {}) : undefined;
  if (!parsed?.success) throw errors.invalid(body.ok ? toIssues(parsed!.error) : body.issues);
  const b = parsed.data;
  ctx.declaredActor = b.actor;
  const put = await ctx.ops.putSchema({ key: ctx.params[0], schema: b.schema as JsonObject, force: b.force, actor: b.actor, source: b.source, caller: ctx.caller });
  return ok({ status: outcome(put.changed), key: put.key, revision: Number(put.revision), violations: put.violations });
};

const getSchema: Handler = async ({ params: [key], ops, caller }) => {
  const { record, schema, history } = await ops.getSchema(key, caller);
  return ok({
    key: record.key, schema, revision: Number(record.revision), updatedAt: record.time.toISOString(),
    actor: record.actor, source: record.source, history: history.map(historyJson),
  });
};

const listSchemas: Handler = async ({ ops, caller }) => {
  const schemas = await ops.listSchemas(caller);
  return ok({ schemas: schemas.map((s) => ({ key: s.key, revision: Number(s.revision) })) });
};

const deleteSchema: Handler = async ({ params: [key], query, ops, caller }) => {
  const q = deleteSchemaQuery.safeParse(Object.fromEntries(query));
  if (!q.success) throw errors.invalid(toIssues(q.error));
  const removed = await ops.deleteSchema({ key, actor: q.data.actor, source: q.data.source, caller });
  return ok({ status: outcome(removed.changed), key: removed.key, revision: Number(removed.revision) });
};

const listViolations: Handler = async ({ params: [key], query, ops, caller }) => {
  const q = violationsQuery.safeParse(Object.fromEntries(query));
  if (!q.success) throw errors.invalid(toIssues(q.error));
  const report = await ops.listViolations(key, Number(q.data.limit ?? 0), caller);
  return ok({ key: report.key, revision: Number(report.revision), count: report.count, violations: report.violations.map(violationJson) });
};

/** Registered in ./routes.ts: method, path, the procedure it counts as, handler. */
export const SCHEMA_ROUTES = [
  ["GET", "/api/schemas", "ListSchemas", listSchemas],
  ["PUT", "/api/schemas/:key", "PutSchema", putSchema],
  ["GET", "/api/schemas/:key", "GetSchema", getSchema],
  ["DELETE", "/api/schemas/:key", "DeleteSchema", deleteSchema],
  ["GET", "/api/schemas/:key/violations", "ListViolations", listViolations],
] as const;
