// The schema registry's operations (typed settings, issue 24), shared by
// every transport: register, read, list and remove a key's JSON Schema, and
// list the stored values that break one. Changing schemas needs the admin
// role with authentication on; reading them, the read role. A proposed schema
// is checked here (it compiles, is small enough, references nothing outside
// itself) before the store checks the values it would govern.
import { authorize, type Principal } from "../auth.js";
import { canonicalJson } from "../domain/json.js";
import { SchemaValidators } from "../domain/schemas.js";
import type { JsonValue } from "../domain/types.js";
import type { Store } from "../store/store.js";
import type { OperationsConfig, ProvenanceInput, RequestChecks } from "./requests.js";

/** How many of a key's recent schema changes GetSchema shows. */
const HISTORY_SHOWN = 20;
const DEFAULT_VIOLATIONS = 100;
const MAX_VIOLATIONS = 1000;

export interface PutSchemaInput extends Omit<ProvenanceInput, "requestId" | "ifRevision" | "withSettings"> {
  key: string | undefined;
  schema: JsonValue | undefined;
  force?: boolean;
}

export function schemaOperations(store: Store, req: RequestChecks, config: OperationsConfig) {
  // Compiles proposed schemas on this thread; each store compiles what it checks writes with itself.
  const validators = new SchemaValidators();

  /** The key, the change's provenance, and every issue with the rest of the request. */
  function change(input: Omit<PutSchemaInput, "schema">, what: string) {
    authorize(input.caller, "admin", what);
    const r = req.rules();
    const key = r.key("key", input.key);
    const { actor, claimedActor, source } = req.provenance(r, input, "api");
    return { r, key: key!, by: { actor, source, ...(claimedActor !== undefined && { claimedActor }) }, time: new Date() };
  }

  function keyOf(raw: string | undefined, caller: Principal | undefined, what: string): string {
    authorize(caller, "read", what);
    const r = req.rules();
    const key = r.key("key", raw);
    r.throwIfInvalid();
    return key!;
  }

  return {
    async putSchema(input: PutSchemaInput) {
      const { r, key, by, time } = change(input, "change schemas");
      const schema = r.value("schema", input.schema);
      if (schema !== undefined) r.issues.push(...validators.refusal(schema, config.limits));
      r.throwIfInvalid();
      const put = await store.putSchema({ key, text: canonicalJson(schema!), force: input.force ?? false, by, time });
      return { key, ...put };
    },

    async deleteSchema(input: Omit<PutSchemaInput, "schema" | "force">) {
      const { r, key, by, time } = change(input, "change schemas");
      r.throwIfInvalid();
      return { key, ...(await store.deleteSchema({ key, by, time })) };
    },

    async getSchema(rawKey: string | undefined, caller?: Principal) {
      const key = keyOf(rawKey, caller, "read schemas");
      const { schema, history } = await store.getSchema(key, HISTORY_SHOWN);
      return { record: schema, schema: JSON.parse(schema.text) as JsonValue, history };
    },

    async listSchemas(caller?: Principal) {
      authorize(caller, "read", "read schemas");
      return store.listSchemas();
    },

    async listViolations(rawKey: string | undefined, limit: number, caller?: Principal) {
      const key = keyOf(rawKey, caller, "read schemas");
      const r = req.rules();
      if (!Number.isInteger(limit) || limit < 0) r.fail("limit", "must be a non-negative integer");
      r.throwIfInvalid();
      return { key, ...(await store.listViolations(key, Math.min(limit || DEFAULT_VIOLATIONS, MAX_VIOLATIONS))) };
    },
  };
}
