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
  return isMessageOf(output, out) ? out : create(output, out as never);
}

function isMessageOf(output: DescMessage, out: unknown): out is Message {
  return out !== null && typeof out === "object" && (out as { $typeName?: string }).$typeName === output.typeName;
}

/**
 * The implementation's stream with each answer as a message of the output type. A mapping
 * iterator rather than a generator stage: an answer that already is a message (a change shared
 * by every watcher) passes with its own result object, and no promise of this stage's own.
 */
function normalizeAll(output: DescMessage, out: AsyncIterable<unknown>): AsyncIterable<Message> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Message> {
      const inner = out[Symbol.asyncIterator]();
      const typed = (r: IteratorResult<unknown>): IteratorResult<Message> =>
        r.done || isMessageOf(output, r.value) ? (r as IteratorResult<Message>) : { done: false, value: normalize(output, r.value) };
      return {
        next: () => inner.next().then(typed),
        return: (value?: unknown) => (inner.return ? inner.return(value).then(typed) : Promise.resolve({ done: true, value: undefined })),
        throw: (err?: unknown) => (inner.throw ? inner.throw(err).then(typed) : Promise.reject(err)),
      };
    },
  };
}

function chain(fn: ImplFn, method: DescMethod, service: DescService, interceptors: Interceptor[]): Method["call"] {
  const output = method.output;
  const streaming = method.methodKind === "server_streaming";
  const invoke = async (message: unknown, ctx: HandlerContext): Promise<Message | AsyncIterable<Message>> => {
    if (!streaming) return normalize(output, await fn(message, ctx));
    const out = fn(message, ctx);
    if (out === null || typeof out !== "object" || !(Symbol.asyncIterator in out)) {
      throw new ConnectError(`${method.name} did not answer a stream`, Code.Internal);
    }
    return normalizeAll(output, out as AsyncIterable<unknown>);
  };
  if (interceptors.length === 0) return invoke;

  const inner = async (req: FastRequest): Promise<UnaryResponse | StreamResponse> => {
    const input = req.stream ? await first(req.message as AsyncIterable<unknown>) : req.message;
    return new FastResponse(streaming, await invoke(input, req.ctx), method, service, req.ctx) as unknown as UnaryResponse | StreamResponse;
  };
  let next = inner;
  for (const i of [...interceptors].reverse()) next = i(next as never) as typeof inner;
  return async (message, ctx) => {
    // A server-streaming call's interceptors see its one request message as a stream, as in connect.
    const res = await next(new FastRequest(streaming, streaming ? once(message) : message, method, service, ctx as FastContext));
    return res.message as Message | AsyncIterable<Message>;
  };
}

// connect's request and response shapes for one fast-path call: one object each, whose lazy parts
// are getters on the prototype, so that a call builds nothing the interceptors do not read. (A
// spread copy, `{ ...res }`, keeps the own fields only; the fast path reads only its message.)
class FastRequest {
  readonly requestMethod = "POST";
  constructor(
    readonly stream: boolean,
    /** Writable: an interceptor may wrap a stream's messages (the tracing interceptor does). */
    public message: unknown,
    readonly method: DescMethod,
    readonly service: DescService,
    readonly ctx: FastContext,
  ) {}
  get url() {
    return this.ctx.url;
  }
  get signal() {
    return this.ctx.signal;
  }
  get header() {
    return this.ctx.requestHeader;
  }
  get contextValues() {
    return this.ctx.values;
  }
  /** Not in connect's shape: the values if anything has made them, without making them (callInterceptor's actor). */
  get existingValues() {
    return this.ctx.existingValues;
  }
  /** Not in connect's shape: lets callInterceptor name the protocol without building the request's Headers. */
  get protocolName() {
    return this.ctx.protocolName;
  }
  /** Not in connect's shape either: one header as Node received it, without building the request's Headers (authentication, tracing). */
  headerValue(name: string): string | undefined {
    return this.ctx.rawHeader(name);
  }
}

class FastResponse {
  constructor(
    readonly stream: boolean,
    readonly message: Message | AsyncIterable<Message>,
    readonly method: DescMethod,
    readonly service: DescService,
    private readonly ctx: HandlerContext,
  ) {}
  get header() {
    return this.ctx.responseHeader;
  }
  get trailer() {
    return this.ctx.responseTrailer;
  }
}

async function* once<T>(message: T): AsyncGenerator<T> {
  yield message;
}

async function first<T>(messages: AsyncIterable<T>): Promise<T> {
  for await (const message of messages) return message;
  throw new ConnectError("protocol error: missing input message", Code.InvalidArgument);
}
