// The interceptors every call goes through, on the fast path (./rpc) and on
// connect-node alike: authentication, and the one record of how each call
// went (its error mapped once, ./connect-errors.ts; its metric and log line,
// observe/calls.ts).
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
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
    req.contextValues.set(principalKey, auth.authenticate(req.header.get("authorization"), req.contextValues.get(peerKey)));
    return next(req);
  };
}

/** Maps the errors of unary and streaming calls, and records each call's outcome. */
export function callInterceptor(log: Logger, observe: CallObserver): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const procedure = req.method.name;
    const protocol = (req as { protocolName?: Protocol }).protocolName ?? protocolOf(req.header.get("content-type"));
    const done = (code: string) => {
      const declared = req.stream ? undefined : (req.message as { actor?: string }).actor;
      const actor = req.contextValues.get(principalKey)?.actor ?? (declared || undefined);
      observe({ protocol, procedure, code, ms: performance.now() - started, actor });
    };
    const fail = (err: unknown) => {
      // A client that went away mid-stream is a cancellation, not a fault of ours. An error the call
      // answered itself keeps its code, also once the signal is aborted (the server shutting down).
      const answered = err instanceof DomainError || err instanceof ConnectError;
      const gone = !answered && (req.signal.aborted || (err as { code?: string })?.code === "ERR_STREAM_PREMATURE_CLOSE");
      const ce = gone ? new ConnectError("the client went away", Code.Canceled) : toConnectError(err, log, procedure);
      done(codeName(ce.code));
      return ce;
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        done("ok");
        return res;
      }
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
            done("ok");
          } catch (err) {
            throw fail(err);
          }
        })(),
      };
    } catch (err) {
      throw fail(err);
    }
  };
}
