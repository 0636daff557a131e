// JSON helpers with one canonical text form: object keys sorted by code
// point, numbers as JavaScript prints them. Every store keeps values in this
// form (the Lua codec writes the same text), so equal values have equal text
// and "unchanged" is a string comparison.
import type { JsonObject, JsonValue, SettingsEntries } from "./types.js";

export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort(compareKeys);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(",")}}`;
}

/**
 * Orders strings by Unicode code point, which is the byte order of their
 * UTF-8 and so the order Lua and SQLite compare in. JavaScript's own string
 * order (UTF-16 code units) differs only where a surrogate meets U+E000-U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// Surrogates stand for code points above U+FFFF, so they rank above the rest of the BMP.
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
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
export function setOwn<T = JsonValue>(target: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** A stored map as an object; "__proto__" stays a key. */
export function entriesObject(entries: SettingsEntries): JsonObject {
  const out: JsonObject = {};
  for (const [key, text] of entries) setOwn(out, key, JSON.parse(text) as JsonValue);
  return out;
}

/** A stored map as JSON text, from its canonical texts as they are. */
export function entriesJson(entries: SettingsEntries): string {
  let out = "{";
  for (let i = 0; i < entries.length; i++) out += `${i === 0 ? "" : ","}${JSON.stringify(entries[i]![0])}:${entries[i]![1]}`;
  return `${out}}`;
}
