// Property-based, typed settings: random sequences of every kind of write,
// interleaved with schema registrations (forced or not) and removals and
// with sessions created from the defaults, run on the memory, SQLite and
// Redis stores side by side. Every step must agree exactly: each write's
// result or error (reason, message and facts, schema issues in order), each
// registration's answer (SCHEMA_VIOLATED with its count and offenders), and
// at the end the registry, what breaks each schema, the stores' state,
// history and events. The write engine decides in the in-process stores;
// on Redis, Node checks and the script confirms (src/store/redis/schema-view.ts).
// A second property holds batches of mixed schema changes and writes equal to
// the same ops one at a time (group commit).
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { canonicalJson } from "../src/domain/json.js";
import { DomainError } from "../src/domain/errors.js";
import type { Store } from "../src/store/store.js";
import { openMemoryStore, openSqliteStore } from "../src/store/open-store.js";
import type { JsonObject, JsonValue, Mutation } from "../src/domain/types.js";
import {
  attempt, controls, createOn, ENV, expectSameState, openAll, optionsOf, segment, step, stepOf, value, waitFor,
  type Outcome, type Step, type Subject,
} from "./support/property-steps.js";
import { startRedis, type TestRedis } from "./support/redis.js";

let redis: TestRedis;
const dataRoot = mkdtempSync(join(tmpdir(), "cm-prop-schemas-"));
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dataRoot, { recursive: true, force: true });
});

// Schemas for keys the random writes use (test/support/property-steps.ts), strict enough that
// random values break them often, and loose enough that many pass.
const SCHEMAS: [key: string, schema: object][] = [
  ["a", { type: ["object", "array", "null"] }],
  ["😀", { type: "object", properties: { a: { type: "number", maximum: 0 }, "a.b": { type: "array" } }, maxProperties: 3 }],
  ["__proto__", { type: "object", required: ["a"], patternProperties: { "^__proto__$": { type: "string" } } }],
  ["dots.in.key", { not: { type: "string" } }],
  ["b", { anyOf: [{ type: "number", minimum: 0 }, { type: "object", propertyNames: { maxLength: 3 } }] }],
  ["\uff21", { type: "object", additionalProperties: { type: ["number", "boolean", "null"] } }],
];

// Writes aimed at the keys with schemas, with values near their edges, beside the generic ones.
const typedKey = fc.constantFrom(...SCHEMAS.map(([k]) => k), "x");
const typedValue: fc.Arbitrary<JsonValue> = fc.oneof(
  value,
  fc.constantFrom<JsonValue>({ a: -1 }, { a: 1 }, { a: -2, "a.b": [] }, { a: 0, "a.b": {} }, [], null, "s", 5, -5, { abc: 1 }, { abcd: 1 }, { x: true }, { x: "no" }),
  fc.constant(JSON.parse('{"__proto__":"p","a":0}') as JsonValue),
  fc.constant(JSON.parse('{"__proto__":1,"a":0}') as JsonValue),
);
const typedObject = fc.dictionary(typedKey, typedValue, { maxKeys: 3 }) as fc.Arbitrary<JsonObject>;
const typedMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), key: typedKey, value: typedValue }),
  fc.record({ op: fc.constant("merge" as const), settings: typedObject }),
  fc.record({ op: fc.constant("replace" as const), settings: typedObject }),
  fc.record({ op: fc.constant("unset" as const), key: typedKey }),
  fc.record({
    op: fc.constant("path" as const),
    key: typedKey,
    segments: fc.array(fc.oneof(fc.constantFrom("a", "a.b", "__proto__", "x", "abcd"), segment), { maxLength: 2 }),
    pathOp: fc.constantFrom("set" as const, "merge" as const, "unset" as const),
    value: typedValue,
  }).map((m) => (m.pathOp === "merge" && (typeof m.value !== "object" || m.value === null || Array.isArray(m.value)) ? { ...m, value: { a: m.value } } : m)),
  fc.record({ op: fc.constant("controls" as const), controls, settings: typedObject }),
);

/** A write as the examples spell it. */
const write = (mutation: Mutation, scope: Step["scope"] = "session"): Op => ({
  kind: "write",
  step: { mutation, scope, ifRevision: "none", actor: "ana", source: "api", withSettings: false },
});
const CONTROLS = { model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "read-only" } as const;
const index = (key: string) => SCHEMAS.findIndex(([k]) => k === key);

/** One run that reaches every case for sure (random runs may miss the rare ones): each kind of write refused, registrations refused and forced, a create refused. */
const TOUR: [number[], Op[]] = [
  SCHEMAS.map((_, i) => i),
  [
    write({ op: "set", key: "a", value: "s" }),
    write({ op: "merge", settings: { b: -1, x: 1 } }),
    write({ op: "replace", settings: { "dots.in.key": "s" } }),
    write({ op: "path", key: "😀", segments: ["a"], pathOp: "set", value: 1 }),
    write({ op: "controls", controls: CONTROLS, settings: { "\uff21": { x: "no" } } }),
    { kind: "delete", schema: index("b") },
    write({ op: "set", key: "b", value: "s" }, "default"),
    { kind: "put", schema: index("b"), force: true },
    { kind: "create" },
    write({ op: "unset", key: "b" }, "default"),
    { kind: "create" },
    { kind: "delete", schema: index("a") },
    write({ op: "set", key: "a", value: 5 }),
    { kind: "put", schema: index("a"), force: false },
  ],
];

type Op =
  | { kind: "write"; step: Step }
  | { kind: "put"; schema: number; force: boolean }
  | { kind: "delete"; schema: number }
  | { kind: "create" };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: step.map((s): Op => ({ kind: "write", step: s })) },
  // Three typed writes in four go without a request id or compare-and-set, so that the schemas decide.
  {
    weight: 6,
    arbitrary: fc.tuple(stepOf(typedMutation), fc.nat(3)).map(([s, n]): Op => ({ kind: "write", step: n === 0 ? s : { ...s, requestId: undefined, ifRevision: "none" } })),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("put" as const), schema: fc.nat(SCHEMAS.length - 1), force: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), schema: fc.nat(SCHEMAS.length - 1) }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: "create" }) },
);

async function outcome(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: await call() };
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return { error: { reason: err.reason, message: err.message, facts: err.facts } };
  }
}

/**
 * Runs one op on a store; `sessionId` addresses writes, `i` names a created
 * session. A write's ifRevision comes from `revision` (read now when absent).
 */
async function run(store: Store, o: Op, sessionId: string, i: number, time: Date, revision?: bigint): Promise<Outcome> {
  const by = { actor: "schema-admin", source: "prop" };
  switch (o.kind) {
    case "write": {
      const ref = { sessionId, scope: o.step.scope };
      return attempt(store, ref, o.step.mutation, optionsOf(o.step, revision ?? (await store.readSettings(ref)).revision));
    }
    case "put": {
      const [key, schema] = SCHEMAS[o.schema]!;
      return outcome(() => store.putSchema({ key, text: canonicalJson(schema as never), force: o.force, by, time }));
    }
    case "delete":
      return outcome(() => store.deleteSchema({ key: SCHEMAS[o.schema]![0], by, time }));
    case "create":
      return outcome(() => store.createSession({ sessionId: `${sessionId}-c${i}`, cwd: "", systemOwned: false, createdAt: time, overrides: {} }));
  }
}

/** What the random runs covered, so that the property is known to reach each case. */
const covered = new Map<string, number>();
function tally(o: Op, got: Outcome): void {
  const error = "error" in got ? got.error : undefined;
  const name =
    o.kind === "write"
      ? error?.message.startsWith("the settings do not satisfy") ? `${o.step.mutation.op} refused by a schema` : error ? `write refused: ${error.reason}` : "write applied"
      : o.kind === "put"
        ? error ? `put ${error.reason}` : "ok" in got && (got.ok as { violations: number }).violations > 0 ? "put forced over violations" : "put"
        : o.kind === "create" ? (error?.message.startsWith("the settings do not satisfy") ? "create refused by a schema" : error ? "create refused otherwise" : "create") : "delete";
  covered.set(name, (covered.get(name) ?? 0) + 1);
}

/** The registry and, for each registered key, what breaks its schema now. */
async function registry(store: Store) {
  const schemas = await store.listSchemas();
  return Promise.all(schemas.map(async (s) => ({ ...s, violations: await store.listViolations(s.key, 50) })));
}

it("every store checks writes under schemas alike: the same answers, issues, messages, registrations and state", async () => {
  await fc.assert(
    // Some schemas first (forced, before any value), then anything.
    fc.asyncProperty(fc.subarray(SCHEMAS.map((_, i) => i)), fc.array(op, { minLength: 1, maxLength: 20 }), async (first, rest) => {
      const ops: Op[] = [...first.map((schema): Op => ({ kind: "put", schema, force: true })), ...rest];
      let t = Date.UTC(2026, 0, 1);
      const subjects = await openAll(() => new Date(t), redis.url, dataRoot);
      try {
        const sessionId = `q-${randomUUID()}`;
        for (const s of subjects) await createOn(s, sessionId, t);
        const [oracle, ...others] = subjects as [Subject, ...Subject[]];
        for (const [i, o] of ops.entries()) {
          t += 1000;
          const label = `op ${i}: ${JSON.stringify(o)}`;
          const want = await run(oracle.store, o, sessionId, i, new Date(t));
          tally(o, want);
          for (const other of others) expect(await run(other.store, o, sessionId, i, new Date(t)), `${other.name}, ${label}`).toEqual(want);
        }
        const schemas = await registry(oracle.store);
        for (const other of others) expect(await registry(other.store), `${other.name} registry`).toEqual(schemas);
        await expectSameState(oracle, others, sessionId);
        for (const other of others) {
          await waitFor(() => other.events.length >= oracle.events.length);
          expect(other.events, `${other.name} events`).toEqual(oracle.events);
        }
      } finally {
        await Promise.all(subjects.map((s) => s.store.close()));
      }
    }),
    { numRuns: 80, examples: [TOUR] },
  );
  for (const name of ["set", "merge", "replace", "path", "controls"].map((m) => `${m} refused by a schema`).concat(["put SCHEMA_VIOLATED", "put forced over violations", "create refused by a schema", "write applied"])) {
    expect(covered.get(name) ?? 0, `${name}: ${JSON.stringify(Object.fromEntries(covered))}`).toBeGreaterThan(0);
  }
}, 300_000);

it("schema changes and writes committed together in one batch answer exactly what they answer one at a time", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 16 }), fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 16, maxLength: 16 }), async (ops, groups) => {
      const t = Date.UTC(2026, 0, 1);
      const config = loadConfig(ENV);
      const oracle = openMemoryStore(config, () => new Date(t));
      const batched: [string, Store][] = [
        ["memory, batched", openMemoryStore(config, () => new Date(t))],
        ["sqlite, batched", await openSqliteStore({ ...config, dataDir: mkdtempSync(join(dataRoot, "batch-")), sqliteSynchronous: "NORMAL" }, undefined, () => new Date(t))],
      ];
      try {
        const sessionId = `qb-${randomUUID()}`;
        for (const store of [oracle, ...batched.map(([, s]) => s)]) await store.createSession({ sessionId, cwd: "", systemOwned: false, createdAt: new Date(t), overrides: {} });
        // Revisions for ifRevision are read one at a time, as the oracle goes; a batch sends the same.
        const sent: { o: Op; i: number; revision: bigint; want: Outcome }[] = [];
        for (const [i, o] of ops.entries()) {
          const revision = o.kind === "write" ? (await oracle.readSettings({ sessionId, scope: o.step.scope })).revision : 0n;
          sent.push({ o, i, revision, want: await run(oracle, o, sessionId, i, new Date(t), revision) });
        }
        for (const [name, store] of batched) {
          for (let i = 0, g = 0; i < sent.length; i += groups[g++]!) {
            const group = sent.slice(i, i + groups[g]!);
            const got = await Promise.all(group.map((w) => run(store, w.o, sessionId, w.i, new Date(t), w.revision)));
            group.forEach((w, j) => expect(got[j], `${name}: ${JSON.stringify(w.o)}`).toEqual(w.want));
          }
          expect(await registry(store), `${name} registry`).toEqual(await registry(oracle));
        }
      } finally {
        await Promise.all([oracle, ...batched.map(([, s]) => s)].map((s) => s.close()));
      }
    }),
    { numRuns: 40 },
  );
}, 300_000);
