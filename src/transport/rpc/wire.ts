// The wire formats the fast path speaks, and which requests it takes:
//   grpc      application/grpc[+proto]            h2, enveloped, status in trailers
//   grpc-web  application/grpc-web[+proto|+json]  h1 or h2, trailers in a last envelope
//   connect   application/json | application/proto (unary),
//             application/connect+json | +proto (streams), end-of-stream envelope
// Anything else (compression, grpc+json, GET requests, unknown types) is
// left to connect-node, which speaks every variant.
import type { IncomingHttpHeaders } from "node:http";
import { fromBinary, fromJsonString, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { protoKeysRenamed } from "../../client/json-keys.js";
import { keepingProtoKeys, SHADOW_READ } from "../../client/proto-keys.js";
import { requireExactIntegers } from "../../domain/exact-integers.js";
import { ownEncoding } from "../../service/encoded-answer.js";
import { BARE, ENVELOPED, type Framing } from "../request-body.js";
import { answerJson } from "./json-answer.js";
import { keepingStructKeys } from "./struct-answers.js";
import type { Codec, Kind, Message, Wire } from "./types.js";

const IDENTITY = new Set([undefined, "", "identity"]);

/** The wire of a POST the fast path can answer, or undefined to leave it to connect-node. */
export function wireOf(headers: IncomingHttpHeaders, kind: Kind): Wire | undefined {
  const type = headers["content-type"];
  switch (type) {
    case "application/grpc":
    case "application/grpc+proto":
      return IDENTITY.has(headers["grpc-encoding"] as string | undefined) ? { protocol: "grpc", codec: "proto", contentType: "application/grpc" } : undefined;
    case "application/grpc-web":
    case "application/grpc-web+proto":
    case "application/grpc-web+json": {
      if (!IDENTITY.has(headers["grpc-encoding"] as string | undefined)) return undefined;
      const codec = type.endsWith("json") ? "json" : "proto";
      return { protocol: "grpc-web", codec, contentType: `application/grpc-web+${codec}` };
    }
    case "application/json":
    case "application/proto":
      if (kind !== "unary" || !IDENTITY.has(headers["content-encoding"] as string | undefined)) return undefined;
      return { protocol: "connect", codec: type === "application/json" ? "json" : "proto", contentType: type };
    case "application/connect+json":
    case "application/connect+proto":
      if (kind !== "server_streaming" || !IDENTITY.has(headers["connect-content-encoding"] as string | undefined)) return undefined;
      return { protocol: "connect", codec: type.endsWith("json") ? "json" : "proto", contentType: type };
    default:
      return undefined;
  }
}

// connect reads JSON with unknown fields ignored; so does the fast path.
const READ_JSON = { ignoreUnknownFields: true };

export function decode(schema: DescMessage, codec: Codec, bytes: Uint8Array): Message {
  if (codec === "json") requireExactIntegers(bytes);
  try {
    if (codec === "proto") return mayHoldProtoKey(bytes) ? readKeepingProtoKeys(schema, bytes) : fromBinary(schema, bytes);
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    const renamed = protoKeysRenamed(bytes, text);
    return renamed === undefined ? fromJsonString(schema, text, READ_JSON) : readKeepingProtoKeys(schema, renamed);
  } catch (e) {
    throw new ConnectError(`cannot decode ${schema.typeName}: ${(e as Error).message}`, Code.InvalidArgument);
  }
}

const PROTO_KEY = Buffer.from("__proto__");
/** Whether a binary message may hold a "__proto__" key: its bytes hold the word (a key's bytes are its UTF-8). */
const mayHoldProtoKey = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(PROTO_KEY) >= 0;

/**
 * protobuf-es reads a Struct's entries into a plain object, where "__proto__"
 * sets the prototype: the key, acknowledged and never stored, would be lost.
 * A message that may hold one is read the SDK's way (client/proto-keys.ts):
 * with a shadow type whose maps are lists, then put in the real shape.
 */
function readKeepingProtoKeys(schema: DescMessage, body: Uint8Array | string): Message {
  const keeping = keepingProtoKeys(schema);
  if (!keeping) return typeof body === "string" ? fromJsonString(schema, body, READ_JSON) : fromBinary(schema, body);
  const shadowed = typeof body === "string" ? fromJsonString(keeping.shadow, body, READ_JSON) : fromBinary(keeping.shadow, body, SHADOW_READ);
  return keeping.plan(shadowed as never) as Message;
}

export function encode(schema: DescMessage, codec: Codec, message: Message): Uint8Array {
  return codec === "proto" ? toBinary(schema, keepingStructKeys(schema, message)) : Buffer.from(answerJson(schema, message));
}

/** A unary answer's bytes: the ones it carries (a big map's, see service/encoded-answer.ts), else encoded here. */
export function encodeAnswer(schema: DescMessage, codec: Codec, message: Message): Uint8Array | Promise<Uint8Array> {
  return ownEncoding(message, codec) ?? encode(schema, codec, message);
}

/** flags(1) length(4, big-endian) payload: one message of a stream. */
export function envelope(payload: Uint8Array, flags = 0): Buffer {
  const frame = Buffer.allocUnsafe(5 + payload.length);
  frame[0] = flags;
  frame.writeUInt32BE(payload.length, 1);
  frame.set(payload, 5);
  return frame;
}

/** The 5 bytes before a payload of `length`, for writing a shared payload without copying it. */
export function envelopePrefix(length: number, flags = 0): Buffer {
  const prefix = Buffer.allocUnsafe(5);
  prefix[0] = flags;
  prefix.writeUInt32BE(length, 1);
  return prefix;
}

// A message object shared by many streams (a change sent to every watcher) is enveloped once per codec.
const shared = new WeakMap<object, Partial<Record<Codec, Buffer>>>();

export function envelopeOnce(schema: DescMessage, codec: Codec, message: Message): Buffer {
  let cached = shared.get(message);
  if (!cached) shared.set(message, (cached = {}));
  return (cached[codec] ??= envelope(encode(schema, codec, message)));
}

/** How a request's one message is framed: Connect unary sends it bare, every other wire in one envelope. */
export function framingOf(wire: Wire, kind: Kind): Framing {
  return wire.protocol === "connect" && kind === "unary" ? BARE : ENVELOPED;
}

/** The same from the content type alone, for any wire (also those left to connect-node). */
export function framingOfType(contentType: string | undefined): Framing {
  return contentType?.startsWith("application/grpc") || contentType?.startsWith("application/connect+") ? ENVELOPED : BARE;
}

/** The one request message of a unary or server-streaming call: the bare body, or its one uncompressed envelope's payload. */
export function requestMessage(body: Buffer, framing: Framing): Uint8Array {
  if (framing === BARE) return body;
  if (body.length < 5) throw new ConnectError("protocol error: missing input message", Code.InvalidArgument);
  if (body[0]! & 0b1) throw new ConnectError("compressed messages are not supported here", Code.Unimplemented);
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if (body.length > 5 + length) throw new ConnectError("protocol error: more than one input message", Code.Unimplemented);
  return body.subarray(5);
}

/** Fetch Headers as a plain object, for Node's response and trailer APIs. */
export function headerRecord(h: Headers): Record<string, string> {
  return copyHeaders({}, h);
}

/** Adds `h` (if any) to a plain header object, each name after `prefix`. */
export function copyHeaders(into: Record<string, string>, h: Headers | undefined, prefix = ""): Record<string, string> {
  h?.forEach((v, k) => (into[prefix + k] = v));
  return into;
}
