// The SDK shows "__proto__" keys like any other. protobuf-es reads a
// google.protobuf.Struct into plain objects (its map of entries, then the
// JsonObject of a settings field), and assigning "__proto__" there sets the
// prototype: the key is gone, top level and nested, before the SDK sees it.
//
// So every answer is read with a shadow of its message type, made at run
// time from the real descriptors: each Struct, Value or ListValue field
// becomes two fields. One keeps the field number with a type of the same
// wire form whose map is a plain list of {key, value} entries, so protobuf
// binary (gRPC, Connect binary, gRPC-Web) keeps every key; the other keeps
// the JSON name with the real type, for JSON, whose text json-keys.ts has
// already renamed. The answer is then put in the real message's shape, with
// every key an own property. Works with any transport, codec unknown.
import { clone, create, createFileRegistry, type DescFile, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type FileDescriptorProto,
  type Value,
} from "@bufbuild/protobuf/wkt";
import type { Transport } from "@connectrpc/connect";
import type { JsonObject, JsonValue } from "../domain/types.js";
import { setOwn } from "../domain/json.js";
import { json, valueOf } from "./convert.js";
import { keysRenamed, originalKeys } from "./json-keys.js";

const RAW_FILE = "codexmanager/sdk/raw.proto";
const RAW = ".codexmanager.sdk.raw";
const RAW_OF: Record<string, string> = {
  ".google.protobuf.Struct": `${RAW}.Struct`,
  ".google.protobuf.Value": `${RAW}.Value`,
  ".google.protobuf.ListValue": `${RAW}.List`,
};
/** The largest field number; the JSON twins count down from it and never appear on the wire. */
const TWIN_NUMBERS = 536_870_911;

const field = (name: string, number: number, type: Type, typeName?: string, repeated = false, inOneof = false) =>
  create(FieldDescriptorProtoSchema, {
    name, number, type, jsonName: name, label: repeated ? Label.REPEATED : Label.OPTIONAL,
    ...(typeName && { typeName }), ...(inOneof && { oneofIndex: 0 }),
  });

/** Struct, Value and ListValue with their wire forms, a map as a list of entries. */
const rawFile = (): FileDescriptorProto =>
  create(FileDescriptorProtoSchema, {
    name: RAW_FILE,
    package: RAW.slice(1),
    syntax: "proto3",
    messageType: [
      { name: "Struct", field: [field("fields", 1, Type.MESSAGE, `${RAW}.Entry`, true)] },
      { name: "Entry", field: [field("key", 1, Type.STRING), field("value", 2, Type.MESSAGE, `${RAW}.Value`)] },
      {
        name: "Value",
        oneofDecl: [{ name: "kind" }],
        field: [
          field("null_value", 1, Type.INT32, undefined, false, true),
          field("number_value", 2, Type.DOUBLE, undefined, false, true),
          field("string_value", 3, Type.STRING, undefined, false, true),
          field("bool_value", 4, Type.BOOL, undefined, false, true),
          field("struct_value", 5, Type.MESSAGE, `${RAW}.Struct`, false, true),
          field("list_value", 6, Type.MESSAGE, `${RAW}.List`, false, true),
        ],
      },
      { name: "List", field: [field("values", 1, Type.MESSAGE, `${RAW}.Value`, true)] },
    ],
  });

/** `file` with each Struct/Value/ListValue field split in two (see above). */
function shadowProto(file: DescFile): FileDescriptorProto {
  const proto = clone(FileDescriptorProtoSchema, file.proto);
  const split = (m: DescriptorProto) => {
    let twin = TWIN_NUMBERS;
    for (const f of [...m.field]) {
      const raw = RAW_OF[f.typeName];
      if (!raw) continue;
      const json = clone(FieldDescriptorProtoSchema, f);
      json.number = twin--;
      m.field.push(json);
      f.typeName = raw;
      f.jsonName = f.name = `${f.name}__raw`;
    }
    m.nestedType.forEach(split);
  };
  proto.messageType.forEach(split);
  proto.dependency.push(RAW_FILE);
  return proto;
}

let rawDesc: DescFile | undefined;
const registries = new Map<DescFile, FileRegistry>();

/** The shadow of a file (its imports shadowed too, but the well-known types). */
function shadowRegistry(file: DescFile): FileRegistry {
  let registry = registries.get(file);
  if (!registry) {
    rawDesc ??= createFileRegistry(rawFile(), () => undefined).getFile(RAW_FILE)!;
    registry = createFileRegistry(shadowProto(file), (name) => {
      if (name === RAW_FILE) return rawDesc;
      const dep = file.dependencies.find((d) => d.proto.name === name);
      return dep && (name.startsWith("google/protobuf/") ? dep : shadowRegistry(dep).getFile(name));
    });
    registries.set(file, registry);
  }
  return registry;
}

const shadowOf = (real: DescMessage) => shadowRegistry(real.file).getMessage(real.typeName)!;

type Message = Record<string, unknown>;
type RawValue = { kind: { case?: string; value?: unknown } };
type RawStruct = { fields: { key: string; value?: RawValue }[] };

function rawJson(v: RawValue | undefined): JsonValue {
  switch (v?.kind.case) {
    case "numberValue":
    case "stringValue":
    case "boolValue":
      return v.kind.value as JsonValue;
    case "structValue":
      return rawObject(v.kind.value as RawStruct);
    case "listValue":
      return (v.kind.value as { values: RawValue[] }).values.map(rawJson);
    default:
      return null;
  }
}

function rawObject(s: RawStruct): JsonObject {
  const out: JsonObject = {};
  for (const entry of s.fields) setOwn(out, entry.key, rawJson(entry.value));
  return out;
}

/** The real field's value, from the raw (binary) half or else the JSON twin, for each well-known type. */
const FROM: Record<string, { raw(v: never): unknown; twin(v: never): unknown }> = {
  "google.protobuf.Struct": { raw: rawObject, twin: (o: JsonObject) => originalKeys(o) },
  "google.protobuf.Value": { raw: (v: RawValue) => valueOf(rawJson(v)), twin: (v: Value) => valueOf(originalKeys(json(v)!)) },
  "google.protobuf.ListValue": {
    raw: (l: { values: RawValue[] }) => ({ $typeName: "google.protobuf.ListValue", values: l.values.map((v) => valueOf(rawJson(v))) }),
    twin: (l: { values: Value[] }) => ({ ...l, values: l.values.map((v) => valueOf(originalKeys(json(v)!))) }),
  },
};

export type Plan = (shadow: Message) => Message;
const plans = new Map<DescMessage, Plan | undefined>();

/**
 * How to put a message read with its shadow in the real message's shape;
 * undefined when no Struct, Value or ListValue is in it. (No message of this
 * API holds one in a map or refers to itself; a oneof holds messages that
 * may, as SetSettingsRequest's update does.)
 */
function planOf(real: DescMessage): Plan | undefined {
  if (plans.has(real)) return plans.get(real);
  plans.set(real, undefined);
  const shadow = shadowOf(real);
  const steps: ((from: Message, to: Message) => void)[] = [];
  for (const f of real.fields) {
    const name = f.localName;
    if (f.fieldKind === "message" && FROM[f.message.typeName]) {
      const from = FROM[f.message.typeName]!;
      const raw = shadow.fields.find((s) => s.number === f.number)!.localName;
      steps.push((m, out) => {
        delete out[raw];
        if (m[raw] !== undefined) out[name] = from.raw(m[raw] as never);
        else if (m[name] !== undefined && keysRenamed()) out[name] = from.twin(m[name] as never);
      });
    } else if (f.fieldKind === "message" && f.oneof) {
      const inner = planOf(f.message);
      if (!inner) continue;
      const oneof = f.oneof.localName;
      steps.push((m, out) => {
        const chosen = m[oneof] as { case?: string; value?: Message } | undefined;
        if (chosen?.case === name) out[oneof] = { case: name, value: inner(chosen.value!) };
      });
    } else if (f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message")) {
      const inner = planOf(f.message);
      if (!inner) continue;
      steps.push((m, out) => {
        const v = m[name];
        if (v !== undefined) out[name] = Array.isArray(v) ? v.map((item: Message) => inner(item)) : inner(v as Message);
      });
    }
  }
  const plan: Plan | undefined = steps.length === 0 ? undefined : (m) => {
    const out = { ...m };
    for (const step of steps) step(m, out);
    return out;
  };
  plans.set(real, plan);
  return plan;
}

/**
 * protobuf-es's read depth for a shadow (binary): each JSON object is three
 * messages there (Value, Struct, entry), two in the real types, whose limit is
 * 100; so the same JSON depth reads both ways.
 */
export const SHADOW_READ = { recursionLimit: 150 };

/**
 * Binary options for any transport the SDK is given:
 * `createGrpcTransport({ ..., binaryOptions: sdkBinaryOptions })`. Without them
 * a map deeper than about 30 levels (the service takes 32) fails to read.
 */
export const sdkBinaryOptions = SHADOW_READ;

/**
 * How to read `real` so that every "__proto__" key stays: with `shadow`, then
 * `plan` puts the message in real's shape. Undefined when real holds no Struct,
 * Value or ListValue. The server reads requests this way (transport/rpc/wire.ts).
 */
export function keepingProtoKeys(real: DescMessage): { shadow: DescMessage; plan: Plan } | undefined {
  const plan = planOf(real);
  return plan && { shadow: shadowOf(real), plan };
}

/** `transport`, its answers read so that every "__proto__" key stays (see the top of this file). */
export function keepProtoKeys(transport: Transport): Transport {
  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      const plan = planOf(method.output);
      if (!plan) return transport.unary(method, signal, timeoutMs, header, input, contextValues);
      const shadowed = { ...method, output: shadowOf(method.output) } as typeof method;
      const res = await transport.unary(shadowed, signal, timeoutMs, header, input, contextValues);
      return { ...res, method, message: plan(res.message as Message) as typeof res.message };
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      const plan = planOf(method.output);
      if (!plan) return transport.stream(method, signal, timeoutMs, header, input, contextValues);
      const shadowed = { ...method, output: shadowOf(method.output) } as typeof method;
      const res = await transport.stream(shadowed, signal, timeoutMs, header, input, contextValues);
      const messages = res.message;
      return {
        ...res,
        method,
        message: (async function* () {
          for await (const m of messages) yield plan(m as Message) as typeof m;
        })(),
      };
    },
  };
}
