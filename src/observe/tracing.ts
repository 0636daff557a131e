// OpenTelemetry tracing, off by default, with the official SDK and its
// standard variables: OTEL_TRACES_EXPORTER=otlp turns it on and sends OTLP
// over HTTP (OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT, _HEADERS,
// _TIMEOUT), sampled by OTEL_TRACES_SAMPLER(_ARG), batched by OTEL_BSP_*,
// named by OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES; the SDK reads them.
//
// W3C Trace Context (traceparent, tracestate) is taken from every call: one
// interceptor makes the server span of every RPC (gRPC, Connect, gRPC-Web,
// on the fast paths and connect-node alike), the REST routes (SSE included)
// make theirs through rest(), and every store operation of a call is a child
// span of it. Spans carry the session id as an attribute; setting values
// never. Off, none of this is installed, so the default costs nothing.
//
// The call's span reaches its store operations explicitly, not through an
// AsyncLocalStorage context manager: on Node 20 that manager is an
// async_hooks promise hook, paid on every promise of the process, and it
// cost 50-60 % of the server's CPU per write with nothing even sampled. So a
// sampled call runs on operations of its own, over storeFor(span): the
// server wires that (transport/server.ts).
import { diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type SpanOptions, type TextMapGetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import {
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SERVICE_NAME,
} from "@opentelemetry/semantic-conventions";
import { Code, ConnectError, type ContextValues, type Interceptor } from "@connectrpc/connect";
import type { IncomingHttpHeaders } from "node:http";
import { DomainError } from "../domain/errors.js";
import type { Logger } from "./log.js";
import { protocolOf, type Protocol } from "./calls.js";

/** The session a span is about (never a value). */
export const ATTR_SESSION_ID = "codexmanager.session_id";
/** A failed store operation's domain reason (SESSION_NOT_FOUND, STORE_UNAVAILABLE, ...). */
export const ATTR_ERROR_REASON = "codexmanager.error_reason";

/** Server-side failures, as the RPC conventions count them; the rest are the client's. */
const SERVER_FAULTS = new Set([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);
const STORE_FAULTS = new Set(["STORE_UNAVAILABLE", "OUTCOME_UNKNOWN"]);
/** The store operations a call makes (subscriptions and pings are not operations of one call). */
const TRACED = new Set<string | symbol>([
  "requireActiveSession", "createSession", "getSession", "listSessions", "deleteSession", "readSettings", "readSettingsTexts",
  "readTuple", "mutate", "listHistory", "historySince", "feedHead", "readFeed", "listTuples",
]);

/** gRPC's canonical name of a code: NOT_FOUND, CANCELLED. */
const codeName = (code: Code) => (code === Code.Canceled ? "CANCELLED" : Code[code]!.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase());

const headersGetter: TextMapGetter<Headers> = {
  get: (carrier, key) => carrier.get(key) ?? undefined,
  keys: (carrier) => [...carrier.keys()],
};
/** The fast path's requests read one header without building their Headers (transport/rpc/methods.ts). */
interface FastHeaders {
  headerValue(name: string): string | undefined;
}
const fastHeadersGetter: TextMapGetter<FastHeaders> = { get: (carrier, key) => carrier.headerValue(key), keys: () => [] };
const nodeHeadersGetter: TextMapGetter<IncomingHttpHeaders> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};

/** The REST side of a call's server span. */
export interface RestSpan {
  span: Span;
  /** Ends the span with the answer's status (and the session the route named). */
  end(status: number, sessionId?: string): void;
}

export interface Tracing {
  /**
   * The server span of every RPC: the first interceptor, so that it sees the code every call ends
   * with. `sampled` is told of each span that records, with the call's context values.
   */
  interceptor(sampled: (span: Span, values: ContextValues) => void): Interceptor;
  /** The server span of a REST route (`route` as "POST /api/sessions/:sessionId/settings"); undefined when not sampled. */
  rest(method: string, route: string, headers: IncomingHttpHeaders): RestSpan | undefined;
  /** `store` as seen by one call: each operation a child span of `parent`. */
  storeFor<S extends object>(parent: Span, store: S): S;
  /** Sends what is left, within `withinMs`. */
  shutdown(withinMs?: number): Promise<void>;
}

/** A session id and scope found in a store operation's first argument (an id, or a ScopeRef / NewSession). */
function sessionOf(args: unknown[]): { sessionId?: string; scope?: string } {
  const first = args[0];
  if (typeof first === "string") return { sessionId: first };
  if (first !== null && typeof first === "object") {
    const { sessionId, scope } = first as { sessionId?: unknown; scope?: unknown };
    return { sessionId: typeof sessionId === "string" ? sessionId : undefined, scope: typeof scope === "string" ? scope : undefined };
  }
  return {};
}

function endRpc(span: Span, err?: unknown): void {
  const code = err === undefined ? undefined : ConnectError.from(err).code;
  span.setAttribute(ATTR_RPC_STATUS_CODE, code === undefined ? "OK" : codeName(code));
  if (code !== undefined) {
    span.setAttribute(ATTR_ERROR_TYPE, codeName(code));
    if (SERVER_FAULTS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: ConnectError.from(err).rawMessage });
  }
  span.end();
}

/** Tags the span with the session of a stream's first (only) request message, as the implementation reads it. */
async function* tagged<T>(messages: AsyncIterable<T>, span: Span): AsyncGenerator<T> {
  let first = true;
  for await (const message of messages) {
    if (first) {
      first = false;
      const sessionId = (message as { sessionId?: unknown }).sessionId;
      if (typeof sessionId === "string" && sessionId !== "") span.setAttribute(ATTR_SESSION_ID, sessionId);
    }
    yield message;
  }
}

const clientGone = () => new ConnectError("the client went away", Code.Canceled);

/** A response stream that ends the span when it ends; `signal` tells a client that went away (a watch then ends quietly). */
async function* traced<T>(messages: AsyncIterable<T>, span: Span, signal: () => AbortSignal): AsyncGenerator<T> {
  let ended = false;
  try {
    yield* messages;
    ended = true;
    endRpc(span, signal().aborted ? clientGone() : undefined);
  } catch (err) {
    ended = true;
    endRpc(span, err);
    throw err;
  } finally {
    // The client went away: the transport stopped taking messages.
    if (!ended) endRpc(span, clientGone());
  }
}

/** A sampled call: its span ends with the call's code, or with its response stream. */
async function recorded(span: Span, req: Parameters<Parameters<Interceptor>[0]>[0], next: Parameters<Interceptor>[0]) {
  let res;
  try {
    res = await next(req);
  } catch (err) {
    endRpc(span, err);
    throw err;
  }
  if (!res.stream) {
    endRpc(span);
    return res;
  }
  return { ...res, message: traced(res.message, span, () => req.signal) };
}

/** A span's name and start options, made once per method or route. */
interface SpanStart {
  name: string;
  options: SpanOptions;
}

export function startTracing(storeKind: string, log: Logger): Tracing {
  diag.setLogger(
    { error: (m) => log.warn({ otel: m }, "tracing"), warn: (m) => log.warn({ otel: m }, "tracing"), info: () => {}, debug: () => {}, verbose: () => {} },
    DiagLogLevel.WARN,
  );
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: "codex-session-settings" }))
    .merge(detectResources({ detectors: [envDetector] }));
  // Not registered globally: no context manager (see above), and W3C Trace Context only, through this module's propagator.
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  const tracer = provider.getTracer("codex-session-settings");
  const propagator = new W3CTraceContextPropagator();
  const dbSystem = storeKind.startsWith("redis") ? "redis" : storeKind;
  const storeSpanKind = dbSystem === "redis" ? SpanKind.CLIENT : SpanKind.INTERNAL;

  // A method's (or route's) span name and attributes, made once: a call that is not sampled
  // allocates no more than its non-recording span. (The SDK copies attributes into a span.)
  const rpcSpans = new Map<object, SpanStart[]>();
  const rpcSpanOf = (req: { service: { typeName: string }; method: { name: string } }, protocol: Protocol): SpanStart => {
    let both = rpcSpans.get(req.method);
    if (!both) {
      const name = `${req.service.typeName}/${req.method.name}`;
      const start = (system: string): SpanStart => ({ name, options: { kind: SpanKind.SERVER, attributes: Object.freeze({ [ATTR_RPC_SYSTEM_NAME]: system, [ATTR_RPC_METHOD]: name }) } });
      rpcSpans.set(req.method, (both = [start("grpc"), start("connectrpc")]));
    }
    return both[protocol === "connect" ? 1 : 0]!;
  };
  const restSpans = new Map<string, SpanStart>();
  const restSpanOf = (method: string, route: string): SpanStart => {
    let start = restSpans.get(route);
    if (!start) {
      const attributes = Object.freeze({ [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_HTTP_ROUTE]: route.slice(route.indexOf(" ") + 1) });
      restSpans.set(route, (start = { name: route, options: { kind: SpanKind.SERVER, attributes } }));
    }
    return start;
  };

  const interceptor = (sampled: (span: Span, values: ContextValues) => void): Interceptor => (next) => (req) => {
    const parent =
      "headerValue" in req ? propagator.extract(ROOT_CONTEXT, req as unknown as FastHeaders, fastHeadersGetter) : propagator.extract(ROOT_CONTEXT, req.header, headersGetter);
    const protocol: Protocol = (req as { protocolName?: Protocol }).protocolName ?? protocolOf(req.header.get("content-type"));
    const start = rpcSpanOf(req, protocol);
    const span = tracer.startSpan(start.name, start.options, parent);
    // Not sampled: nothing to record or to end, and the call goes on unwrapped.
    if (!span.isRecording()) return next(req);
    if (!req.stream) {
      const sessionId = (req.message as { sessionId?: unknown }).sessionId;
      if (typeof sessionId === "string" && sessionId !== "") span.setAttribute(ATTR_SESSION_ID, sessionId);
    } else (req as { message: AsyncIterable<unknown> }).message = tagged(req.message, span);
    sampled(span, req.contextValues);
    return recorded(span, req, next);
  };

  return {
    interceptor,

    rest(method, route, headers) {
      const parent = propagator.extract(ROOT_CONTEXT, headers, nodeHeadersGetter);
      const start = restSpanOf(method, route);
      const span = tracer.startSpan(start.name, start.options, parent);
      if (!span.isRecording()) return undefined;
      return {
        span,
        end(status, sessionId) {
          span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
          if (sessionId) span.setAttribute(ATTR_SESSION_ID, sessionId);
          if (status >= 500) {
            span.setAttribute(ATTR_ERROR_TYPE, String(status));
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        },
      };
    },

    storeFor<S extends object>(parent: Span, store: S): S {
      const context = trace.setSpan(ROOT_CONTEXT, parent);
      return new Proxy(store, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (typeof value !== "function" || !TRACED.has(prop)) return value;
          return async (...args: unknown[]) => {
            const operation = String(prop);
            const { sessionId, scope } = sessionOf(args);
            const span = tracer.startSpan(`${dbSystem} ${operation}`, {
              kind: storeSpanKind,
              attributes: {
                [ATTR_DB_SYSTEM_NAME]: dbSystem,
                [ATTR_DB_OPERATION_NAME]: operation,
                ...(sessionId && { [ATTR_SESSION_ID]: sessionId }),
                ...(scope && { "codexmanager.scope": scope }),
              },
            }, context);
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            } catch (err) {
              const reason = err instanceof DomainError ? err.reason : undefined;
              span.setAttribute(ATTR_ERROR_TYPE, reason ?? "internal");
              if (reason) span.setAttribute(ATTR_ERROR_REASON, reason);
              if (!reason || STORE_FAULTS.has(reason)) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
              throw err;
            } finally {
              span.end();
            }
          };
        },
      });
    },

    async shutdown(withinMs = 2000) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([provider.shutdown().catch(() => {}), new Promise((r) => (timer = setTimeout(r, withinMs)))]);
      clearTimeout(timer);
    },
  };
}
