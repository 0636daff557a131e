// JSON → google.protobuf.Struct/Value in protobuf binary, written directly.
// protobuf-es builds a message object per value and then encodes it; for a
// 4 MiB map that was most of a read's CPU. This writes the same bytes from
// the parsed JSON in two passes (sizes, then bytes into one buffer).
// test/big-maps.test.ts holds it equal to protobuf-es on random JSON.
//
//   Value:     1 null_value (varint 0) | 2 number_value (double) | 3 string_value
//              | 4 bool_value (varint) | 5 struct_value (Struct) | 6 list_value (ListValue)
//   Struct:    1 fields, map<string, Value>: entries of {1 key, 2 value}
//   ListValue: 1 values, repeated Value
import type { JsonObject, JsonValue } from "../domain/types.js";

const TAG_NULL = 0x08;
const TAG_NUMBER = 0x11;
const TAG_STRING = 0x1a;
const TAG_BOOL = 0x20;
const TAG_STRUCT = 0x2a;
const TAG_LIST = 0x32;
const TAG_FIELD1 = 0x0a;
const TAG_FIELD2 = 0x12;

export function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Sizes of the objects and arrays met, so the write pass does not measure twice. */
export type Sizes = Map<object, number>;

export function stringSize(s: string): number {
  const n = Buffer.byteLength(s);
  return varintSize(n) + n;
}

export function valueSize(v: JsonValue, sizes: Sizes): number {
  if (v === null) return 2;
  switch (typeof v) {
    case "number":
      return 9;
    case "string":
      return 1 + stringSize(v);
    case "boolean":
      return 2;
  }
  const inner = sizes.get(v) ?? (Array.isArray(v) ? listSize(v, sizes) : structSize(v as JsonObject, sizes));
  return 1 + varintSize(inner) + inner;
}

/** The bytes of one Struct entry {key, value}, its own tag and length included. */
export function entrySize(key: string, value: JsonValue, sizes: Sizes): number {
  return 1 + lengthDelimited(1 + stringSize(key) + 1 + lengthDelimited(valueSize(value, sizes)));
}

/** The size of a Struct's body (its entries). */
export function structSize(o: JsonObject, sizes: Sizes = new Map()): number {
  let size = 0;
  for (const key of Object.keys(o)) size += entrySize(key, o[key]!, sizes);
  sizes.set(o, size);
  return size;
}

function listSize(a: JsonValue[], sizes: Sizes): number {
  let size = 0;
  for (const v of a) size += 1 + lengthDelimited(valueSize(v, sizes));
  sizes.set(a, size);
  return size;
}

/** A length prefix plus the bytes it covers. */
function lengthDelimited(n: number): number {
  return varintSize(n) + n;
}

export class Writer {
  pos = 0;
  constructor(readonly buf: Buffer, readonly sizes: Sizes) {}

  varint(n: number): void {
    while (n > 0x7f) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  string(s: string): void {
    const n = Buffer.byteLength(s);
    this.varint(n);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  value(v: JsonValue): void {
    if (v === null) {
      this.buf[this.pos++] = TAG_NULL;
      this.buf[this.pos++] = 0;
      return;
    }
    switch (typeof v) {
      case "number":
        this.buf[this.pos++] = TAG_NUMBER;
        this.pos = this.buf.writeDoubleLE(v, this.pos);
        return;
      case "string":
        this.buf[this.pos++] = TAG_STRING;
        return this.string(v);
      case "boolean":
        this.buf[this.pos++] = TAG_BOOL;
        this.buf[this.pos++] = v ? 1 : 0;
        return;
    }
    if (Array.isArray(v)) {
      this.buf[this.pos++] = TAG_LIST;
      this.varint(this.sizes.get(v)!);
      for (const item of v) {
        this.buf[this.pos++] = TAG_FIELD1;
        this.varint(valueSize(item, this.sizes));
        this.value(item);
      }
      return;
    }
    this.buf[this.pos++] = TAG_STRUCT;
    this.varint(this.sizes.get(v)!);
    this.struct(v as JsonObject);
  }

  struct(o: JsonObject): void {
    for (const key of Object.keys(o)) this.entry(key, o[key]!);
  }

  /** One Struct entry; its sizes must have been measured into `sizes` (entrySize). */
  entry(key: string, value: JsonValue): void {
    const valueBytes = valueSize(value, this.sizes);
    this.buf[this.pos++] = TAG_FIELD1;
    this.varint(1 + stringSize(key) + 1 + lengthDelimited(valueBytes));
    this.buf[this.pos++] = TAG_FIELD1;
    this.string(key);
    this.buf[this.pos++] = TAG_FIELD2;
    this.varint(valueBytes);
    this.value(value);
  }
}
