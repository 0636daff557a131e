// google.protobuf.Value <-> JSON, walked directly: the very rules of
// protobuf-es's toJson / fromJson for Value, Struct and ListValue (a Value
// without a kind, or a number that is not finite, is refused), without the
// reflection objects those build per message, since every write's value
// and every change's before and after pass through here. Unlike them, a
// "__proto__" key stays an entry (protobuf-es assigns it: the prototype).
import type { ListValue, Struct, Value } from "@bufbuild/protobuf/wkt";
import { setOwn } from "../domain/json.js";
import type { JsonObject, JsonValue } from "../domain/types.js";

/** protobuf-es's toJson(ValueSchema, v): throws on a Value without a kind or a number that is not finite. */
export function jsonOfValue(v: Value): JsonValue {
  const kind = v.kind;
  switch (kind.case) {
    case "nullValue":
      return null;
    case "numberValue":
      if (!Number.isFinite(kind.value)) throw new Error("google.protobuf.Value cannot be NaN or Infinity");
      return kind.value;
    case "boolValue":
    case "stringValue":
      return kind.value;
    case "structValue": {
      const out: JsonObject = {};
      for (const [k, x] of Object.entries(kind.value.fields)) setOwn(out, k, jsonOfValue(x));
      return out;
    }
    case "listValue":
      return kind.value.values.map(jsonOfValue);
    default:
      throw new Error("google.protobuf.Value must have a value");
  }
}

/** protobuf-es's fromJson(ValueSchema, j) for a parsed JSON value: the message objects create() makes for these proto3 types. */
export function valueOfJson(j: JsonValue): Value {
  if (j === null) return value({ case: "nullValue", value: 0 });
  switch (typeof j) {
    case "number":
      return value({ case: "numberValue", value: j });
    case "string":
      return value({ case: "stringValue", value: j });
    case "boolean":
      return value({ case: "boolValue", value: j });
  }
  if (Array.isArray(j)) return value({ case: "listValue", value: { $typeName: "google.protobuf.ListValue", values: j.map(valueOfJson) } satisfies ListValue });
  const fields: Record<string, Value> = {};
  for (const [k, x] of Object.entries(j)) setOwn(fields, k, valueOfJson(x));
  return value({ case: "structValue", value: { $typeName: "google.protobuf.Struct", fields } satisfies Struct });
}

const value = (kind: Value["kind"]): Value => ({ $typeName: "google.protobuf.Value", kind });
