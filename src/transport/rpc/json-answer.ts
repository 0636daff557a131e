// Answers in protobuf JSON with every "__proto__" key of their values kept.
// protobuf-es's toJson writes a Struct's entries by assignment to a plain
// object, where "__proto__" sets the prototype: the key left the answer
// (a one-key GetSettings, a SetSettings' value, a change event), though it is
// stored and answered in binary. So each Struct, Value and ListValue field of
// an answer is written again from the message, every key an own property.
import { toJson, type DescMessage } from "@bufbuild/protobuf";
import type { ListValue, Value } from "@bufbuild/protobuf/wkt";
import type { JsonObject, JsonValue } from "../../domain/types.js";
import { jsonOfValue } from "../../service/value-json.js";

type Message = Record<string, unknown>;
/** Writes the JSON of a message's fields that hold values (in place), from the message. */
type Rewrite = (message: Message, json: JsonObject) => void;

const WELL_KNOWN: Record<string, (v: never) => JsonValue> = {
  "google.protobuf.Struct": (o: JsonObject) => o,
  "google.protobuf.Value": (v: Value) => jsonOfValue(v),
  "google.protobuf.ListValue": (l: ListValue) => l.values.map(jsonOfValue),
};

const rewrites = new Map<DescMessage, Rewrite | undefined>();

/** Undefined when no Struct, Value or ListValue is in the message. */
function rewriteOf(desc: DescMessage): Rewrite | undefined {
  if (rewrites.has(desc)) return rewrites.get(desc);
  rewrites.set(desc, undefined);
  const steps: Rewrite[] = [];
  for (const f of desc.fields) {
    if (f.fieldKind !== "message" && !(f.fieldKind === "list" && f.listKind === "message")) continue;
    const name = f.localName;
    const key = f.jsonName;
    // A oneof's member sits in the message under the oneof's name.
    const read = f.oneof
      ? (m: Message) => ((m[f.oneof!.localName] as { case?: string; value?: unknown } | undefined)?.case === name ? (m[f.oneof!.localName] as { value: unknown }).value : undefined)
      : (m: Message) => m[name];
    const wellKnown = f.fieldKind === "message" ? WELL_KNOWN[f.message.typeName] : undefined;
    if (wellKnown) {
      steps.push((m, json) => {
        const v = read(m);
        if (v !== undefined && json[key] !== undefined) json[key] = wellKnown(v as never);
      });
      continue;
    }
    const inner = rewriteOf(f.message);
    if (!inner) continue;
    steps.push((m, json) => {
      const v = read(m);
      const j = json[key];
      if (v === undefined || j === undefined) return;
      if (Array.isArray(v)) v.forEach((item: Message, i) => inner(item, (j as JsonObject[])[i]!));
      else inner(v as Message, j as JsonObject);
    });
  }
  const rewrite: Rewrite | undefined = steps.length === 0 ? undefined : (m, json) => steps.forEach((step) => step(m, json));
  rewrites.set(desc, rewrite);
  return rewrite;
}

/** toJsonString(schema, message), with every "__proto__" key of its values kept. */
export function answerJson(schema: DescMessage, message: Message): string {
  const json = toJson(schema, message as never) as JsonObject;
  rewriteOf(schema)?.(message, json);
  return JSON.stringify(json);
}
