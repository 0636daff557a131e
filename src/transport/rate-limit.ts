// Per-caller rate limits (service/rate-limits.ts) at the edge of every RPC:
// after authentication, before the implementation, so that a refused call
// reads and applies nothing. REST routes call the same limiter themselves.
import type { Interceptor } from "@connectrpc/connect";
import { principalKey } from "../auth.js";
import type { RateLimiter } from "../service/rate-limits.js";
import { peerKey } from "./peer.js";

export function rateLimitInterceptor(limiter: RateLimiter): Interceptor {
  return (next) => async (req) => {
    const peer = req.contextValues.get(peerKey);
    limiter.admit(req.method.name, { principal: req.contextValues.get(principalKey), certificate: peer?.certificate, address: peer?.address ?? "" });
    return next(req);
  };
}
