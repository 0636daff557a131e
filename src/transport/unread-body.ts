// What happens to a request body the server answers before reading it all
// (a body over MAX_BODY_BYTES). Many clients send the whole body before they
// read the answer; if the server stops reading and closes, they see a reset
// instead of the 413. So the rest is read and thrown away, up to a bound,
// and the HTTP/1.1 connection then serves the next request. Past the bound
// (bytes or time) the connection is closed, so a client cannot stream into
// the server forever.
import type { Req, Res } from "./http-types.js";

export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
export const DRAIN_MAX_MS = 10_000;

const draining = new WeakSet<object>();

/** Discards the rest of `req`'s body within the bounds; closes the connection past them. */
export function drainRest(req: Req, already = 0): void {
  // A declared body past the bound is not waited for: the answer closes the connection.
  if (req.complete || draining.has(req) || Number(req.headers["content-length"]) > DRAIN_MAX_BYTES) return;
  draining.add(req);
  // Destroying the request closes an HTTP/1.1 connection, or resets just this HTTP/2 stream.
  const stop = () => req.destroy();
  const timer = setTimeout(stop, DRAIN_MAX_MS);
  let discarded = already;
  req.on("data", (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DRAIN_MAX_BYTES) stop();
  });
  req.once("end", () => clearTimeout(timer));
  req.once("close", () => clearTimeout(timer));
  req.resume();
}

/**
 * An HTTP/1.1 answer sent before the body was read must not leave the rest
 * of the body in the way of the next request: unless the body is being
 * drained within bounds, the answer closes the connection. A declared body
 * within `limit` is left to Node, which discards the rest itself (bounded),
 * so the common request pays nothing here.
 */
export function closeIfAnsweredEarly(req: Req, res: Res, limit: number): void {
  if (req.httpVersionMajor !== 1 || req.method === "GET" || req.method === "HEAD") return;
  if (Number(req.headers["content-length"]) <= limit) return;
  const writeHead = res.writeHead;
  res.writeHead = function (this: Res, ...args: Parameters<Res["writeHead"]>) {
    if (!req.complete && !draining.has(req)) res.setHeader("connection", "close");
    return writeHead.apply(this, args);
  } as Res["writeHead"];
}
