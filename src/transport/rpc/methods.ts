// The fast path's method table: the very ServiceImpl objects and connect
// Interceptors that connect-node serves, looked up by request path, with the
// interceptor chain built once per method instead of once per call.
//
// Why a fast path at all: connect's protocol handlers spend 4-6x what
// grpc-js spends on a whole no-op call (a DOMException, two AbortControllers
// and about ten async-generator stages per call; see the README's
// performance section), and that cost is inside connect, where no adapter
// can remove it. So the common calls (unary gRPC, unary Connect, and server
// streams) are served here, on the same implementations and interceptors,
// and everything else still goes to connect-node.
import { create, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type Interceptor, type StreamRequest, type StreamResponse, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import type { FastContext, Message, Method } from "./types.js";

type Impl = Record<string, unknown>;

/** Request path → method, for the unary and server-streaming methods of `services`. */
export function methodTable(services: [DescService, Impl][], interceptors: Interceptor[]): Map<string, Method> {
  const table = new Map<string, Method>();
  for (const [service, impl] of services) {
    for (const method of service.methods) {
      if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") continue;
      const fn = impl[method.localName];
      if (typeof fn !== "function") continue;
      table.set(`/${service.typeName}/${method.name}`, {
        kind: method.methodKind,
        method,
        service,
        input: method.input,
        output: method.output,
        call: chain(fn.bind(impl) as ImplFn, method, service, interceptors),
      });
    }
  }
  return table;
}

type ImplFn = (req: unknown, ctx: HandlerContext) => unknown;

/** The implementation's answer as a message of the output type (connect accepts init objects). */
function normalize(output: DescMessage, out: unknown): Message {
  const typed = out !== null && typeof out === "object" && (out as { $typeName?: string }).$typeName === output.typeName;
  return typed ? (out as Message) : create(output, out as never);
}

async function* normalizeAll(output: DescMessage, out: AsyncIterable<unknown>): AsyncGenerator<Message> {
  for await (const message of out) yield normalize(output, message);
}

function chain(fn: ImplFn, method: DescMethod, service: DescService, interceptors: Interceptor[]): Method["call"] {
  const output = method.output;
  const streaming = method.methodKind === "server_streaming";
  const invoke = (message: unknown, ctx: HandlerContext) => {
    const out = fn(message, ctx);
    if (!streaming) return Promise.resolve(out).then((o) => normalize(output, o));
    if (out === null || typeof out !== "object" || !(Symbol.asyncIterator in out)) {
      throw new ConnectError(`${method.name} did not answer a stream`, Code.Internal);
    }
    return Promise.resolve(normalizeAll(output, out as AsyncIterable<unknown>));
  };
  if (interceptors.length === 0) return invoke;

  // connect's request and response shapes, with lazy getters so that building
  // them costs nothing the interceptors do not read.
  const inner = async (req: UnaryRequest | StreamRequest): Promise<UnaryResponse | StreamResponse> => {
    const ctx = (req as unknown as Record<typeof ctxKey, HandlerContext>)[ctxKey];
    const input = req.stream ? await first(req.message) : req.message;
    const message = await invoke(input, ctx);
    return {
      stream: streaming,
      message,
      method,
      service,
      get header() {
        return ctx.responseHeader;
      },
      get trailer() {
        return ctx.responseTrailer;
      },
    } as UnaryResponse | StreamResponse;
  };
  let next = inner;
  for (const i of [...interceptors].reverse()) next = i(next as never) as typeof inner;
  return async (message, ctx) => {
    const req = {
      stream: streaming,
      // A server-streaming call's interceptors see its one request message as a stream, as in connect.
      message: streaming ? once(message) : message,
      method,
      service,
      requestMethod: "POST",
      [ctxKey]: ctx,
      get url() {
        return ctx.url;
      },
      get signal() {
        return ctx.signal;
      },
      get header() {
        return ctx.requestHeader;
      },
      get contextValues() {
        return ctx.values;
      },
      // Not in connect's shape: lets callInterceptor name the protocol without building the request's Headers.
      get protocolName() {
        return ctx.protocolName;
      },
      // Not in connect's shape either: one header without building the request's Headers (the tracing interceptor).
      rawHeader: (name: string) => (ctx as FastContext).rawHeader(name),
    };
    const res = await next(req as never);
    return res.message as Message | AsyncIterable<Message>;
  };
}

const ctxKey = Symbol("call context");

async function* once<T>(message: T): AsyncGenerator<T> {
  yield message;
}

async function first<T>(messages: AsyncIterable<T>): Promise<T> {
  for await (const message of messages) return message;
  throw new ConnectError("protocol error: missing input message", Code.InvalidArgument);
}
