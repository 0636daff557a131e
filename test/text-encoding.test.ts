// The fast text encoding installed for protobuf-es must give exactly the
// bytes and strings of the standard TextEncoder/TextDecoder.
import fc from "fast-check";
import { getTextEncoding } from "@bufbuild/protobuf/wire";
import { expect, it } from "vitest";
import { useFastTextEncoding } from "../src/transport/text-encoding.js";

it("encodes and decodes exactly like TextEncoder and TextDecoder", () => {
  useFastTextEncoding();
  const fast = getTextEncoding();
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: "binary", maxLength: 80 }), fc.string({ unit: "grapheme", maxLength: 20 })), (text) => {
      const bytes = fast.encodeUtf8(text);
      expect(Buffer.from(bytes)).toEqual(Buffer.from(encoder.encode(text)));
      expect(fast.decodeUtf8(bytes)).toBe(decoder.decode(bytes));
    }),
    { numRuns: 2000 },
  );
  expect(fast.decodeUtf8(new Uint8Array([0x61, 0xff]))).toBe(decoder.decode(new Uint8Array([0x61, 0xff])));
});
