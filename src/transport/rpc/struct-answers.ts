// A binary answer keeps every "__proto__" key of its Struct fields.
//
// A Struct field of a protobuf-es message is a plain JsonObject, and toBinary
// turns it into Struct entries by assignment (`fields[k] = ...`), where
// "__proto__" sets a prototype: GetControls, ListSettings, a watch's
// settings map and GetSchema answered over gRPC lost the key. (Value fields
// are message objects built with own keys, service/value-json.ts, and keep it.)
//
// So a Struct field that holds such a key is written here (service/struct-wire.ts,
// which takes own keys) and handed to toBinary as an unknown field of the same
// number, which it writes verbatim. Every other answer is returned as it is.
import { create, type DescMessage } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import type { JsonObject, JsonValue } from "../../domain/types.js";
import { structSize, varintSize, Writer } from "../../service/struct-wire.js";

type Message = Record<string, unknown> & { $unknown?: { no: number; wireType: WireType; data: Uint8Array }[] };
/** Returns the message itself when nothing in it needs help, else a copy that keeps its keys. */
type Keep = (m: Message) => Message;

function holdsProtoKey(v: JsonValue | undefined): boolean {
  if (v === null || typeof v !== "object") return false;
  if (Array.isArray(v)) return v.some(holdsProtoKey);
  if (Object.hasOwn(v, "__proto__")) return true;
  for (const k of Object.keys(v)) if (holdsProtoKey(v[k])) return true;
  return false;
}

/** A Struct's field as protobuf binary: its length, then its entries. */
function structBytes(o: JsonObject): Uint8Array {
  const sizes = new Map<object, number>();
  const size = structSize(o, sizes);
  const writer = new Writer(Buffer.allocUnsafe(varintSize(size) + size), sizes);
  writer.varint(size);
  writer.struct(o);
  return writer.buf;
}

const keeps = new Map<DescMessage, Keep | undefined>();

/** How to keep the keys of `schema`'s Struct fields, nested messages included; undefined when it has none. */
function keepOf(schema: DescMessage): Keep | undefined {
  if (keeps.has(schema)) return keeps.get(schema);
  keeps.set(schema, undefined); // no message of this API refers to itself; this ends a cycle if one did
  const steps: ((m: Message, out: () => Message) => void)[] = [];
  for (const f of schema.fields) {
    if (f.fieldKind === "message" && f.message.typeName === "google.protobuf.Struct") {
      const name = f.localName;
      steps.push((m, out) => {
        const v = m[name] as JsonObject | undefined;
        if (v === undefined || !holdsProtoKey(v)) return;
        const o = out();
        o[name] = undefined;
        o.$unknown = [...(o.$unknown ?? []), { no: f.number, wireType: WireType.LengthDelimited, data: structBytes(v) }];
      });
      continue;
    }
    const inner = f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message") ? keepOf(f.message) : undefined;
    if (!inner) continue;
    const name = f.localName;
    const oneof = f.fieldKind === "message" ? f.oneof?.localName : undefined;
    steps.push((m, out) => {
      if (oneof !== undefined) {
        const chosen = m[oneof] as { case?: string; value?: Message };
        if (chosen.case !== name) return;
        const kept = inner(chosen.value!);
        if (kept !== chosen.value) out()[oneof] = { case: name, value: kept };
        return;
      }
      const v = m[name] as Message | Message[] | undefined;
      if (v === undefined) return;
      if (!Array.isArray(v)) {
        const kept = inner(v);
        if (kept !== v) out()[name] = kept;
        return;
      }
      const kept = v.map(inner);
      if (kept.some((k, i) => k !== v[i])) out()[name] = kept;
    });
  }
  const keep: Keep | undefined = steps.length === 0 ? undefined : (m) => {
    let copy: Message | undefined;
    const out = () => (copy ??= { ...m });
    for (const step of steps) step(m, out);
    return copy ?? m;
  };
  keeps.set(schema, keep);
  return keep;
}

/** `message`, ready for protobuf-es's toBinary without losing a "__proto__" key. */
export function keepingStructKeys<T extends object>(schema: DescMessage, message: T): T {
  const keep = keepOf(schema);
  if (!keep || keep(message as Message) === message) return message;
  // A handler may answer an init shape, whose $unknown create() would drop: keep a whole message's.
  return keep(create(schema, message as never) as Message) as T;
}
