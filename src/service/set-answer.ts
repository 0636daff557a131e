// SetSettings' answer in protobuf binary, written directly. protobuf-es's
// toBinary leaves about 4 KB of garbage for these few bytes (a reflection
// object with two Maps per message, a writer and its arrays), on every write;
// this writes the same bytes into one buffer (test/set-answer.test.ts holds it
// equal to toBinary). The fast path takes them (./encoded-answer.ts); every
// other transport encodes the message as usual.
//
//   SetSettingsResponse: 1 changed (bool) | 2 revision (uint64) | 3 key (optional string)
//                        | 4 value (google.protobuf.Value) | 5 removed (bool) | 6 replayed (bool)
import type { JsonValue } from "../domain/types.js";
import { stringSize, valueSize, varintSize, Writer, type Sizes } from "./struct-wire.js";

export interface SetAnswer {
  changed: boolean;
  revision: bigint;
  key?: string;
  value?: JsonValue;
  removed: boolean;
  replayed: boolean;
}

const TAG_CHANGED = 0x08;
const TAG_REVISION = 0x10;
const TAG_KEY = 0x1a;
const TAG_VALUE = 0x22;
const TAG_REMOVED = 0x28;
const TAG_REPLAYED = 0x30;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Sizes of a scalar value: none are recorded, so one empty map serves every answer. */
const NO_SIZES: Sizes = new Map();

function uint64Size(n: bigint): number {
  if (n <= MAX_SAFE) return varintSize(Number(n));
  let size = 1;
  for (let rest = n >> 7n; rest > 0n; rest >>= 7n) size++;
  return size;
}

function writeUint64(w: Writer, n: bigint): void {
  if (n <= MAX_SAFE) return w.varint(Number(n));
  let rest = n;
  while (rest > 0x7fn) {
    w.buf[w.pos++] = Number(rest & 0x7fn) | 0x80;
    rest >>= 7n;
  }
  w.buf[w.pos++] = Number(rest);
}

/** A bool field that is true (proto3 leaves false out). */
function flag(w: Writer, tag: number): void {
  w.buf[w.pos++] = tag;
  w.buf[w.pos++] = 1;
}

export function setAnswerProto(a: SetAnswer): Uint8Array {
  const sizes = typeof a.value === "object" && a.value !== null ? new Map() : NO_SIZES;
  const valueBytes = a.value === undefined ? 0 : valueSize(a.value, sizes);
  const size =
    (a.changed ? 2 : 0) +
    (a.revision !== 0n ? 1 + uint64Size(a.revision) : 0) +
    (a.key !== undefined ? 1 + stringSize(a.key) : 0) +
    (a.value !== undefined ? 1 + varintSize(valueBytes) + valueBytes : 0) +
    (a.removed ? 2 : 0) +
    (a.replayed ? 2 : 0);
  const w = new Writer(Buffer.allocUnsafe(size), sizes);
  if (a.changed) flag(w, TAG_CHANGED);
  if (a.revision !== 0n) {
    w.buf[w.pos++] = TAG_REVISION;
    writeUint64(w, a.revision);
  }
  if (a.key !== undefined) {
    w.buf[w.pos++] = TAG_KEY;
    w.string(a.key);
  }
  if (a.value !== undefined) {
    w.buf[w.pos++] = TAG_VALUE;
    w.varint(valueBytes);
    w.value(a.value);
  }
  if (a.removed) flag(w, TAG_REMOVED);
  if (a.replayed) flag(w, TAG_REPLAYED);
  return w.buf;
}
