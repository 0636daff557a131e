// SetSettings' answer written directly (src/service/set-answer.ts) against
// protobuf-es's toBinary of the same message: the same bytes for any answer,
// and what the fast path sends decodes to that message.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SetSettingsResponseSchema } from "../gen/codexmanager/settings/v1/settings_pb.js";
import type { JsonValue } from "../src/domain/types.js";
import { setAnswerProto, type SetAnswer } from "../src/service/set-answer.js";
import { valueOfJson } from "../src/service/value-json.js";

const answer: fc.Arbitrary<SetAnswer> = fc.record(
  {
    changed: fc.boolean(),
    // Small revisions as they are, and the whole uint64 range (past 2^53 the writer goes through bigint).
    revision: fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    key: fc.string({ unit: "grapheme" }),
    value: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>,
    removed: fc.boolean(),
    replayed: fc.boolean(),
  },
  { requiredKeys: ["changed", "revision", "removed", "replayed"] },
);

const message = (a: SetAnswer) => create(SetSettingsResponseSchema, { ...a, value: a.value === undefined ? undefined : valueOfJson(a.value) });

describe("SetSettings' answer in binary", () => {
  it("is toBinary's bytes for any answer", () => {
    fc.assert(
      fc.property(answer, (a) => {
        const ours = setAnswerProto(a);
        expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(toBinary(SetSettingsResponseSchema, message(a))).toString("hex"));
        // protobuf-es reads a "__proto__" key into the prototype (the SDK reads answers with shadow
        // types, client/proto-keys.ts; test/proto-keys.test.ts), so such a value is compared in bytes only.
        if (!JSON.stringify(a.value ?? null).includes('"__proto__"')) expect(fromBinary(SetSettingsResponseSchema, ours)).toStrictEqual(message(a));
      }),
      { numRuns: 1000 },
    );
  });

  it("leaves out what proto3 leaves out: an unchanged write at revision 0 is empty", () => {
    expect(setAnswerProto({ changed: false, revision: 0n, removed: false, replayed: false }).length).toBe(0);
    // An empty key is still a key (optional string), unlike a false bool.
    expect(Buffer.from(setAnswerProto({ changed: false, revision: 0n, key: "", removed: false, replayed: false })).toString("hex")).toBe("1a00");
  });
});
