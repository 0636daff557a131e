// SchemaService (connect-es style, like ./connect-services.ts): the schema
// registry over gRPC, Connect and gRPC-Web. Errors are DomainErrors here;
// the transport's interceptor maps them (SCHEMA_VIOLATED carries the count
// and the first offenders in its ErrorDetail).
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { SchemaOp, SchemaService } from "../../gen/codexmanager/settings/v1/schemas_pb.js";
import { principalKey } from "../auth.js";
import type { JsonObject } from "../domain/types.js";
import type { SchemaHistoryEntry, SchemaRecord } from "../store/store.js";
import { violationToPb } from "./convert.js";
import type { Operations } from "./operations.js";

const callerOf = (ctx: HandlerContext) => ctx.values.get(principalKey);
// proto3 cannot tell an empty string from an absent one: empty means "use the default".
const given = (s: string) => s || undefined;

const infoOf = (r: SchemaRecord) => ({ key: r.key, revision: r.revision, updatedAt: timestampFromDate(r.time), actor: r.actor, source: r.source });

const historyOf = (e: SchemaHistoryEntry) => ({
  revision: e.revision,
  key: e.key,
  op: e.op === "put" ? SchemaOp.PUT : SchemaOp.DELETE,
  actor: e.actor,
  claimedActor: e.claimedActor ?? "",
  source: e.source,
  time: timestampFromDate(e.time),
  forced: e.forced,
  violationCount: BigInt(e.violations),
});

export function schemaService(ops: Operations): ServiceImpl<typeof SchemaService> {
  return {
    async putSchema(req, ctx) {
      const put = await ops.putSchema({
        key: req.key, schema: req.schema, force: req.force, actor: given(req.actor), source: given(req.source), caller: callerOf(ctx),
      });
      return { key: put.key, revision: put.revision, changed: put.changed, violationCount: BigInt(put.violations) };
    },

    async getSchema(req, ctx) {
      const { record, schema, history } = await ops.getSchema(req.key, callerOf(ctx));
      return { info: infoOf(record), schema: schema as JsonObject, history: history.map(historyOf) };
    },

    async listSchemas(_req, ctx) {
      return { schemas: (await ops.listSchemas(callerOf(ctx))).map(infoOf) };
    },

    async deleteSchema(req, ctx) {
      const removed = await ops.deleteSchema({ key: req.key, actor: given(req.actor), source: given(req.source), caller: callerOf(ctx) });
      return { key: removed.key, revision: removed.revision, changed: removed.changed };
    },

    async listViolations(req, ctx) {
      const report = await ops.listViolations(req.key, req.limit, callerOf(ctx));
      return {
        key: report.key,
        revision: report.revision,
        count: BigInt(report.count),
        violations: report.violations.map(violationToPb),
      };
    },
  };
}
