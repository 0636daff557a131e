// What the panel knows of a JSON Schema to build a form from it and to flag
// a field before anything is sent: the keywords a form shows (type, enum,
// bounds, lengths, pattern, required, properties). The service checks the
// whole schema on every write; what it finds beyond these arrives as issues
// at their JSON Pointers and shows at the same fields.
import type { JsonObject, JsonValue } from "./api.js";

export interface FieldSchema {
  type?: string | string[];
  enum?: JsonValue[];
  title?: string;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  properties?: Record<string, FieldSchema>;
  required?: string[];
}

export type FieldKind = "enum" | "boolean" | "number" | "integer" | "string" | "object" | "json";

const typesOf = (s: FieldSchema) => (s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type]);

/** How a field is edited: a select, a toggle, a number or text input, a group of fields, or JSON. */
export function kindOf(s: FieldSchema): FieldKind {
  if (Array.isArray(s.enum)) return "enum";
  const types = typesOf(s);
  if (types.length !== 1) return "json";
  const [type] = types;
  if (type === "object") return s.properties ? "object" : "json";
  if (type === "boolean" || type === "number" || type === "integer" || type === "string") return type;
  return "json";
}

export const isObject = (v: JsonValue | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** A JSON Pointer one level down. */
export const child = (pointer: string, name: string) => `${pointer}/${name.replaceAll("~", "~0").replaceAll("/", "~1")}`;

function typeProblem(types: string[], v: JsonValue): string | undefined {
  if (types.length === 0) return undefined;
  const ok = types.some((t) =>
    t === "integer" ? Number.isInteger(v) : t === "number" ? typeof v === "number" : t === "array" ? Array.isArray(v) : t === "object" ? isObject(v) : t === "null" ? v === null : typeof v === t,
  );
  return ok ? undefined : `must be ${types.join(" or ")}`;
}

/** The problems a form can see in `value` under `schema`, by JSON Pointer (relative to the value), in the service's words. */
export function problemsOf(schema: FieldSchema, value: JsonValue | undefined, pointer = "", found = new Map<string, string>()): Map<string, string> {
  if (value === undefined) return found;
  const say = (message: string) => (found.has(pointer) ? undefined : found.set(pointer, message));
  const typed = typeProblem(typesOf(schema), value);
  if (typed) return say(typed), found;
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    say(`must be equal to one of the allowed values: ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) say(`must be >= ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) say(`must be <= ${schema.maximum}`);
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) say(`must be > ${schema.exclusiveMinimum}`);
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) say(`must be < ${schema.exclusiveMaximum}`);
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength) say(`must NOT have fewer than ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && length > schema.maxLength) say(`must NOT have more than ${schema.maxLength} characters`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) say(`must match pattern "${schema.pattern}"`);
  }
  if (isObject(value)) {
    for (const name of schema.required ?? []) if (!Object.hasOwn(value, name)) found.set(child(pointer, name), "is required");
    for (const [name, sub] of Object.entries(schema.properties ?? {})) problemsOf(sub, Object.hasOwn(value, name) ? value[name] : undefined, child(pointer, name), found);
  }
  return found;
}

/** Every place the form has a field for: the objects it shows as groups, and their fields. */
export function fieldPointers(schema: FieldSchema, pointer = "", found = new Set<string>()): Set<string> {
  found.add(pointer);
  if (kindOf(schema) === "object") for (const [name, sub] of Object.entries(schema.properties ?? {})) fieldPointers(sub, child(pointer, name), found);
  return found;
}

/**
 * The service's issues placed at the form's fields: each at its own field, or
 * at the nearest field that holds its place (an array item, a property the
 * schema does not list), saying where below it.
 */
export function placeIssues(schema: FieldSchema, issues: Map<string, string>): Map<string, string> {
  const fields = fieldPointers(schema);
  const placed = new Map<string, string>();
  for (const [pointer, message] of issues) {
    let at = pointer;
    while (!fields.has(at)) at = at.slice(0, at.lastIndexOf("/"));
    const text = at === pointer ? message : `${pointer.slice(at.length + 1)}: ${message}`;
    placed.set(at, placed.has(at) ? `${placed.get(at)}; ${text}` : text);
  }
  return placed;
}
