// gRPC server reflection (v1 and v1alpha), answered from the descriptors the
// generated code already embeds, so `grpcurl` and `buf curl` need no schema:
// they list the services, describe their methods, and decode ErrorDetail.
// Only the services actually served are listed.
import { toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { file_codexmanager_settings_v1_errors } from "../../gen/codexmanager/settings/v1/errors_pb.js";
import { ServerReflection as ReflectionV1, type ServerReflectionRequest } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

const NOT_FOUND = 5;

export const REFLECTION_SERVICES = [ReflectionV1, ReflectionV1alpha] as const;

/** Every file reachable from the served services (and ErrorDetail's), by name. */
function filesOf(services: readonly DescService[]): Map<string, DescFile> {
  const files = new Map<string, DescFile>();
  const add = (file: DescFile) => {
    if (files.has(file.name)) return;
    files.set(file.name, file);
    file.dependencies.forEach(add);
  };
  services.forEach((s) => add(s.file));
  add(file_codexmanager_settings_v1_errors);
  return files;
}

/** Fully qualified symbol → the file declaring it: services, methods, messages (nested too), enums. */
function symbolsOf(files: Map<string, DescFile>): Map<string, DescFile> {
  const symbols = new Map<string, DescFile>();
  for (const file of files.values()) {
    for (const service of file.services) {
      symbols.set(service.typeName, file);
      for (const method of service.methods) symbols.set(`${service.typeName}.${method.name}`, file);
    }
    const messages = [...file.messages];
    while (messages.length > 0) {
      const message = messages.pop()!;
      symbols.set(message.typeName, file);
      messages.push(...message.nestedMessages);
      for (const e of message.nestedEnums) symbols.set(e.typeName, file);
    }
    for (const e of file.enums) symbols.set(e.typeName, file);
  }
  return symbols;
}

// The answer both versions share: their messages are field for field the same.
type ReflectionResponse =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

export function reflectionServices(served: readonly DescService[]) {
  const listed = [...served, ...REFLECTION_SERVICES];
  const files = filesOf(listed);
  const symbols = symbolsOf(files);

  /** The file asked for, always, and the files it imports that this stream has not sent yet (as grpc-go does). */
  const withDependencies = (file: DescFile, sent: Set<string>): Uint8Array[] => {
    const out: Uint8Array[] = [];
    const visit = (f: DescFile, asked: boolean) => {
      if (sent.has(f.name) && !asked) return;
      sent.add(f.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const d of f.dependencies) visit(d, false);
    };
    visit(file, true);
    return out;
  };

  const answer = (req: ServerReflectionRequest, sent: Set<string>): ReflectionResponse => {
    const notFound = (what: string): ReflectionResponse => ({ case: "errorResponse", value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } });
    const r = req.messageRequest;
    switch (r.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: listed.map((s) => ({ name: s.typeName })) } };
      case "fileByFilename": {
        const file = files.get(r.value);
        return file ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file, sent) } } : notFound(`file ${r.value}`);
      }
      case "fileContainingSymbol": {
        const file = symbols.get(r.value);
        return file ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file, sent) } } : notFound(`symbol ${r.value}`);
      }
      case "allExtensionNumbersOfType":
        // No message here is extended; a known type has none.
        return symbols.has(r.value) ? { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: [] } } : notFound(`type ${r.value}`);
      case "fileContainingExtension":
        return notFound(`extension ${r.value.containingType}(${r.value.extensionNumber})`);
      default:
        return { case: "errorResponse", value: { errorCode: 3, errorMessage: "the request asks nothing" } };
    }
  };

  async function* serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>) {
    const sent = new Set<string>();
    for await (const req of requests) yield { validHost: req.host, originalRequest: req, messageResponse: answer(req, sent) };
  }

  return {
    v1: { serverReflectionInfo } as unknown as ServiceImpl<typeof ReflectionV1>,
    v1alpha: { serverReflectionInfo } as unknown as ServiceImpl<typeof ReflectionV1alpha>,
  };
}
