// Bounds on what one HTTP/2 connection can cost the server (SPEC §4's spirit:
// every resource a client can hold is bounded):
//   - a connection with no open stream is closed after HTTP_IDLE_TIMEOUT_MS,
//     and a new one must open its first stream within HTTP_REQUEST_TIMEOUT_MS
//     (which also ends headers dripped a byte at a time: they never make a stream);
//   - a stream's request must have arrived whole within HTTP_REQUEST_TIMEOUT_MS;
//   - streams the client resets before they were answered, or before it
//     finished sending their request, are counted per connection and in total,
//     per second; past either cap the connection gets GOAWAY (ENHANCE_YOUR_CALM)
//     and is closed, and past the total cap new HTTP/2 connections are refused
//     for a second (the HTTP/2 "rapid reset" attack; cancelling an answered
//     call, such as a watch, is not counted);
//   - the number of concurrent streams is a SETTINGS value (HTTP2_MAX_CONCURRENT_STREAMS);
//   - a request's decoded header list is bounded like HTTP/1.1's headers (MAX_HEADER_LIST_BYTES):
//     a small HPACK block can reference one big dynamic-table entry a hundred times.
//   - a stream whose answer the client does not take (its window kept shut) is reset after
//     HTTP_WRITE_STALL_MS without progress (write-stall.ts), whichever path wrote it.
// The server's own resets (these two) are not the client's: they never count toward its cap.
import http2 from "node:http2";
import type net from "node:net";
import type { HttpLimits } from "../config.js";
import type { AbuseLog } from "./abuse-log.js";
import { deferDestroy, ended, endSession } from "./h2-session-end.js";
import type { WriteStalls } from "./write-stall.js";

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;
/**
 * The decoded header list a request may carry: HTTP/1.1's bound (Node's 16 KiB of header
 * bytes), plus the 32 bytes HTTP/2 counts per field (RFC 9113 §6.5.2) for Node's 128 fields.
 */
export const MAX_HEADER_LIST_BYTES = 16 * 1024 + 32 * 128;

function ignore(): void {}

/** How long an idle connection's GOAWAY gets to leave before its socket is closed. */
const GOAWAY_FLUSH_MS = 100;
/**
 * How long a client gets to close its side after our last GOAWAY. Closing ours first, with its
 * streams still arriving, would reset the connection, and a reset can discard the GOAWAY that
 * tells the client which of its requests were never processed.
 */
const FIN_WAIT_MS = 1000;

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

interface SessionGuard {
  /** Streams open now: an idle session (none) may be closed. */
  open: number;
  resets: ResetWindow;
  /** The client has reset a stream: its new streams are taken a turn later (see admit). */
  suspect: boolean;
  idleTimer?: NodeJS.Timeout;
  /** Closes the session if no stream opens within `ms`. */
  idleFor(ms: number): void;
}

export interface H2Guard {
  /** Whether a session has no stream open (it may be closed to make room). */
  idle(session: http2.ServerHttp2Session): boolean;
  /**
   * Whether new HTTP/2 connections are refused at once: for a second after the
   * global reset cap tripped. A rapid-reset attacker that reconnects would
   * otherwise cost a session and a buffer of streams per connection; clients on
   * HTTP/1.1 (health checks, REST, Connect) and HTTP/2 connections already open are served.
   */
  refusing(): boolean;
}

/** What every tracked stream of one server shares (see TrackedStream). */
interface StreamRules {
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  onReset: (session: http2.Http2Session, guard: SessionGuard) => void;
  stalls: WriteStalls;
}

const TRACKED = Symbol("tracked stream");
type Tracked = http2.ServerHttp2Stream & { [TRACKED]?: TrackedStream };

/**
 * One live stream's bounds: its request must arrive in time, its answer must not stall, and a
 * reset by the client counts toward its caps. One object per stream; the listeners are shared
 * functions that find it on the stream ("end", "aborted" and "close" are each emitted once).
 */
class TrackedStream {
  private resetByUs = false;
  /** The request has arrived whole (its headers are in, since this is a stream). */
  private requestDone: boolean;
  /** The client reset the stream before its answer began. */
  private unanswered = false;
  private readonly bodyTimer?: NodeJS.Timeout;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly session: http2.Http2Session,
    private readonly guard: SessionGuard,
    private readonly rules: StreamRules,
  ) {
    (stream as Tracked)[TRACKED] = this;
    this.requestDone = stream.endAfterHeaders;
    if (!this.requestDone) this.bodyTimer = setTimeout(resetTracked, rules.requestTimeoutMs, stream);
    stream.on("end", onTrackedEnd);
    rules.stalls.watch(stream, () => this.reset());
    // A stream the client resets before its answer began is counted; so is one it resets before
    // it finished sending its request (a rapid-reset attacker sends no END_STREAM), answered or
    // not: a path that answers at once (REST, health) would answer the attacker's every stream.
    // A client that cancels a call it finished asking (a watch) is not counted.
    stream.on("aborted", onTrackedAborted);
    stream.on("close", onTrackedClose);
  }

  reset(): void {
    this.resetByUs = true;
    this.stream.close(NGHTTP2_CANCEL);
  }

  ended(): void {
    this.requestDone = true;
    clearTimeout(this.bodyTimer);
  }

  aborted(): void {
    this.unanswered = !this.stream.headersSent;
  }

  closed(): void {
    const { stream, session, guard, rules } = this;
    clearTimeout(this.bodyTimer);
    const unfinished = !this.requestDone && stream.rstCode !== NGHTTP2_NO_ERROR;
    if (!this.resetByUs && (this.unanswered || unfinished)) rules.onReset(session, guard);
    if (--guard.open === 0 && !session.destroyed) guard.idleFor(rules.idleTimeoutMs);
  }
}

function resetTracked(stream: Tracked): void {
  stream[TRACKED]?.reset();
}
function onTrackedEnd(this: Tracked): void {
  this[TRACKED]?.ended();
}
function onTrackedAborted(this: Tracked): void {
  this[TRACKED]?.aborted();
}
function onTrackedClose(this: Tracked): void {
  this[TRACKED]?.closed();
}

/** The HTTP/2 server's settings: the bounds a conforming client is told of in SETTINGS. */
export function http2Options(limits: HttpLimits): http2.ServerOptions {
  return {
    settings: { initialWindowSize: 4 * 1024 * 1024, maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: MAX_HEADER_LIST_BYTES },
    maxSessionRejectedStreams: limits.maxConcurrentStreams,
  };
}

/** A header list's size as HTTP/2 counts it: names, values and 32 bytes per field. */
function headerListBytes(raw: string[]): number {
  let bytes = 0;
  for (let i = 0; i < raw.length; i++) bytes += raw[i]!.length;
  return bytes + 16 * raw.length;
}

/**
 * Installs the guard on an HTTP/2 server made with a request handler:
 * streams go first to `raw` (the fast path), the rest to Node's compat layer.
 */
export function guardHttp2(
  server: http2.Http2Server,
  limits: HttpLimits,
  { raw, abuse, stalls, refuses }: {
    raw?: RawStreamHandler;
    abuse?: AbuseLog;
    stalls: WriteStalls;
    /** Whether a session's streams are all refused (REFUSED_STREAM: not processed, safe to retry). */
    refuses?: (session: http2.Http2Session) => boolean;
  },
): H2Guard {
  const total = new ResetWindow();
  /** Past the global reset cap, new HTTP/2 connections are refused for a second: see refusing(). */
  let refuseUntil = 0;
  const guards = new WeakMap<http2.Http2Session, SessionGuard>();

  /** Counts one stream the client reset before it was answered; past a cap, ends the session. */
  const onReset = (session: http2.Http2Session, guard: SessionGuard) => {
    if (ended(session)) return;
    guard.suspect = true;
    const overTotal = total.add(limits.maxResetsPerSecondTotal);
    if (overTotal) refuseUntil = Date.now() + 1000;
    if (guard.resets.add(limits.maxResetsPerSecond) || overTotal) {
      abuse?.note("http2ResetFlood");
      endSession(session);
    }
  };

  // Node emits "session" from inside its own "connection" listener: this one, first, sees the socket.
  let socketOfNextSession: net.Socket | undefined;
  server.prependListener("connection", (socket: net.Socket) => (socketOfNextSession = socket));
  server.on("session", (session) => {
    // A session closed gracefully (GOAWAY, then no stream left) only half-closes its socket and
    // waits for the client's FIN, which a hostile client never sends: once our side is done, the
    // client gets FIN_WAIT_MS to close its own. A session destroyed (an abusive client) goes at once.
    const socket = socketOfNextSession;
    socketOfNextSession = undefined;
    socket?.once("finish", () => {
      if (session.closed) setTimeout(() => socket.destroy(), FIN_WAIT_MS).unref();
      else setImmediate(() => socket.destroy());
    });
    const guard: SessionGuard = {
      open: 0,
      resets: new ResetWindow(),
      suspect: false,
      idleFor(ms) {
        clearTimeout(this.idleTimer);
        this.idleTimer = setTimeout(() => {
          session.close(); // GOAWAY: no stream is open, and none is taken from now on
          // A half-received frame keeps Node's session from finishing: the socket goes once GOAWAY is out.
          setTimeout(() => socket?.destroy(), GOAWAY_FLUSH_MS).unref();
        }, ms);
      },
    };
    guards.set(session, guard);
    guard.idleFor(limits.requestTimeoutMs);
    session.on("error", ignore);
    deferDestroy(session);
    session.once("close", () => clearTimeout(guard.idleTimer));
  });

  /** Bounds one live stream's request time and unsent answer, counts its reset, and tracks the session's open streams. */
  const rules: StreamRules = { requestTimeoutMs: limits.requestTimeoutMs, idleTimeoutMs: limits.idleTimeoutMs, onReset, stalls };
  const track = (stream: http2.ServerHttp2Stream, session: http2.Http2Session, guard: SessionGuard) => {
    clearTimeout(guard.idleTimer);
    guard.open++;
    new TrackedStream(stream, session, guard, rules);
  };

  // Node's compat layer listens to "stream" and builds request/response objects for every
  // stream; the guard comes first, then the fast path, and the compat layer gets the rest.
  const compat = server.listeners("stream");
  if (compat.length !== 1) throw new Error("expected exactly one compat stream listener on the HTTP/2 server");
  const onCompat = compat[0] as (...args: unknown[]) => void;
  server.removeListener("stream", onCompat);
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
    // A stream the client resets with an error code, or that breaks a rule of HTTP/2 (a
    // content-length the DATA does not match, a WINDOW_UPDATE of 0), emits "error": unheard,
    // it would end the process. Every stream is heard here, before any path takes it.
    stream.on("error", ignore);
    const session = stream.session;
    const guard = session && guards.get(session);
    if (!session || !guard || ended(session)) return;
    // Node announces a stream from inside its loop over the bytes received, before it has read a
    // reset sent with it (rapid reset sends them together). A client that has reset streams gets
    // its new ones a turn later, when such a reset has been read: a path's objects are built for
    // a stream the client already dropped only once.
    if (guard.suspect) setImmediate(() => admit(stream, headers, rest, session, guard));
    else admit(stream, headers, rest, session, guard);
  });

  /** Counts a stream already reset (nothing is built for it), checks its headers, and gives it to its path. */
  const admit = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, rest: unknown[], session: http2.Http2Session, guard: SessionGuard) => {
    if (ended(session)) return;
    if (stream.aborted || stream.destroyed) return onReset(session, guard);
    // nghttp2 enforces MAX_HEADER_LIST_BYTES (a stream reset) only once the client has acknowledged
    // our SETTINGS; a block that arrives before is measured here, and, as HTTP/1.1 closes the
    // connection after its 431, costs the client its connection.
    if (session.pendingSettingsAck && headerListBytes(rest[1] as string[]) > MAX_HEADER_LIST_BYTES) {
      abuse?.note("http2HeadersTooLarge");
      stream.close(NGHTTP2_ENHANCE_YOUR_CALM);
      return endSession(session);
    }
    if (refuses?.(session)) return void stream.close(NGHTTP2_REFUSED_STREAM);
    track(stream, session, guard);
    if (!raw?.(stream, headers)) onCompat.call(server, stream, headers, ...rest);
  };

  return { idle: (session) => (guards.get(session)?.open ?? 0) === 0, refusing: () => Date.now() < refuseUntil };
}
