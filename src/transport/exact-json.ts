// connect-node (the fallback path: gRPC+JSON, compressed Connect JSON, and
// whatever else the fast path leaves to it) turns a JSON request body into
// text through this decoder, which applies the integer rule first
// (domain/exact-integers.ts), in Connect's error form, as wire.ts does for
// the fast path, and marks every "__proto__" key (client/json-keys.ts).
// Answers go the other way: protobuf-es writes a Struct's entries into a
// plain object too, so connect-fallback.ts hands it each "__proto__" key
// marked (protoKeysMarked), and the encoder here takes the mark off the text.
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { protoKeysRenamed } from "../client/json-keys.js";
import { errors } from "../domain/errors.js";
import { inexactIntegers } from "../domain/exact-integers.js";
import { domainToConnect } from "./connect-errors.js";

const utf8 = new TextDecoder();
const utf8Out = new TextEncoder();
/** How a "__proto__" key reaches toJsonString (protoKeysMarked): no stored key holds U+0000. */
const MARKED = "\u0000__proto__";
// Its text: a key, not a value, since in JSON only a key is followed by a colon.
const MARKED_KEY = `${JSON.stringify(MARKED)}:`;

type JsonOptions = NonNullable<ConnectNodeAdapterOptions["jsonOptions"]>;

// connect's JSON serialization takes textDecoder and textEncoder options that its type does not name.
export const exactJsonOptions: JsonOptions & { textDecoder: { decode(bytes: Uint8Array): string }; textEncoder: { encode(text: string): Uint8Array } } = {
  textDecoder: {
    decode(bytes: Uint8Array): string {
      const issues = inexactIntegers(bytes);
      if (issues.length > 0) throw domainToConnect(errors.invalid(issues));
      const text = utf8.decode(bytes);
      // Read with the shadow types (./connect-fallback.ts), whose plan takes the mark off again.
      return protoKeysRenamed(bytes, text) ?? text;
    },
  },
  textEncoder: {
    encode: (text: string) => utf8Out.encode(text.includes(MARKED_KEY) ? text.replaceAll(MARKED_KEY, '"__proto__":') : text),
  },
};

/** `v` with each own "__proto__" key, at any depth, renamed with a U+0000 in front: a copy where any was. */
export function protoKeysMarked<T>(v: T): T {
  if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) {
    const items = v.map(protoKeysMarked);
    return items.some((item, i) => item !== v[i]) ? (items as T) : v;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  const values = keys.map((k) => protoKeysMarked(o[k]));
  if (!keys.includes("__proto__") && values.every((x, i) => x === o[keys[i]!])) return v;
  const out: Record<string, unknown> = {};
  keys.forEach((k, i) => (out[k === "__proto__" ? MARKED : k] = values[i]));
  return out as T;
}
