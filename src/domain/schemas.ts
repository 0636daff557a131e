// Typed settings: at most one JSON Schema (draft 2020-12) per top-level
// settings key, checked with Ajv. This module decides what a schema may be
// (an object within MAX_SCHEMA_BYTES that compiles, with local references
// only: nothing is ever fetched), and turns Ajv's errors into issues whose
// path is the place within the settings map (first the key itself), so a
// refusal reads as the JSON Pointer "/team/review/autoApprove/threshold".
//
// Each thread that validates keeps its own SchemaValidators (the SQLite writer
// thread, and the main thread for reads and Redis): one Ajv instance, and
// each schema revision compiled once, its compiled function cached and
// looked up when the schema is loaded, never per write.
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import type { Limits } from "./limits.js";
import { issue, type Issue, type IssuePath, type Violation } from "./errors.js";
import { canonicalJson, compareKeys, isObject, utf8Length } from "./json.js";
import type { JsonObject, JsonValue } from "./types.js";

/** The one dialect: a schema may say so in `$schema`, or say nothing. */
export const SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema";
/** A refusal lists at most this many issues. */
export const MAX_ISSUES = 100;
/** How many offending scopes a refused registration names. */
export const VIOLATIONS_SHOWN = 20;
/** Keywords whose values are data, not schemas: never searched for references or keywords. */
const DATA_KEYWORDS = new Set(["enum", "const", "default", "examples"]);
const REFERENCES = ["$ref", "$dynamicRef", "$recursiveRef"];

/** The issues of one value of a key under that key's schema; empty when it is valid. */
export type ValueCheck = (value: JsonValue) => Issue[];

function newAjv(): Ajv2020 {
  return new Ajv2020({
    allErrors: true,
    // Unknown keywords are refused (a typo such as "maximim" would check nothing), but
    // ordinary schemas that Ajv's stricter style rules dislike are accepted.
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    // 2020-12 makes "format" an annotation unless asked otherwise: not asserted.
    validateFormats: false,
    // "__proto__" is a plain key here: required and properties must mean own properties.
    ownProperties: true,
    // A schema's $id must not register it in the instance: two revisions may share one.
    addUsedSchema: false,
    logger: false,
  });
}

/** A pointer's segments, unescaped (~1 is "/", ~0 is "~"). */
function segmentsOf(pointer: string): string[] {
  return pointer === "" ? [] : pointer.slice(1).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** Ajv's errors for a value of `key`, as issues at their place in the settings map. */
function valueIssues(key: string, found: ErrorObject[]): Issue[] {
  return found.slice(0, MAX_ISSUES).map((e) => {
    const path: IssuePath = [key, ...segmentsOf(e.instancePath)];
    const params = e.params as Record<string, unknown>;
    // A missing or unexpected property is pointed at itself, not at its object, so a form can show it at its field.
    const child = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty;
    if (typeof child === "string") path.push(child);
    let message = e.message ?? "is not valid";
    if (e.keyword === "enum" && Array.isArray(params.allowedValues)) message += `: ${params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
    return { code: "custom", path, message, keyword: e.keyword };
  });
}

/** Every place in a schema where a schema object sits (data keywords skipped), with its path. */
function* schemaObjects(value: JsonValue, path: IssuePath): Generator<[JsonObject, IssuePath]> {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* schemaObjects(item, [...path, String(i)]);
    return;
  }
  if (!isObject(value)) return;
  yield [value, path];
  for (const k of Object.keys(value)) if (!DATA_KEYWORDS.has(k)) yield* schemaObjects(value[k]!, [...path, k]);
}

/** What is refused before Ajv sees the schema: remote references, other dialects, and what Ajv would silently skip. */
function refusedParts(schema: JsonObject): Issue[] {
  const issues: Issue[] = [];
  if (schema.$schema !== undefined && schema.$schema !== SCHEMA_DIALECT) {
    issues.push(issue(["schema", "$schema"], `must be ${SCHEMA_DIALECT} (draft 2020-12), or absent`, "invalid_value"));
  }
  for (const [object, path] of schemaObjects(schema, ["schema"])) {
    // Ajv leaves a property named "__proto__" out of "properties" (it would check nothing), but matches it by pattern.
    if (isObject(object.properties) && Object.hasOwn(object.properties, "__proto__")) {
      issues.push(issue([...path, "properties", "__proto__"], 'is not checked by the validator under "properties": use "patternProperties": {"^__proto__$": ...}', "invalid_value"));
    }
    for (const ref of REFERENCES) {
      const target = object[ref];
      if (typeof target === "string" && !target.startsWith("#")) {
        issues.push(issue([...path, ref], `must be a reference within this schema ("#/$defs/..."): remote references are never loaded, got ${JSON.stringify(target)}`, "invalid_value"));
      }
    }
  }
  return issues;
}

/** Where Ajv's strict mode found an unknown keyword, if it said which. */
function unknownKeywordPath(schema: JsonObject, message: string): IssuePath {
  const keyword = /unknown keyword: "(.*)"/.exec(message)?.[1];
  if (keyword !== undefined) {
    for (const [object, path] of schemaObjects(schema, ["schema"])) if (Object.hasOwn(object, keyword)) return [...path, keyword];
  }
  return ["schema"];
}

export class SchemaValidators {
  private ajv?: Ajv2020;
  /** "<key>\0<schema text>" -> the compiled check. */
  private readonly compiled = new Map<string, ValueCheck>();

  private get instance(): Ajv2020 {
    return (this.ajv ??= newAjv());
  }

  /**
   * Checks a proposed schema for `key`: the issues that refuse it (paths
   * under "schema"), or none. A refused schema is never cached.
   */
  refusal(schema: JsonValue | undefined, limits: Pick<Limits, "maxSchemaBytes">): Issue[] {
    if (!isObject(schema)) return [issue("schema", "must be a JSON Schema object", "invalid_type")];
    const size = utf8Length(canonicalJson(schema));
    if (size > limits.maxSchemaBytes) return [issue("schema", `must be at most ${limits.maxSchemaBytes} bytes of JSON (MAX_SCHEMA_BYTES), got ${size}`, "too_big")];
    const refused = refusedParts(schema);
    if (refused.length > 0) return refused;
    const ajv = this.instance;
    if (!ajv.validateSchema(schema)) {
      return (ajv.errors ?? []).slice(0, MAX_ISSUES).map((e) => issue(["schema", ...segmentsOf(e.instancePath)], e.message ?? "is not valid", "invalid_value"));
    }
    try {
      ajv.compile(schema);
      return [];
    } catch (err) {
      const message = (err as Error).message;
      return [issue(unknownKeywordPath(schema, message), `does not compile: ${message}`, "invalid_value")];
    } finally {
      ajv.removeSchema(schema);
    }
  }

  /**
   * The check of `key`'s schema whose canonical text is `text`: compiled the
   * first time, then cached (look it up when the schema is loaded, not per
   * write: the text is the cache's key).
   */
  check(key: string, text: string): ValueCheck {
    const name = `${key}\u0000${text}`;
    let check = this.compiled.get(name);
    if (!check) {
      const schema = JSON.parse(text) as JsonObject;
      const ajv = this.instance;
      // A stored schema compiled when it was registered; if a newer Ajv disagrees, the error is a fault (500), not the writer's.
      const validate = ajv.compile(schema);
      ajv.removeSchema(schema);
      check = (value) => (validate(value) ? [] : valueIssues(key, validate.errors ?? []));
      this.compiled.set(name, check);
    }
    return check;
  }

  /** Forgets every compiled schema but those of `live` (key and text). */
  retain(live: Iterable<[key: string, text: string]>): void {
    const keep = new Set([...live].map(([key, text]) => `${key}\u0000${text}`));
    for (const name of this.compiled.keys()) if (!keep.has(name)) this.compiled.delete(name);
  }
}

/**
 * The scopes whose stored value (canonical text) breaks `check`: how many,
 * and the first `limit` of them, the default scope (session id "") first,
 * then sessions by id, whatever order the store found them in.
 */
export function violationsOf(values: Iterable<[sessionId: string, text: string]>, check: ValueCheck, limit: number): { count: number; violations: Violation[] } {
  const found: Violation[] = [];
  for (const [sessionId, text] of values) {
    const issues = check(JSON.parse(text) as JsonValue);
    if (issues.length > 0) found.push({ sessionId, scope: sessionId === "" ? "default" : "session", issues });
  }
  found.sort((a, b) => compareKeys(a.sessionId, b.sessionId));
  return { count: found.length, violations: found.slice(0, limit) };
}
