// Tracing (observe/tracing.ts) wired to the calls: a call whose span is
// sampled runs on operations of its own, over a store whose every operation
// is a child span of the call's; calls not sampled, and every call while
// tracing is off, run on the server's shared operations. RPC handlers find
// their call's operations in its context values (service/operations.ts);
// REST routes in their route context.
import type { IncomingHttpHeaders } from "node:http";
import type { Interceptor } from "@connectrpc/connect";
import type { Span } from "@opentelemetry/api";
import type { Tracing } from "../observe/tracing.js";
import { callOperations, type Operations } from "../service/operations.js";
import type { Store } from "../store/store.js";

/** A REST call's span: the operations it runs on, and its end with the answer's status. */
export interface TracedRoute {
  ops: Operations;
  end(status: number, sessionId?: string): void;
}

/** A route's span and operations; undefined when the call is not sampled (it runs on the server's). */
export type RouteTracer = (method: string, route: string, headers: IncomingHttpHeaders) => TracedRoute | undefined;

export interface TracedCalls {
  interceptor: Interceptor;
  route: RouteTracer;
}

/** `operationsOver(store)` builds operations over a store, sharing the server's caches. */
export function tracedCalls(tracing: Tracing, store: Store, operationsOver: (store: Store) => Operations): TracedCalls {
  const opsFor = (span: Span) => operationsOver(tracing.storeFor(span, store));
  return {
    interceptor: tracing.interceptor((span, values) => values.set(callOperations, opsFor(span))),
    route(method, route, headers) {
      const call = tracing.rest(method, route, headers);
      return call && { ops: opsFor(call.span), end: call.end };
    },
  };
}
