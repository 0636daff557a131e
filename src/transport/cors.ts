// Browsers: which origins may call this server (CORS_ORIGINS; none but its
// own by default), and no writes from any other.
//
// A page can send a POST to any origin without a preflight (a form, or fetch
// with text/plain), and the browser names the page's origin in `Origin`. So a
// write (any method but GET, HEAD and OPTIONS) whose Origin is neither this
// server's own nor allowed is refused before anything is read or applied,
// with authentication on or off. Clients that are not browsers send no
// Origin and are not concerned. The panel is served from this port, so its
// writes carry this server's own origin: scheme and Host as the browser saw them.
import type { IncomingHttpHeaders } from "node:http";
import { Code, ConnectError, cors as connectCors } from "@connectrpc/connect";
import { sendJson } from "./http-json.js";
import type { Req, Res } from "./http-types.js";
import { refuseCall } from "./rpc/connect-protocol.js";
import { drainRest } from "./unread-body.js";

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Adds CORS headers for allowed origins; answers preflights itself (returns true). */
export function applyCors(origins: string[], req: Req, res: Res): boolean {
  const origin = req.headers.origin;
  if (typeof origin !== "string" || !allowed(origins, origin)) return false;
  const any = origins.includes("*");
  res.setHeader("access-control-allow-origin", any ? "*" : origin);
  if (!any) res.setHeader("vary", "origin");
  res.setHeader("access-control-expose-headers", [...connectCors.exposedHeaders, "Idempotent-Replayed"].join(", "));
  if (req.method !== "OPTIONS" || !req.headers["access-control-request-method"]) return false;
  res.writeHead(204, {
    "access-control-allow-methods": [...connectCors.allowedMethods, "PUT", "DELETE"].join(", "),
    "access-control-allow-headers": [...connectCors.allowedHeaders, "Authorization", "Idempotency-Key"].join(", "),
    "access-control-max-age": "7200",
  });
  res.end();
  return true;
}

/** CORS_ORIGINS entries are normalized origins (lower case, no default port), as browsers send them. */
const allowed = (origins: string[], origin: string) => origins.includes("*") || origins.includes(origin.toLowerCase());

/** Whether `origin` is this server's own, as reached through `host` (the Host header, or HTTP/2's :authority). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    // The scheme is the page's (a proxy may have ended TLS); URL drops a default port on both sides.
    const page = new URL(origin);
    return (page.protocol === "http:" || page.protocol === "https:") && new URL(`${page.protocol}//${host}`).origin === page.origin;
  } catch {
    return false;
  }
}

/** The host a request names: its Host header, or HTTP/2's :authority. */
export const requestHost = (headers: IncomingHttpHeaders) => headers.host ?? (headers[":authority"] as string | undefined);

/** The origin of a write that may not be made from it (a page elsewhere), or undefined. */
export function foreignWriteOrigin(origins: string[], method: string | undefined, headers: IncomingHttpHeaders): string | undefined {
  const origin = headers.origin;
  if (origin === undefined || READS.has(method ?? "GET")) return undefined;
  if (allowed(origins, origin)) return undefined;
  return sameOrigin(origin, requestHost(headers)) ? undefined : origin;
}

/**
 * Refuses a write from a foreign origin (returns true), before its body is
 * read: a call in its protocol's permission_denied form, anything else as a
 * REST 403.
 */
export function refuseForeignWrite(origins: string[], req: Req, res: Res, isProcedure: boolean): boolean {
  const origin = foreignWriteOrigin(origins, req.method, req.headers);
  if (origin === undefined) return false;
  refuseUnread(req, res, isProcedure, "origin_not_allowed", `writes from origin ${origin} are refused: only this server's own origin and CORS_ORIGINS may write`);
  return true;
}

/** Refuses a request before its body is read: a call in its protocol's permission_denied form, anything else as a REST 403. */
export function refuseUnread(req: Req, res: Res, isProcedure: boolean, restCode: string, message: string): void {
  drainRest(req);
  if (isProcedure) refuseCall(req, res, new ConnectError(message, Code.PermissionDenied));
  else sendJson(res, 403, { status: "error", code: restCode, message });
}
