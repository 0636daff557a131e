// The direct Value <-> JSON walk (src/service/value-json.ts) against
// protobuf-es's own toJson / fromJson, which it replaces on the hot path:
// the same messages, the same bytes, the same refusals.
import { create, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../src/domain/types.js";
import { jsonOfValue, valueOfJson } from "../src/service/value-json.js";

// protobuf-es drops a "__proto__" key (it assigns it: the prototype); the walk keeps it (below).
const json = fc.jsonValue({ maxDepth: 4 }).filter((j) => !JSON.stringify(j).includes('"__proto__"')) as fc.Arbitrary<JsonValue>;

describe("Value <-> JSON without reflection", () => {
  it("builds the message protobuf-es builds, to the byte", () => {
    fc.assert(
      fc.property(json, (j) => {
        const ours = valueOfJson(j);
        const theirs = fromJson(ValueSchema, j);
        expect(ours).toStrictEqual(theirs);
        expect(toBinary(ValueSchema, ours)).toEqual(toBinary(ValueSchema, theirs));
      }),
      { numRuns: 500 },
    );
  });

  it("reads a message as protobuf-es's toJson does", () => {
    fc.assert(
      fc.property(json, (j) => {
        const v = fromJson(ValueSchema, j);
        expect(jsonOfValue(v)).toStrictEqual(toJson(ValueSchema, v));
      }),
      { numRuns: 500 },
    );
  });

  it("keeps a \"__proto__\" key as an entry, nested too, both ways and in binary", () => {
    const j = JSON.parse('{"__proto__":{"__proto__":[1,{"__proto__":null}]},"a":"b"}') as JsonValue;
    const v = valueOfJson(j);
    expect(JSON.stringify(jsonOfValue(v))).toBe(JSON.stringify(j));
    expect(Object.hasOwn((v.kind.value as { fields: object }).fields, "__proto__")).toBe(true);
    expect(Buffer.from(toBinary(ValueSchema, v)).toString("latin1").split("__proto__").length - 1).toBe(3);
  });

  it("refuses what toJson refuses: a number that is not finite, a Value without a kind, also nested", () => {
    const bad = [
      create(ValueSchema, { kind: { case: "numberValue", value: Number.NaN } }),
      create(ValueSchema, { kind: { case: "numberValue", value: Number.POSITIVE_INFINITY } }),
      create(ValueSchema, { kind: { case: "listValue", value: { values: [create(ValueSchema)] } } }),
      create(ValueSchema, { kind: { case: "structValue", value: { fields: { a: create(ValueSchema, { kind: { case: "numberValue", value: -Infinity } }) } } } }),
    ];
    for (const v of bad) {
      expect(() => toJson(ValueSchema, v)).toThrow();
      expect(() => jsonOfValue(v)).toThrow();
    }
  });
});
