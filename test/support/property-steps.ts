// The property tests' shared parts (test/properties.test.ts,
// test/properties-schemas.test.ts): generators of random writes over odd
// keys and values, running one write on a store as an outcome that can be
// compared exactly (result, or the error's reason, message and facts), and
// the comparison of whole stores.
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { expect } from "vitest";
import { loadConfig } from "../../src/config.js";
import { DomainError } from "../../src/domain/errors.js";
import type { ControlFields, JsonObject, JsonValue, Mutation, Scope, ScopeRef, StoreEvent, WriteOptions } from "../../src/domain/types.js";
import { openMemoryStore, openSqliteStore } from "../../src/store/open-store.js";
import { RedisStore } from "../../src/store/redis/redis-store.js";
import type { Store } from "../../src/store/store.js";

// Small limits, so that random writes hit each of them.
export const ENV = { MAX_SETTINGS_KEYS: "6", MAX_SETTINGS_BYTES: "1024", HISTORY_LIMIT: "4", REQUEST_ID_LIMIT: "3" };

// ---- Generators ----
// Keys whose code point order differs from JavaScript's UTF-16 order (U+FF21 vs an emoji), dots, odd names.
export const KEYS = ["a", "b", "é", "ключ", "😀", "\uff21", "__proto__", "constructor", "dots.in.key", "x/y?#%", "v1.2", " sp"];
const SEGMENTS = ["a", "b", "a.b", "v1.2", "__proto__", "constructor", "ü", "😀", "\uff21", "with space", "n"];
export const key = fc.constantFrom(...KEYS.map((k) => k.trim()));
export const segment = fc.oneof(
  fc.constantFrom(...SEGMENTS),
  fc.string({ minLength: 1, maxLength: 6 }).filter((s) => s.trim() !== "" && !/[\u0000-\u001f\u007f-\u009f]/.test(s)),
);
const wellFormed = (v: JsonValue) => JSON.stringify(v).isWellFormed();
export const value: fc.Arbitrary<JsonValue> = fc.oneof(
  (fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>).filter(wellFormed),
  fc.constantFrom<JsonValue>({}, [], [[]], { a: [] }, { "😀": 1, "\uff21": 2, b: { "a.b": null } }, null, 0, -1.5e-7, 1e21, "é😀\u0001\n", 0.1),
  fc.constant("x".repeat(400)), // two of these pass the byte limit
);
export const object = fc.dictionary(key, value, { maxKeys: 4 }) as fc.Arbitrary<JsonObject>;
export const controls: fc.Arbitrary<ControlFields> = fc.record({
  model: fc.constantFrom(null, "gpt-x", "o-mini"),
  approvalPolicy: fc.constantFrom("untrusted", "on-failure", "on-request", "never"),
  networkAccess: fc.constantFrom("restricted", "enabled"),
  filesystemSandbox: fc.constantFrom("read-only", "workspace-write", "danger-full-access"),
});
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), key, value }),
  fc.record({ op: fc.constant("merge" as const), settings: object }),
  fc.record({ op: fc.constant("replace" as const), settings: object }),
  fc.record({ op: fc.constant("unset" as const), key }),
  fc.record({
    op: fc.constant("path" as const),
    key,
    segments: fc.array(segment, { maxLength: 3 }),
    pathOp: fc.constantFrom("set" as const, "merge" as const, "unset" as const),
    value,
  }).map((m) => (m.pathOp === "merge" && (typeof m.value !== "object" || m.value === null || Array.isArray(m.value)) ? { ...m, value: { v: m.value } } : m)),
  fc.record({ op: fc.constant("controls" as const), controls }),
  fc.record({ op: fc.constant("controls" as const), controls, settings: object }),
);
export interface Step {
  mutation: Mutation;
  scope: Scope;
  ifRevision: "none" | "right" | "wrong";
  requestId?: string;
  actor: string;
  claimedActor?: string;
  source: string;
  withSettings: boolean;
}
/** Steps of the given mutations, with random scope, compare-and-set, request id and provenance. */
export const stepOf = (mutations: fc.Arbitrary<Mutation>): fc.Arbitrary<Step> => fc.record(
  {
    mutation: mutations,
    scope: fc.constantFrom<Scope>("session", "session", "session", "default"),
    ifRevision: fc.constantFrom("none", "none", "right", "wrong"),
    requestId: fc.constantFrom("r1", "r2", "r3", "r4"),
    actor: fc.constantFrom("user", "ana", "policy-bot"),
    claimedActor: fc.constantFrom("mallory"),
    source: fc.constantFrom("api", "ui", "python"),
    withSettings: fc.boolean(),
  },
  { requiredKeys: ["mutation", "scope", "ifRevision", "actor", "source", "withSettings"] },
);
export const step = stepOf(mutation);

// ---- Running one step on each store ----
export type Outcome = { ok: unknown } | { error: { reason: string; message: string; facts: unknown } };

export async function attempt(store: Store, ref: ScopeRef, m: Mutation, options: WriteOptions): Promise<Outcome> {
  try {
    const result = await store.mutate(ref, m, options);
    // A map's entries come in each store's own order (a hash's, a table's); the order means nothing.
    result.settingsEntries?.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { ok: result };
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return { error: { reason: err.reason, message: err.message, facts: err.facts } };
  }
}

export interface Subject {
  name: string;
  store: Store;
  events: StoreEvent[];
}

export async function openAll(clock: () => Date, redisUrl: string, dataRoot: string): Promise<Subject[]> {
  const config = loadConfig({ ...ENV, REDIS_URL: redisUrl, REDIS_PREFIX: `p${randomUUID().slice(0, 8)}:` });
  const stores: [string, Store][] = [
    ["memory", openMemoryStore(config, clock)],
    ["sqlite", await openSqliteStore({ ...config, dataDir: mkdtempSync(join(dataRoot, "run-")), sqliteSynchronous: "NORMAL" }, undefined, clock)],
    ["redis", await RedisStore.connect(config, { now: clock })],
  ];
  return stores.map(([name, store]) => ({ name, store, events: [] }));
}

export function optionsOf(st: Step, current: bigint): WriteOptions {
  return {
    actor: st.actor,
    source: st.source,
    withSettings: st.withSettings,
    ...(st.claimedActor !== undefined && { claimedActor: st.claimedActor }),
    ...(st.requestId !== undefined && { requestId: st.requestId }),
    ...(st.ifRevision !== "none" && { ifRevision: st.ifRevision === "right" ? current : current + 1n }),
  };
}

export async function createOn(s: Subject, sessionId: string, t: number): Promise<void> {
  await s.store.createSession({ sessionId, cwd: "", systemOwned: false, createdAt: new Date(t), overrides: {} });
  await s.store.subscribe({ sessionId }, (e) => s.events.push(e));
  await s.store.subscribe({}, (e) => s.events.push(e));
}


export async function expectSameState(oracle: Subject, others: Subject[], sessionId: string): Promise<void> {
  const session = await oracle.store.getSession(sessionId);
  for (const other of others) expect(await other.store.getSession(sessionId), `${other.name} session`).toEqual(session);
  for (const scope of ["session", "default"] as const) {
    const ref = { sessionId, scope };
    const tuple = await oracle.store.readTuple(ref);
    for (const other of others) expect(await other.store.readTuple(ref), `${other.name} ${scope} tuple`).toEqual(tuple);
    const history = await oracle.store.listHistory(ref, 10);
    for (const other of others) expect(await other.store.listHistory(ref, 10), `${other.name} ${scope} history`).toEqual(history);
  }
}

export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

