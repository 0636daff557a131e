// Which values a write must prove against their keys' schemas, decided once
// for every store: the engine runs it inside the in-process stores'
// transaction, and the Redis store runs it in Node before its script, which
// commits only if the schemas (and, for a path write, the key's stored text)
// are still the ones checked.
//
// A write is checked on the value each key it names will hold after it: for
// set, merge, replace and controls that is the value given, whatever is
// stored (so it needs no read); for a path write, the key's stored value with
// the path applied. A key the write removes is not checked: a schema
// constrains a value, and absence is none. Keys are checked in change order
// (code points), so every store lists the same issues in the same order.
import type { Issue } from "./errors.js";
import { compareKeys } from "./json.js";
import { applyPath } from "./paths.js";
import { MAX_ISSUES } from "./schemas.js";
import type { JsonObject, JsonValue, Mutation } from "./types.js";

/** The schemas a write is checked against, as one store sees them at that moment. */
export interface SchemaCheck {
  /** Whether `key` has a schema. */
  has(key: string): boolean;
  /** The issues of `value` under `key`'s schema; none when it has none. */
  issues(key: string, value: JsonValue): Issue[];
}

export const NO_SCHEMAS: SchemaCheck = { has: () => false, issues: () => [] };

/** Whether the write's result depends on a stored value that has a schema (only a path write's can). */
export function readsSchemaKey(m: Mutation, schemas: SchemaCheck): m is Extract<Mutation, { op: "path" }> {
  return m.op === "path" && schemas.has(m.key);
}

/** The issues of everything `m` writes; `current` answers a key's stored value (only a path write asks). */
export function writeIssues(m: Mutation, current: (key: string) => JsonValue | undefined, schemas: SchemaCheck): Issue[] {
  switch (m.op) {
    case "set":
      return capped(schemas.has(m.key) ? schemas.issues(m.key, m.value) : []);
    case "merge":
    case "replace":
      return objectIssues(m.settings, schemas);
    case "controls":
      return m.settings === undefined ? [] : objectIssues(m.settings, schemas);
    case "path": {
      if (!schemas.has(m.key)) return [];
      const after = applyPath(current(m.key), m.segments, m.pathOp, m.value).value;
      return after === undefined ? [] : capped(schemas.issues(m.key, after));
    }
    case "unset":
      return [];
  }
}

/** The issues of the settings a new session copies from the default scope (key, canonical text). */
export function copiedIssues(entries: Iterable<[key: string, text: string]>, schemas: SchemaCheck): Issue[] {
  const issues: Issue[] = [];
  const typed = [...entries].filter(([key]) => schemas.has(key)).sort(([a], [b]) => compareKeys(a, b));
  for (const [key, text] of typed) issues.push(...schemas.issues(key, JSON.parse(text) as JsonValue));
  return capped(issues);
}

function objectIssues(settings: JsonObject, schemas: SchemaCheck): Issue[] {
  const issues: Issue[] = [];
  for (const key of Object.keys(settings).sort(compareKeys)) {
    if (schemas.has(key)) issues.push(...schemas.issues(key, settings[key]!));
    if (issues.length >= MAX_ISSUES) break;
  }
  return capped(issues);
}

const capped = (issues: Issue[]) => (issues.length > MAX_ISSUES ? issues.slice(0, MAX_ISSUES) : issues);
