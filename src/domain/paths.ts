// Nested path writes inside one top-level value (SPEC §3, `path`). The
// embedded store runs these; the Redis store runs the same rules in Lua
// (src/store/redis/lua/includes/path.lua).
import { isObject, setOwn } from "./json.js";
import type { JsonObject, JsonValue, PathOp } from "./types.js";

/** Deep-merges `patch` into `base`; arrays and scalars replace. Returns a new value. */
export function deepMerge(base: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObject(patch) || !isObject(base)) return patch;
  const out: JsonObject = {};
  for (const k of Object.keys(base)) setOwn(out, k, base[k]!);
  for (const k of Object.keys(patch)) setOwn(out, k, deepMerge(base[k], patch[k]!));
  return out;
}

export interface PathResult {
  /** The top-level value after the write; undefined when the key is gone. */
  value: JsonValue | undefined;
  removed: boolean;
}

/**
 * Applies a path write to a top-level value. `segments` are the path below
 * the top-level key; empty means the top-level value itself. Missing or
 * non-object intermediates become objects (except on unset, which leaves
 * them alone).
 */
export function applyPath(
  top: JsonValue | undefined,
  segments: string[],
  op: PathOp,
  value: JsonValue,
): PathResult {
  if (segments.length === 0) {
    if (op === "unset") return { value: undefined, removed: top !== undefined };
    return { value: op === "merge" ? deepMerge(top, value) : value, removed: false };
  }
  const [head, ...rest] = segments as [string, ...string[]];
  if (!isObject(top)) {
    if (op === "unset") return { value: top, removed: false };
    top = {};
  }
  const child = Object.prototype.hasOwnProperty.call(top, head) ? top[head] : undefined;
  const inner = applyPath(child, rest, op, value);
  if (op === "unset" && !inner.removed) return { value: top, removed: false };
  const out: JsonObject = {};
  for (const k of Object.keys(top)) if (k !== head) setOwn(out, k, top[k]!);
  if (inner.value !== undefined) setOwn(out, head, inner.value);
  return { value: out, removed: inner.removed };
}
