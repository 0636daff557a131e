// The interceptors every call goes through, on the fast path (./rpc) and on
// connect-node alike: authentication, and the one record of how each call
// went (its error mapped once, ./connect-errors.ts; its metric and log line,
// observe/calls.ts).
import { Code, ConnectError, type ContextValues, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import { principalKey, type Authenticator } from "../auth.js";
import { DomainError } from "../domain/errors.js";
import { protocolOf, type CallObserver, type Protocol } from "../observe/calls.js";
import type { Logger } from "../observe/log.js";
import { toConnectError } from "./connect-errors.js";
import { peerKey } from "./peer.js";
import { codeName } from "./rpc/connect-protocol.js";

/** Authenticates every call and leaves the caller in the context values for the handlers. */
export function authInterceptor(auth: Authenticator): Interceptor {
  return (next) => async (req) => {
    // The fast path's request reads the one header without building the request's Headers.
    const fast = req as { headerValue?: (name: string) => string | undefined };
    const authorization = fast.headerValue ? (fast.headerValue("authorization") ?? null) : req.header.get("authorization");
    req.contextValues.set(principalKey, auth.authenticate(authorization, req.contextValues.get(peerKey)));
    return next(req);
  };
}

/** Maps the errors of unary and streaming calls, and records each call's outcome. */
export function callInterceptor(log: Logger, observe: CallObserver): Interceptor {
  // Per call: the record below and the promise of this function, nothing else unless the call streams or fails.
  const record = (req: UnaryRequest | StreamRequest, protocol: Protocol, started: number, code: string) => {
    const declared = req.stream ? undefined : (req.message as { actor?: string }).actor;
    // The fast path's request says whether anything (authentication) has made the values; reading them would make them.
    const values = "existingValues" in req ? (req.existingValues as ContextValues | undefined) : req.contextValues;
    const actor = values?.get(principalKey)?.actor ?? (declared || undefined);
    observe({ protocol, procedure: req.method.name, code, ms: performance.now() - started, actor });
  };
  const fail = (req: UnaryRequest | StreamRequest, protocol: Protocol, started: number, err: unknown) => {
    // A client that went away mid-stream is a cancellation, not a fault of ours. An error the call
    // answered itself keeps its code, also once the signal is aborted (the server shutting down).
    const answered = err instanceof DomainError || err instanceof ConnectError;
    const gone = !answered && (req.signal.aborted || (err as { code?: string })?.code === "ERR_STREAM_PREMATURE_CLOSE");
    const ce = gone ? new ConnectError("the client went away", Code.Canceled) : toConnectError(err, log, req.method.name);
    record(req, protocol, started, codeName(ce.code));
    return ce;
  };
  return (next) => async (req) => {
    const started = performance.now();
    const protocol = (req as { protocolName?: Protocol }).protocolName ?? protocolOf(req.header.get("content-type"));
    try {
      const res = await next(req);
      if (!res.stream) {
        record(req, protocol, started, "ok");
        return res;
      }
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
            record(req, protocol, started, "ok");
          } catch (err) {
            throw fail(req, protocol, started, err);
          }
        })(),
      };
    } catch (err) {
      throw fail(req, protocol, started, err);
    }
  };
}
