// protobuf-es keeps google.protobuf.Struct entries in plain objects, where a
// "__proto__" key sets the prototype instead of adding an entry: read from
// JSON, every "__proto__" key of a settings map would be lost. So the SDK's
// JSON transports read the text through this decoder, which renames such a
// key before protobuf-es sees it (one U+0000 in front), and proto-keys.ts
// takes the mark off again in the objects the SDK hands out. Keys that
// already look renamed get one more mark, so the renaming is reversible for
// every key.
import { jsonString, scanJson } from "../domain/json-scan.js";
import { setOwn } from "../domain/json.js";
import type { JsonObject, JsonValue } from "../domain/types.js";

const RENAMED = /^\u0000*__proto__$/;
const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]; // "__proto__"
const utf8 = new TextDecoder();

/** Whether any text read so far had a key renamed; until then nothing needs its marks taken off. */
let renamedAny = false;
export const keysRenamed = () => renamedAny;

/** The key as the service sent it. */
export const originalKey = (key: string) => (key.charCodeAt(0) === 0 && RENAMED.test(key) ? key.slice(1) : key);

/** Whether the key at [start, end) is "__proto__" or one already marked; an escape (\u...) is decoded first. */
function needsRenaming(bytes: Uint8Array, start: number, end: number): boolean {
  if (bytes.subarray(start, end).includes(0x5c)) return RENAMED.test(jsonString(bytes, start, end));
  // Without escapes a key holds no U+0000 (JSON forbids it raw), so only "__proto__" itself.
  return end - start === PROTO.length && PROTO.every((b, i) => bytes[start + i] === b);
}

/** `text` (the UTF-8 of `bytes`) with every "__proto__" key renamed, or undefined when it holds none. */
export function protoKeysRenamed(bytes: Uint8Array, text: string): string | undefined {
  if (!text.includes("__proto__") && !text.includes("\\u")) return undefined;
  const edits: [number, number][] = [];
  scanJson(bytes, {
    key(start, end) {
      if (needsRenaming(bytes, start, end)) edits.push([start, end]);
    },
  });
  if (edits.length === 0) return undefined;
  renamedAny = true;
  let out = "";
  let at = 0;
  for (const [start, end] of edits) {
    out += `${utf8.decode(bytes.subarray(at, start))}\\u0000${utf8.decode(bytes.subarray(start, end))}`;
    at = end;
  }
  return out + utf8.decode(bytes.subarray(at));
}

function renameKeys(bytes: Uint8Array): string {
  const text = utf8.decode(bytes);
  return protoKeysRenamed(bytes, text) ?? text;
}

/**
 * JSON options for any Connect transport the SDK is given (Connect JSON,
 * gRPC-Web JSON): `createConnectTransport({ ..., jsonOptions: sdkJsonOptions })`.
 * Without them the SDK works, but a "__proto__" key read over JSON is lost.
 */
export const sdkJsonOptions = {
  ignoreUnknownFields: true,
  // Not in the option's declared type; connect's JSON serialization reads it.
  textDecoder: { decode: renameKeys },
};

/** A JSON value with every renamed key given back its original name (a copy where any was renamed). */
export function originalKeys(value: JsonValue): JsonValue {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(originalKeys);
  const out: JsonObject = {};
  for (const k of Object.keys(value)) setOwn(out, originalKey(k), originalKeys(value[k]!));
  return out;
}
