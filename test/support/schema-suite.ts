// Typed settings (issue 24) as a contract, run against each store over each
// RPC transport with the generated clients: a bad schema is refused saying
// where; every kind of write, in both scopes, is checked on the value it
// commits and refused whole with its issues; a new session's copies of the
// defaults are checked; registering over stored values answers
// SCHEMA_VIOLATED unless forced; and the registry reads, lists, removes and
// records who changed what. Schemas are store-wide, so each test uses keys
// of its own.
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SchemaOp } from "../../gen/codexmanager/settings/v1/schemas_pb.js";
import { ApprovalPolicy, FilesystemSandbox, Mode, NetworkAccess, PathOp, Scope } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { expectFailure } from "./errors.js";
import type { Clients, TestServer, TransportName } from "./server.js";

export type StartServer = (env?: Record<string, string>) => Promise<TestServer>;

/** The README's example: what an agent may approve alone. */
export const TEAM_SCHEMA = {
  type: "object",
  properties: {
    lead: { type: "string", description: "Who leads the team" },
    review: {
      type: "object",
      properties: {
        autoApprove: {
          type: "object",
          description: "What an agent may approve without asking",
          properties: {
            enabled: { type: "boolean", description: "Approve small changes alone" },
            threshold: { type: "integer", minimum: 0, maximum: 100, description: "Largest change (lines) approved alone" },
            level: { enum: ["low", "medium", "high"] },
          },
          required: ["enabled"],
          additionalProperties: false,
        },
      },
    },
  },
};

const CONTROLS = { approvalPolicy: ApprovalPolicy.ON_REQUEST, networkAccess: NetworkAccess.ENABLED, filesystemSandbox: FilesystemSandbox.WORKSPACE_WRITE };

/** A Value message from plain JSON, for request fields of type Value. */
export function toValue(v: unknown): any {
  if (v === null) return { kind: { case: "nullValue", value: 0 } };
  if (typeof v === "string") return { kind: { case: "stringValue", value: v } };
  if (typeof v === "number") return { kind: { case: "numberValue", value: v } };
  if (typeof v === "boolean") return { kind: { case: "boolValue", value: v } };
  if (Array.isArray(v)) return { kind: { case: "listValue", value: { values: v.map(toValue) } } };
  return { kind: { case: "structValue", value: { fields: Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, toValue(x)])) } } };
}

/** An issue as a client reads it: where (pointer), what, and which keyword. */
const issuesOf = (detail: { issues: { pointer: string; message: string; keyword: string }[] } | undefined) =>
  (detail?.issues ?? []).map((i) => ({ pointer: i.pointer, message: i.message, keyword: i.keyword }));

export function schemaSuite(label: string, start: StartServer, transports: TransportName[]): void {
  describe.each(transports)(`typed settings on ${label} over %s`, (transport) => {
    let server: TestServer;
    let c: Clients;
    beforeAll(async () => {
      server = await start({ MAX_SCHEMA_BYTES: "4096" });
      c = server.clients(transport);
    });
    afterAll(async () => {
      await server?.close();
    });

    const newKey = () => `team-${randomUUID().slice(0, 8)}`;
    async function session(): Promise<string> {
      const sessionId = `s-${randomUUID()}`;
      await c.sessions.createSession({ sessionId });
      return sessionId;
    }
    const put = (key: string, schema: object, force = false) => c.schemas.putSchema({ key, schema: schema as never, force, actor: "schema-admin", source: "suite" });
    const entry = (sessionId: string, key: string, value: unknown, scope = Scope.SESSION, extra: object = {}) =>
      c.settings.setSettings({ sessionId, scope, update: { case: "entry", value: { key, value: toValue(value) } }, ...extra });
    const read = async (sessionId: string, key: string, scope = Scope.SESSION) => {
      const r = await c.settings.getSettings({ sessionId, scope, key });
      return { found: r.found, revision: r.revision };
    };

    it("refuses a schema that does not compile, is too large, or references anything outside itself, saying where", async () => {
      const key = newKey();
      const refused = async (schema: object, segments: string[], message: RegExp) => {
        const detail = await expectFailure(put(key, schema), Code.InvalidArgument, "INVALID_REQUEST");
        expect(detail!.issues.map((i) => i.pathSegments), JSON.stringify(detail!.issues)).toContainEqual(segments);
        expect(detail!.issues.map((i) => i.message).join("; ")).toMatch(message);
      };
      await refused({ type: "strng" }, ["schema", "type"], /allowed values/);
      await refused({ properties: { review: { maximim: 3 } } }, ["schema", "properties", "review", "maximim"], /unknown keyword: "maximim"/);
      await refused({ properties: { lead: { $ref: "https://example.com/lead.json" } } }, ["schema", "properties", "lead", "$ref"], /remote references are never loaded/);
      await refused({ $schema: "http://json-schema.org/draft-07/schema#" }, ["schema", "$schema"], /2020-12/);
      await refused({ $ref: "#/$defs/missing" }, ["schema"], /does not compile: can't resolve reference/);
      await refused({ description: "x".repeat(5000) }, ["schema"], /at most 4096 bytes/);
      await expectFailure(c.schemas.getSchema({ key }), Code.NotFound, "SCHEMA_NOT_FOUND");
    });

    it("checks every kind of write on the value it commits, in both scopes, and applies nothing it refuses", async () => {
      const key = newKey();
      await put(key, TEAM_SCHEMA);
      const sessionId = await session();
      for (const scope of [Scope.SESSION, Scope.DEFAULT]) {
        await entry(sessionId, key, { review: { autoApprove: { enabled: true, threshold: 10 } } }, scope);
        const before = await read(sessionId, key, scope);
        const refuse = async (call: Promise<unknown>, issues: { pointer: string; keyword: string; message?: string }[]) => {
          const detail = await expectFailure(call, Code.InvalidArgument, "INVALID_REQUEST");
          expect(issuesOf(detail)).toEqual(issues.map((i) => ({ message: expect.any(String), ...i })));
          expect(await read(sessionId, key, scope)).toEqual(before);
        };
        const at = `/${key}/review/autoApprove`;
        await refuse(entry(sessionId, key, { review: { autoApprove: { enabled: "yes", threshold: 150 } } }, scope), [
          { pointer: `${at}/enabled`, keyword: "type", message: "must be boolean" },
          { pointer: `${at}/threshold`, keyword: "maximum", message: "must be <= 100" },
        ]);
        const path = (segments: string[], op: PathOp, value?: unknown) =>
          c.settings.setSettings({ sessionId, scope, update: { case: "path", value: { segments: [key, ...segments], op, value: value === undefined ? undefined : toValue(value) } } });
        await refuse(path(["review", "autoApprove", "threshold"], PathOp.SET, 101), [{ pointer: `${at}/threshold`, keyword: "maximum" }]);
        await refuse(path(["review", "autoApprove"], PathOp.MERGE, { level: "lwo" }), [
          { pointer: `${at}/level`, keyword: "enum", message: 'must be equal to one of the allowed values: "low", "medium", "high"' },
        ]);
        await refuse(path(["review", "autoApprove", "enabled"], PathOp.UNSET), [{ pointer: `${at}/enabled`, keyword: "required" }]);
        await refuse(path(["review", "autoApprove", "extra"], PathOp.SET, 1), [{ pointer: `${at}/extra`, keyword: "additionalProperties" }]);
        await refuse(
          c.settings.setSettings({ sessionId, scope, update: { case: "object", value: { settings: { [key]: { lead: 7 }, other: 1 } as never, mode: Mode.MERGE } } }),
          [{ pointer: `/${key}/lead`, keyword: "type" }],
        );
        await refuse(
          c.settings.setSettings({ sessionId, scope, update: { case: "object", value: { settings: { [key]: [] } as never, mode: Mode.REPLACE } } }),
          [{ pointer: `/${key}`, keyword: "type" }],
        );
        await refuse(c.settings.applyControls({ sessionId, scope, controls: { ...CONTROLS, settings: { [key]: "x" } as never } }), [{ pointer: `/${key}`, keyword: "type" }]);
        // Valid writes of every kind go through; controls without settings and removals are not checked.
        await path(["review", "autoApprove"], PathOp.MERGE, { level: "high", threshold: 100 });
        await path(["lead"], PathOp.SET, "ana");
        await c.settings.applyControls({ sessionId, scope, controls: CONTROLS });
        await c.settings.unsetSetting({ sessionId, scope, key });
        expect((await read(sessionId, key, scope)).found).toBe(false);
      }
    });

    it("checks the settings a new session copies from the defaults", async () => {
      const key = newKey();
      const sessionId = await session();
      await entry(sessionId, key, { lead: 42 }, Scope.DEFAULT);
      try {
        const registered = await put(key, TEAM_SCHEMA, true);
        expect(registered.violationCount).toBeGreaterThanOrEqual(1n);
        const detail = await expectFailure(c.sessions.createSession({ sessionId: `s-${randomUUID()}` }), Code.InvalidArgument, "INVALID_REQUEST");
        expect(issuesOf(detail)).toEqual([{ pointer: `/${key}/lead`, keyword: "type", message: "must be string" }]);
        await entry(sessionId, key, { lead: "ana" }, Scope.DEFAULT);
        const created = `s-${randomUUID()}`;
        await c.sessions.createSession({ sessionId: created });
        expect((await c.settings.getSettings({ sessionId: created })).settings?.[key]).toEqual({ lead: "ana" });
      } finally {
        await c.schemas.deleteSchema({ key });
        await c.settings.unsetSetting({ sessionId, scope: Scope.DEFAULT, key });
      }
    });

    it("registers over stored values only if they satisfy the schema, unless forced; ListViolations lists what still breaks it", async () => {
      const key = newKey();
      const ids = [await session(), await session(), await session()].sort();
      for (const id of ids) await entry(id, key, { review: { autoApprove: { enabled: 1 } } });
      const fine = await session();
      await entry(fine, key, { lead: "ana" });
      const detail = await expectFailure(put(key, TEAM_SCHEMA), Code.FailedPrecondition, "SCHEMA_VIOLATED");
      expect(detail!.key).toBe(key);
      expect(detail!.violationCount).toBe(3n);
      expect(detail!.violations.map((v) => v.sessionId)).toEqual(ids);
      expect(issuesOf(detail!.violations[0])).toEqual([{ pointer: `/${key}/review/autoApprove/enabled`, keyword: "type", message: "must be boolean" }]);
      await expectFailure(c.schemas.getSchema({ key }), Code.NotFound, "SCHEMA_NOT_FOUND");
      // Nothing was registered: any value is still taken.
      await entry(fine, key, { lead: 1 });
      await entry(fine, key, { lead: "ana" });

      const forced = await put(key, TEAM_SCHEMA, true);
      expect(forced).toMatchObject({ key, changed: true, violationCount: 3n });
      const report = await c.schemas.listViolations({ key });
      expect(report.count).toBe(3n);
      expect(report.revision).toBe(forced.revision);
      expect(report.violations.map((v) => [v.sessionId, v.scope])).toEqual(ids.map((id) => [id, Scope.SESSION]));
      // The stored values stay; later writes are checked; fixing one takes it off the list.
      await expectFailure(entry(fine, key, { lead: 1 }), Code.InvalidArgument, "INVALID_REQUEST");
      await entry(ids[0]!, key, { review: { autoApprove: { enabled: true } } });
      expect((await c.schemas.listViolations({ key, limit: 1 })).violations.map((v) => v.sessionId)).toEqual([ids[1]]);
      expect((await c.schemas.listViolations({ key })).count).toBe(2n);
    });

    it("reads, lists and removes schemas; the same schema again is unchanged; each change records who made it", async () => {
      const key = newKey();
      const first = await put(key, TEAM_SCHEMA);
      expect(first).toMatchObject({ key, changed: true });
      const again = await put(key, TEAM_SCHEMA);
      expect(again).toMatchObject({ changed: false, revision: first.revision });
      const narrower = { ...TEAM_SCHEMA, required: ["lead"] };
      const second = await put(key, narrower);
      expect(second.revision).toBeGreaterThan(first.revision);
      const got = await c.schemas.getSchema({ key });
      expect(got.schema).toEqual(narrower);
      expect(got.info).toMatchObject({ key, revision: second.revision, actor: "schema-admin", source: "suite" });
      expect(got.history.map((h) => [h.revision, h.op, h.actor, h.source, h.forced])).toEqual([
        [second.revision, SchemaOp.PUT, "schema-admin", "suite", false],
        [first.revision, SchemaOp.PUT, "schema-admin", "suite", false],
      ]);
      expect((await c.schemas.listSchemas({})).schemas.filter((s) => s.key === key).map((s) => s.revision)).toEqual([second.revision]);
      const sessionId = await session();
      await expectFailure(entry(sessionId, key, {}), Code.InvalidArgument, "INVALID_REQUEST");

      const removed = await c.schemas.deleteSchema({ key, actor: "schema-admin", source: "suite" });
      expect(removed).toMatchObject({ key, changed: true });
      expect(removed.revision).toBeGreaterThan(second.revision);
      expect(await c.schemas.deleteSchema({ key })).toMatchObject({ changed: false });
      await expectFailure(c.schemas.getSchema({ key }), Code.NotFound, "SCHEMA_NOT_FOUND");
      await expectFailure(c.schemas.listViolations({ key }), Code.NotFound, "SCHEMA_NOT_FOUND");
      expect((await c.schemas.listSchemas({})).schemas.map((s) => s.key)).not.toContain(key);
      await entry(sessionId, key, {});
    });
  });
}
