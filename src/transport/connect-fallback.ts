// connect-node, for the calls the fast path (./rpc) leaves to it: compressed
// bodies, gRPC with JSON, and gRPC reflection (a bidi stream). It is
// connect-node's own adapter (connectNodeAdapter, one small function) with
// one difference: a call that takes one message (unary, server stream) has
// its body read by the one body reader (./request-body.ts), and a
// compressed message is held to the same limit once decompressed, so a body
// past MAX_BODY_BYTES is refused here exactly as on every other path
// (PAYLOAD_TOO_LARGE, with its ErrorDetail). connect's own readMaxBytes is
// the same limit, a check ours always passes first; it still bounds each
// message of a bidi stream, with connect's own error.
import type net from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createConnectRouter, type ContextValues, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { keepingProtoKeys, SHADOW_READ } from "../client/proto-keys.js";
import { DomainError } from "../domain/errors.js";
import type { Limits } from "../domain/limits.js";
import type { Logger } from "../observe/log.js";
import { domainToConnect } from "./connect-errors.js";
import { exactJsonOptions, protoKeysMarked } from "./exact-json.js";
import type { Req, Res } from "./http-types.js";
import { bodyTooLarge, declaredTooLarge, readBody, type Framing } from "./request-body.js";
import { refuseCall } from "./rpc/connect-protocol.js";
import { keepingStructKeys } from "./rpc/struct-answers.js";
import { framingOfType } from "./rpc/wire.js";
import { drainRest } from "./unread-body.js";

type Compression = typeof compressionGzip;

export interface FallbackOptions {
  /** Each service, with its own interceptors when it has them (else `interceptors`). */
  services: ([DescService, object] | [DescService, object, Interceptor[]])[];
  interceptors: Interceptor[];
  /** Values every call's context starts with, from its connection. */
  contextValues?: (socket: net.Socket | undefined) => ContextValues;
  limits: Pick<Limits, "maxBodyBytes">;
  log: Logger;
  shutdown: AbortSignal;
}

export interface ConnectFallback {
  /** The request paths of every method served. */
  procedures: Set<string>;
  /** Serves a call to one of `procedures`. */
  serve(req: Req, res: Res): void;
}

export function connectFallback({ services, interceptors, contextValues, limits, log, shutdown }: FallbackOptions): ConnectFallback {
  const limit = limits.maxBodyBytes;
  const router = createConnectRouter({
    interceptors,
    jsonOptions: exactJsonOptions,
    // Requests are read with shadow types (keepingProtoKeysOf), a level deeper per JSON object.
    binaryOptions: SHADOW_READ,
    readMaxBytes: limit,
    acceptCompression: [withinLimit(compressionGzip, limit), withinLimit(compressionBrotli, limit)],
    shutdownSignal: shutdown,
  });
  for (const [service, impl, own] of services) router.service(...keepingProtoKeysOf(service, impl), own && { interceptors: own });
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));

  return {
    procedures: new Set(handlers.keys()),
    serve(req, res) {
      const handler = handlers.get((req.url ?? "").split("?", 1)[0]!)!;
      // HTTP/1.0 may leave out Host, and connect-node throws (out of the request listener: the
      // process would end) when it cannot name the request's URL; the fast path says localhost.
      if (req.httpVersionMajor === 1 && req.headers.host === undefined) req.headers.host = "localhost";
      let request: ReturnType<typeof universalRequestFromNodeRequest>;
      try {
        request = universalRequestFromNodeRequest(req, res, undefined, contextValues?.(req.socket as net.Socket));
      } catch (err) {
        drainRest(req);
        return refuseCall(req, res, ConnectError.from(err));
      }
      const kind = handler.method.methodKind;
      if (kind === "unary" || kind === "server_streaming") {
        const framing = framingOfType(req.headers["content-type"]);
        // Before connect reads a byte: it would set aside a buffer of the declared size first.
        if (declaredTooLarge(req.headers, limit, framing)) {
          drainRest(req);
          return refuseCall(req, res, domainToConnect(bodyTooLarge(limit)));
        }
        request.body = oneMessage(req, limit, framing);
      }
      handler(request)
        .then((answer) => universalResponseToNodeResponse(answer, res))
        .catch((reason: unknown) => {
          if (ConnectError.from(reason).code === Code.Aborted) return;
          log.error({ procedure: handler.method.name, err: reason }, "connect-node failed to answer");
        });
    },
  };
}

type Impl = Record<string, (req: unknown, ctx: HandlerContext) => unknown>;

/**
 * `service` as connect-node reads and writes it here. A request that holds a
 * Struct or Value is read with its shadow type and put in its real shape
 * before `impl` sees it. A binary answer's Struct fields are written with own
 * keys (rpc/struct-answers.ts), and a JSON answer's "__proto__" keys go to
 * connect marked (exact-json.ts); so the key stays, as on the fast path (rpc/wire.ts).
 */
function keepingProtoKeysOf(service: DescService, impl: object): [DescService, never] {
  const own: Impl = {};
  const methods = service.methods.map((method) => {
    const keeping = keepingProtoKeys(method.input);
    const fn = (impl as Impl)[method.localName];
    if (!fn || (!keeping && !keepingProtoKeys(method.output))) return method;
    const read = keeping ? (req: unknown) => keeping.plan(req as never) : (req: unknown) => req;
    const answer = (m: object, ctx: HandlerContext) => (isBinary(ctx) ? keepingStructKeys(method.output, m) : protoKeysMarked(m));
    own[method.localName] =
      method.methodKind === "server_streaming"
        ? async function* (req, ctx) {
            for await (const m of fn.call(impl, read(req), ctx) as AsyncIterable<object>) yield answer(m, ctx);
          }
        : method.methodKind === "unary"
          ? async (req, ctx) => answer((await fn.call(impl, read(req), ctx)) as object, ctx)
          : fn;
    return keeping ? { ...method, input: keeping.shadow } : method;
  });
  return [{ ...service, methods }, { ...impl, ...own } as never];
}

const isBinary = (ctx: HandlerContext) => !(ctx.requestHeader.get("content-type") ?? "").includes("json");

/** The body of a call that takes one message, read whole within the limit. */
async function* oneMessage(req: Req, limit: number, framing: Framing): AsyncGenerator<Uint8Array> {
  try {
    yield await readBody(req, limit, framing);
  } catch (err) {
    throw err instanceof DomainError ? domainToConnect(err) : err;
  }
}

/** A compression whose decompressed messages are held to the body limit, refused as a body past it. */
function withinLimit(compression: Compression, limit: number): Compression {
  return {
    name: compression.name,
    compress: (bytes) => compression.compress(bytes),
    // connect-node answers resource_exhausted for an output past the bound, and for nothing else.
    decompress: (bytes) =>
      compression.decompress(bytes, limit).catch((err: unknown) => {
        throw ConnectError.from(err).code === Code.ResourceExhausted ? domainToConnect(bodyTooLarge(limit)) : err;
      }),
  };
}
