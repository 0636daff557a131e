// JSON helpers with one canonical text form: object keys sorted, numbers as
// JavaScript prints them. Both stores keep values in this form, so equal
// values have equal text and "unchanged" is a string comparison.
import type { JsonObject, JsonValue } from "./types.js";

export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(",")}}`;
}

export function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Whether a value nests deeper than `max` (a scalar is 0 deep, `{}` and `[]`
 * are 1). Stops descending past `max`, so hostile input cannot exhaust the stack.
 */
export function deeperThan(value: JsonValue, max: number): boolean {
  if (value === null || typeof value !== "object") return false;
  if (max <= 0) return true;
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    if (deeperThan(v, max - 1)) return true;
  }
  return false;
}

/**
 * Sets an own property, so that "__proto__" stays plain data. Only that key
 * has a setter on Object.prototype; every other key takes the plain (and much
 * faster) assignment, which keeps the object in V8's fast mode.
 */
export function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
