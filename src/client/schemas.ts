// The schema registry through the SDK (typed settings): register, read,
// list and remove a key's JSON Schema, and list the stored values that
// break it. Schema issues of a refused write reach callers as typed issues
// (SettingsError.issues, ./errors.ts).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import { SchemaOp, SchemaService, type SchemaHistoryEntry, type SchemaInfo } from "../../gen/codexmanager/settings/v1/schemas_pb.js";
import type { JsonObject } from "../domain/types.js";
import { guard, violationOf, type SchemaViolation } from "./errors.js";

export interface SchemaSummary {
  key: string;
  revision: bigint;
  updatedAt: Date | undefined;
  actor: string;
  source: string;
}

export interface SchemaChangeRecord {
  revision: bigint;
  op: "put" | "delete";
  actor: string;
  claimedActor?: string;
  source: string;
  time: Date | undefined;
  forced: boolean;
  violations: number;
}

const summaryOf = (i: SchemaInfo | undefined): SchemaSummary => ({
  key: i?.key ?? "",
  revision: i?.revision ?? 0n,
  updatedAt: i?.updatedAt ? timestampDate(i.updatedAt) : undefined,
  actor: i?.actor ?? "",
  source: i?.source ?? "",
});

const changeOf = (h: SchemaHistoryEntry): SchemaChangeRecord => ({
  revision: h.revision,
  op: h.op === SchemaOp.DELETE ? "delete" : "put",
  actor: h.actor,
  ...(h.claimedActor && { claimedActor: h.claimedActor }),
  source: h.source,
  time: h.time ? timestampDate(h.time) : undefined,
  forced: h.forced,
  violations: Number(h.violationCount),
});

export function schemasApi(transport: Transport) {
  const api = createClient(SchemaService, transport);
  return {
    /**
     * Registers `schema` (JSON Schema 2020-12) for the top-level key `key`. Refused
     * with SCHEMA_VIOLATED (err.violations) when stored values break it, unless `force`.
     */
    async put(key: string, schema: JsonObject, options: { force?: boolean; actor?: string; source?: string } = {}) {
      const r = await guard(api.putSchema({ key, schema, force: options.force ?? false, actor: options.actor ?? "", source: options.source ?? "" }));
      return { key: r.key, revision: r.revision, changed: r.changed, violations: Number(r.violationCount) };
    },
    async get(key: string) {
      const r = await guard(api.getSchema({ key }));
      return { ...summaryOf(r.info), schema: r.schema ?? {}, history: r.history.map(changeOf) };
    },
    async list(): Promise<SchemaSummary[]> {
      return (await guard(api.listSchemas({}))).schemas.map(summaryOf);
    },
    async delete(key: string, options: { actor?: string; source?: string } = {}) {
      const r = await guard(api.deleteSchema({ key, actor: options.actor ?? "", source: options.source ?? "" }));
      return { key: r.key, revision: r.revision, changed: r.changed };
    },
    /** The stored values of `key` that break its schema: how many, and the first `limit` (default 100). */
    async violations(key: string, options: { limit?: number } = {}): Promise<{ key: string; revision: bigint; count: number; violations: SchemaViolation[] }> {
      const r = await guard(api.listViolations({ key, limit: options.limit ?? 0 }));
      return { key: r.key, revision: r.revision, count: Number(r.count), violations: r.violations.map(violationOf) };
    },
  };
}


