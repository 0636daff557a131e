// Bounds on what one HTTP/2 connection can cost the server (SPEC §4's spirit:
// every resource a client can hold is bounded):
//   - a connection with no open stream is closed after HTTP_IDLE_TIMEOUT_MS,
//     and a new one must open its first stream within HTTP_REQUEST_TIMEOUT_MS
//     (which also ends headers dripped a byte at a time: they never make a stream);
//   - a stream's request must have arrived whole within HTTP_REQUEST_TIMEOUT_MS;
//   - streams the client resets before they were answered are counted per
//     connection and in total, per second; past either cap the connection gets
//     GOAWAY (ENHANCE_YOUR_CALM) and is closed (the HTTP/2 "rapid reset"
//     attack; cancelling answered streams, such as watches, is not counted);
//   - the number of concurrent streams is a SETTINGS value (HTTP2_MAX_CONCURRENT_STREAMS).
// Answers a client does not take are bounded where they are written
// (HTTP_WRITE_STALL_MS, see stream-writer.ts and rpc/grpc-unary.ts).
import http2 from "node:http2";
import type { HttpLimits } from "../config.js";

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

export type RawStreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

/** Resets per second, over all connections (one counter per process is the point). */
class ResetWindow {
  private second = 0;
  private count = 0;

  /** Counts one reset; answers whether the count this second is over `cap`. */
  add(cap: number): boolean {
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.second) {
      this.second = now;
      this.count = 0;
    }
    return ++this.count > cap;
  }
}

export interface H2Guard {
  /** Whether a session has no stream open (it may be closed to make room). */
  idle(session: http2.ServerHttp2Session): boolean;
}

/**
 * Installs the guard on an HTTP/2 server made with a request handler:
 * streams go first to `raw` (the fast path), the rest to Node's compat layer.
 */
export function guardHttp2(server: http2.Http2Server, limits: HttpLimits, raw?: RawStreamHandler): H2Guard {
  const total = new ResetWindow();
  const open = new WeakMap<http2.ServerHttp2Session, number>();

  server.on("session", (session) => {
    const resets = new ResetWindow();
    let idleTimer: NodeJS.Timeout | undefined;
    const idleFor = (ms: number) => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => session.close(), ms);
    };
    open.set(session, 0);
    idleFor(limits.requestTimeoutMs);
    session.on("error", () => {});
    session.once("close", () => clearTimeout(idleTimer));
    session.on("stream", (stream) => {
      clearTimeout(idleTimer);
      open.set(session, (open.get(session) ?? 0) + 1);
      // The request (headers are in, since this is a stream) must finish arriving in time.
      const bodyTimer = stream.readableEnded ? undefined : setTimeout(() => stream.close(NGHTTP2_CANCEL), limits.requestTimeoutMs);
      if (bodyTimer) stream.once("end", () => clearTimeout(bodyTimer));
      stream.once("aborted", () => {
        if (stream.headersSent) return;
        if (resets.add(limits.maxResetsPerSecond) || total.add(limits.maxResetsPerSecondTotal)) {
          session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
          session.destroy();
        }
      });
      stream.once("close", () => {
        clearTimeout(bodyTimer);
        const left = (open.get(session) ?? 1) - 1;
        open.set(session, left);
        if (left === 0 && !session.destroyed) idleFor(limits.idleTimeoutMs);
      });
    });
  });

  if (raw) {
    // Node's compat layer listens to "stream" and builds request/response objects for every
    // stream; the fast path must come first and, when it takes a stream, be the only one.
    const compat = server.listeners("stream");
    if (compat.length !== 1) throw new Error("expected exactly one compat stream listener on the HTTP/2 server");
    const onCompat = compat[0] as (...args: unknown[]) => void;
    server.removeListener("stream", onCompat);
    server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
      if (!raw(stream, headers)) onCompat.call(server, stream, headers, ...rest);
    });
  }

  return { idle: (session) => (open.get(session) ?? 0) === 0 };
}
