// Typed settings (issue 24): what checking a write against a JSON Schema
// costs. The schema is a typical namespace's: 20 properties with enums,
// numbers (with bounds) and nested objects; every write sets a whole valid
// value of it (a new one every call, so every write is a change).
//   - Validation cost per write, measured directly: the check the engine and
//     the Redis store run (src/domain/typed-writes.ts with the compiled Ajv
//     validator), for an entry write and for a path merge (which also parses
//     the stored value and applies the path), CPU time over many calls in
//     this process. Budget: at most 10 µs of server CPU per write.
//   - End to end, in the rounds: SetSettings of that value into a key with
//     the schema, beside the same value into a key without one, on Redis and
//     on SQLite (server CPU per call); and on Redis a path merge into the
//     nested `review` object of 64 sessions' values, which with a schema also
//     reads the stored value first (one more Redis command, pipelined with the
//     others) for the script to compare and set. (Path merges into one key of
//     one session from one instance take turns instead, two round trips each:
//     the README gives that cost.)
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import type { JsonValue as PbJson } from "@bufbuild/protobuf";
import { PathOp, SetSettingsRequestSchema } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { canonicalJson } from "../../src/domain/json.js";
import { SchemaValidators } from "../../src/domain/schemas.js";
import { writeIssues, type SchemaCheck } from "../../src/domain/typed-writes.js";
import type { JsonObject, JsonValue, Mutation } from "../../src/domain/types.js";
import { grpcFrame, httpRequest } from "../lib/clients.js";
import { DISTINCT, PATHS } from "../lib/messages.js";
import type { Summary } from "../lib/report.js";
import { S, type Scenario } from "../lib/scenario.js";
import type { Server } from "../lib/servers.js";
import { median } from "../lib/stats.js";

const LEVELS = ["off", "low", "medium", "high"];
const MODES = ["ask", "auto", "never"];

/** 20 properties: 8 at the top, 6 in `review`, 6 in `limits` (each nested object with its own bounds). */
export const TYPED_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["enabled", "mode", "review", "limits"],
  properties: {
    enabled: { type: "boolean", description: "Policy on" },
    mode: { enum: MODES },
    level: { enum: LEVELS },
    owner: { type: "string", maxLength: 64 },
    retries: { type: "integer", minimum: 0, maximum: 10 },
    timeoutS: { type: "number", exclusiveMinimum: 0, maximum: 3600 },
    tags: { type: "array", items: { type: "string" }, maxItems: 8 },
    note: { type: "string" },
    review: {
      type: "object",
      additionalProperties: false,
      required: ["required"],
      properties: {
        required: { type: "integer", minimum: 0, maximum: 5 },
        autoApprove: { type: "boolean" },
        threshold: { type: "integer", minimum: 0, maximum: 100 },
        level: { enum: LEVELS },
        reviewers: { type: "array", items: { type: "string" }, maxItems: 10 },
        escalate: { type: "boolean" },
      },
    },
    limits: {
      type: "object",
      additionalProperties: false,
      properties: {
        maxFiles: { type: "integer", minimum: 1, maximum: 10_000 },
        maxLines: { type: "integer", minimum: 1, maximum: 1_000_000 },
        network: { enum: ["restricted", "enabled"] },
        sandbox: { enum: ["read-only", "workspace-write", "danger-full-access"] },
        cpuShare: { type: "number", minimum: 0, maximum: 1 },
        memoryMb: { type: "integer", minimum: 64, maximum: 65_536 },
      },
    },
  },
} as const;

/** A valid value of the schema; `n` makes each one different. */
export function typedValue(n: number): JsonObject {
  return {
    enabled: n % 2 === 0,
    mode: MODES[n % 3]!,
    level: LEVELS[n % 4]!,
    owner: `team-${n % 97}`,
    retries: n % 11,
    timeoutS: 1 + (n % 3599),
    tags: ["ci", `t${n % 7}`],
    note: `write ${n}`,
    review: { required: n % 6, autoApprove: n % 3 === 0, threshold: n % 101, level: LEVELS[(n + 1) % 4]!, reviewers: ["ana", "bob"], escalate: false },
    limits: { maxFiles: 1 + (n % 9999), maxLines: 1 + n, network: "restricted", sandbox: "workspace-write", cpuShare: (n % 100) / 100, memoryMb: 64 + (n % 4096) },
  };
}

const SESSION = "bench-typed";
/** The sessions the path merges spread over. */
const MERGED = Array.from({ length: 64 }, (_, i) => `bench-typed-${i}`);

const typedFrames = (key: string) => (seq: number): Buffer[] =>
  Array.from({ length: DISTINCT }, (_, i) =>
    grpcFrame(toBinary(SetSettingsRequestSchema, create(SetSettingsRequestSchema, {
      sessionId: SESSION,
      update: { case: "entry", value: { key, value: fromJson(ValueSchema, typedValue(seq * DISTINCT + i) as PbJson) } },
    }))),
  );

const mergeFrames = (key: string) => (seq: number): Buffer[] =>
  Array.from({ length: DISTINCT }, (_, i) =>
    grpcFrame(toBinary(SetSettingsRequestSchema, create(SetSettingsRequestSchema, {
      sessionId: MERGED[i % MERGED.length]!,
      update: { case: "path", value: { segments: [key, "review"], op: PathOp.MERGE, value: fromJson(ValueSchema, { threshold: i % 101, reviewers: [`r${seq * DISTINCT + i}`] }) } },
    }))),
  );

const scenario = (id: string, store: "redis" | "sqlite", frames: (seq: number) => Buffer[], label: string, writes = [SESSION]): Scenario => ({
  id, label, server: store, load: { kind: "grpc-load", path: PATHS.set, frames }, shapes: [S], procedure: ["grpc", "SetSettings"], writes,
});

export const TYPED_SCENARIOS: Scenario[] = [
  scenario("set-typed-grpc", "redis", typedFrames("policy"), "SetSettings of a 20-property value checked by its schema, gRPC, Redis"),
  scenario("set-untyped-grpc", "redis", typedFrames("plain"), "SetSettings of the same value without a schema, gRPC, Redis"),
  scenario("merge-typed-grpc", "redis", mergeFrames("policy"), "SetSettings path merge into it (64 sessions), checked by its schema, gRPC, Redis", MERGED),
  scenario("merge-untyped-grpc", "redis", mergeFrames("plain"), "SetSettings path merge into it (64 sessions) without a schema, gRPC, Redis", MERGED),
  scenario("set-typed-grpc-sqlite", "sqlite", typedFrames("policy"), "SetSettings of a 20-property value checked by its schema, gRPC, SQLite"),
  scenario("set-untyped-grpc-sqlite", "sqlite", typedFrames("plain"), "SetSettings of the same value without a schema, gRPC, SQLite"),
];

/** The sessions the typed scenarios write, and the schema of their key "policy" ("plain" has none). */
export async function prepareTyped(s: Server): Promise<void> {
  const post = (path: string, method: string, body: unknown) => httpRequest(`${s.url}${path}`, { method, body: JSON.stringify(body) });
  const calls: [string, string, unknown][] = [["/api/schemas/policy", "PUT", { schema: TYPED_SCHEMA, actor: "bench" }]];
  for (const sessionId of [SESSION, ...MERGED]) {
    calls.push(["/api/sessions", "POST", { sessionId }], [`/api/sessions/${sessionId}/settings`, "POST", { settings: { policy: typedValue(0), plain: typedValue(0) } }]);
  }
  for (const [path, method, body] of calls) {
    const r = await post(path, method, body);
    if (r.status !== 200) throw new Error(`${s.id}: ${method} ${path}: ${r.status} ${r.body}`);
  }
}

/** CPU µs per call of the check alone: median of 5 timed batches of `calls` each. */
function cpuPerCall(calls: number, run: (i: number) => void): number {
  for (let i = 0; i < calls; i++) run(i);
  const batches: number[] = [];
  for (let b = 0; b < 5; b++) {
    const start = process.cpuUsage();
    for (let i = 0; i < calls; i++) run(i);
    const used = process.cpuUsage(start);
    batches.push((used.user + used.system) / calls);
  }
  return median(batches);
}

/** Validation cost per write, measured on the very code every store runs (see the header). */
export function validationCost(calls: number): { schemaBytes: number; setUs: number; pathMergeUs: number; budgetUs: number; pass: boolean } {
  const text = canonicalJson(TYPED_SCHEMA as unknown as JsonValue);
  const validate = new SchemaValidators().check("policy", text);
  const schemas: SchemaCheck = { has: (key) => key === "policy", issues: (key, value) => (key === "policy" ? validate(value) : []) };
  const values = Array.from({ length: 1024 }, (_, i) => typedValue(i));
  const stored = values.map((v) => canonicalJson(v));
  const expectValid = (m: Mutation, current?: string) => {
    const issues = writeIssues(m, () => (current === undefined ? undefined : (JSON.parse(current) as JsonValue)), schemas);
    if (issues.length > 0) throw new Error(`the bench's value is not valid: ${JSON.stringify(issues)}`);
  };
  const setUs = cpuPerCall(calls, (i) => expectValid({ op: "set", key: "policy", value: values[i % 1024]! }));
  const pathMergeUs = cpuPerCall(calls, (i) =>
    expectValid({ op: "path", key: "policy", segments: ["review"], pathOp: "merge", value: { threshold: i % 101 } }, stored[i % 1024]),
  );
  return { schemaBytes: Buffer.byteLength(text), setUs, pathMergeUs, budgetUs: 10, pass: Math.max(setUs, pathMergeUs) <= 10 };
}

/** Server CPU per call with and without the schema, and the difference, per store (medians over rounds). */
export function typedRows(summary: Record<string, Summary>) {
  const row = (typed: string, plain: string) => {
    const t = summary[`${typed}@${S.id}`];
    const p = summary[`${plain}@${S.id}`];
    return t && p ? { typedCpuUs: t.cpuUs, untypedCpuUs: p.cpuUs, differenceUs: t.cpuUs - p.cpuUs, typedRps: t.rps, untypedRps: p.rps } : undefined;
  };
  return {
    "Redis, whole value": row("set-typed-grpc", "set-untyped-grpc"),
    "Redis, path merge (64 sessions)": row("merge-typed-grpc", "merge-untyped-grpc"),
    "SQLite, whole value": row("set-typed-grpc-sqlite", "set-untyped-grpc-sqlite"),
  };
}

export type TypedResults = { validation: ReturnType<typeof validationCost>; rows: ReturnType<typeof typedRows> };

export function typedLines(t: TypedResults | undefined): string[] {
  if (!t) return [];
  const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d));
  const v = t.validation;
  const lines = [
    `Typed settings: a 20-property schema (enums, bounded numbers, two nested objects; ${v.schemaBytes} bytes). Validation CPU per write,`,
    "the check every store runs (Ajv, compiled once per schema revision):",
    "",
    "| write | validation CPU µs/write | budget |",
    "|---|---:|---|",
    `| entry: the whole 20-property value | ${f(v.setUs, 2)} | <= ${v.budgetUs} µs: ${v.setUs <= v.budgetUs ? "PASS" : "FAIL"} |`,
    `| path merge into \`review\` (parse the stored value, apply, check) | ${f(v.pathMergeUs, 2)} | <= ${v.budgetUs} µs: ${v.pathMergeUs <= v.budgetUs ? "PASS" : "FAIL"} |`,
  ];
  for (const [store, r] of Object.entries(t.rows)) {
    if (!r) continue;
    lines.push(
      "",
      `End to end, ${store} (SetSettings, gRPC 4 x 32): ${f(r.typedCpuUs)} µs of server CPU per call with the schema, ${f(r.untypedCpuUs)} without ` +
        `(difference ${f(r.differenceUs)} µs); ${f(r.typedRps, 0)} / ${f(r.untypedRps, 0)} calls/s.`,
    );
  }
  return lines;
}
