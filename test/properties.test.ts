// Property-based: random sequences of writes, applied to the Redis store,
// the embedded store and a tiny reference model written here from the spec,
// give identical results, revisions and final maps.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import type { JsonObject, JsonValue, Mutation } from "../src/domain/types.js";
import { MemoryStore } from "../src/store/memory/memory-store.js";
import { RedisStore } from "../src/store/redis/redis-store.js";
import { startRedis, type TestRedis } from "./support/redis.js";

let redis: TestRedis;
let redisStore: RedisStore;
beforeAll(async () => {
  redis = await startRedis();
  redisStore = await RedisStore.connect(loadConfig({ REDIS_URL: redis.url, REDIS_PREFIX: `prop${randomUUID().slice(0, 6)}:` }));
});
afterAll(async () => {
  await redisStore?.close();
  await redis?.stop();
});

// ---- The reference model: the spec's rules, written plainly and independently. ----
type Obj = Record<string, JsonValue>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const clone = (v: JsonValue): JsonValue => JSON.parse(JSON.stringify(v));
const same = (a: JsonValue | undefined, b: JsonValue | undefined) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v: JsonValue | undefined): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObj(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}
function merge(base: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObj(base) || !isObj(patch)) return clone(patch);
  const out: Obj = Object.create(null);
  for (const k of Object.keys(base)) out[k] = base[k]!;
  for (const k of Object.keys(patch)) out[k] = merge(Object.hasOwn(base, k) ? base[k] : undefined, patch[k]!);
  return { ...out };
}

class Model {
  map = new Map<string, JsonValue>();
  revision = 0n;
  apply(m: Mutation) {
    const before = new Map(this.map);
    let removed = false;
    switch (m.op) {
      case "set": this.map.set(m.key, clone(m.value)); break;
      case "merge": for (const k of Object.keys(m.settings)) this.map.set(k, clone(m.settings[k]!)); break;
      case "replace": this.map = new Map(Object.keys(m.settings).map((k) => [k, clone(m.settings[k]!)])); break;
      case "unset": removed = this.map.delete(m.key); break;
      case "path": {
        const top = this.map.get(m.key);
        if (m.segments.length === 0) {
          if (m.pathOp === "unset") removed = this.map.delete(m.key);
          else this.map.set(m.key, m.pathOp === "merge" ? merge(top, m.value) : clone(m.value));
          break;
        }
        const root: JsonValue = isObj(top) ? clone(top) : m.pathOp === "unset" ? (top as JsonValue) : {};
        let node: JsonValue = root;
        for (const seg of m.segments.slice(0, -1)) {
          if (!isObj(node)) { node = undefined as never; break; }
          // Own properties only: "__proto__" is a key here, never the prototype.
          if (!Object.hasOwn(node, seg) || !isObj(node[seg])) {
            if (m.pathOp === "unset") { node = undefined as never; break; }
            Object.defineProperty(node, seg, { value: {}, enumerable: true, writable: true, configurable: true });
          }
          node = node[seg]!;
        }
        const leaf = m.segments[m.segments.length - 1]!;
        if (isObj(node)) {
          if (m.pathOp === "unset") {
            removed = Object.hasOwn(node, leaf);
            delete node[leaf];
          } else {
            const next = m.pathOp === "merge" ? merge(Object.hasOwn(node, leaf) ? node[leaf] : undefined, m.value) : clone(m.value);
            Object.defineProperty(node, leaf, { value: next, enumerable: true, writable: true, configurable: true });
          }
        }
        if (top !== undefined || m.pathOp !== "unset") this.map.set(m.key, root);
        break;
      }
      case "controls": break;
    }
    const keys = new Set([...before.keys(), ...this.map.keys()]);
    const changed = [...keys].some((k) => before.has(k) !== this.map.has(k) || !same(before.get(k), this.map.get(k)));
    if (changed) this.revision += 1n;
    return { changed, removed, revision: this.revision };
  }
}

// ---- Generators: nested paths, unicode and odd keys. ----
const KEYS = ["a", "b", "é", "ключ", "😀", "__proto__", "constructor", "prototype", "dots.in.key", "x/y?#%"];
const SEGMENTS = ["a", "b", "__proto__", "constructor", "ü", "n"];
const key = fc.constantFrom(...KEYS);
const value: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>,
  fc.constantFrom<JsonValue>({}, [], [[]], { a: [] }, null, 0, -1.5e-7, 1e21, "é😀\u0001\n", 0.1),
);
const object = fc.dictionary(key, value, { maxKeys: 4 }) as fc.Arbitrary<JsonObject>;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), key, value }),
  fc.record({ op: fc.constant("merge" as const), settings: object }),
  fc.record({ op: fc.constant("replace" as const), settings: object }),
  fc.record({ op: fc.constant("unset" as const), key }),
  fc.record({
    op: fc.constant("path" as const),
    key,
    segments: fc.array(fc.constantFrom(...SEGMENTS), { maxLength: 3 }),
    pathOp: fc.constantFrom("set" as const, "merge" as const, "unset" as const),
    value,
  }).map((m) => (m.pathOp === "merge" && !isObj(m.value) ? { ...m, value: { v: m.value } } : m)),
);

it("Redis store, embedded store and the reference model agree on every random sequence", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 15 }), async (mutations) => {
      const memory = new MemoryStore(loadConfig({}));
      const sessionId = `p-${randomUUID()}`;
      const created = { sessionId, cwd: "", systemOwned: false, createdAt: new Date(), overrides: {} };
      await memory.createSession(created);
      await redisStore.createSession(created);
      const model = new Model();
      const ref = { sessionId, scope: "session" as const };
      for (const m of mutations) {
        const expected = model.apply(m);
        const options = { actor: "prop", source: "test" };
        const [a, b] = [await memory.mutate(ref, m, options), await redisStore.mutate(ref, m, options)];
        expect({ changed: a.changed, removed: a.removed, revision: a.revision }, JSON.stringify(m)).toEqual(expected);
        expect({ changed: b.changed, removed: b.removed, revision: b.revision }, JSON.stringify(m)).toEqual(expected);
        expect(b.value).toEqual(a.value);
      }
      const [ma, mb] = [await memory.readSettings(ref), await redisStore.readSettings(ref)];
      const want = Object.fromEntries(model.map);
      expect(sortKeys((ma as { settings: JsonObject }).settings)).toEqual(sortKeys(want));
      expect(sortKeys((mb as { settings: JsonObject }).settings)).toEqual(sortKeys(want));
      const [ha, hb] = [await memory.listHistory(ref, 100), await redisStore.listHistory(ref, 100)];
      // The order of changes inside one entry is not part of the contract; their content is.
      const entries = (page: typeof ha) =>
        page.entries.map((e) => [e.revision, e.op, sortKeys([...e.changes].sort((x, y) => (x.key < y.key ? -1 : 1)) as never)]);
      expect(entries(hb)).toEqual(entries(ha));
    }),
    { numRuns: 150 },
  );
}, 120_000);
