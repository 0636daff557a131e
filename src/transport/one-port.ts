// One TCP port for every protocol: each new connection is peeked at, and a
// connection that opens with the HTTP/2 preface (gRPC, h2c prior knowledge)
// goes to the HTTP/2 server, anything else to the HTTP/1.1 server. Node's
// http2 module only negotiates HTTP/1.1 fallback over TLS, hence this. With
// TLS (tls.ts) the handshake comes first, and the protocol ALPN negotiated
// decides (a client that offers none gets HTTP/1.1, TLS's default).
//
// It also owns the connections: their number is capped below the file
// descriptor limit (the oldest idle one makes room), each protocol's time
// limits apply (see h2-guard.ts for HTTP/2), a connection that takes nothing
// written to it is closed (write-stall.ts), and close() drains gracefully:
// HTTP/1.1 answers carry Connection: close and idle keep-alive connections
// are closed between requests; HTTP/2 sessions get GOAWAY and finish their
// open streams; connections accepted meanwhile are refused in a way that says
// nothing was done (503, REFUSED_STREAM), and the listener closes once no more
// come.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type tls from "node:tls";
import type { HttpLimits } from "../config.js";
import type { Logger } from "../observe/log.js";
import { AbuseLog } from "./abuse-log.js";
import { sendJson } from "./http-json.js";
import { guardHttp2, http2Options, type RawStreamHandler } from "./h2-guard.js";
import type { TlsTerminator } from "./tls.js";
import { WriteStalls } from "./write-stall.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** HTTP/1.1 requests one connection may have in flight (pipelined); past it, the connection is closed. */
const MAX_PIPELINED = 16;
/**
 * On shutdown, how many turns of the event loop (each polls for connections), and at least how
 * long, must pass with no new connection before the listener closes. Counted in turns, not only
 * time: a loop busy for a second has accepted nothing meanwhile, yet its queue may be full.
 */
const LISTEN_QUIET_TURNS = 10;
const LISTEN_QUIET_MS = 200;
/** On shutdown, how long an HTTP/1.1 connection must have been quiet before it is closed between requests. */
const DRAIN_QUIET_MS = 2000;
/** On shutdown, how long an HTTP/2 client gets to answer the PING after the first GOAWAY. */
const DRAIN_PING_MS = 200;

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

export interface OnePortServer {
  port: number;
  /** Stops accepting, lets requests in flight finish, then closes every connection. */
  close(graceMs: number): Promise<void>;
}

export interface OnePortOptions {
  http: HttpLimits;
  /** Takes HTTP/2 streams before the request/response layer (the gRPC fast path). */
  rawStream?: RawStreamHandler;
  /** Hears, in summary, the connections closed or refused to protect the server. */
  log?: Logger;
  /** TLS on this port; cleartext without. */
  tls?: TlsTerminator;
}

/** What is known of one connection, for the cap and for shutdown. */
interface Connection {
  /** The TCP connection accepted. */
  socket: net.Socket;
  /** What HTTP reads and writes: the TLS socket once the handshake is done, else `socket`. */
  app: net.Socket;
  /** A connection that has no request in flight may be closed without losing one. */
  idle(): boolean;
  protocol: "unknown" | "h1" | "h2";
  session?: http2.ServerHttp2Session;
}

/**
 * HTTP/2's graceful shutdown: a first GOAWAY that still accepts every stream,
 * then, once a PING has gone round (so the client has seen that GOAWAY and
 * sent every stream it started before), the final GOAWAY with the last stream
 * taken. Streams in flight finish; the client opens no more on this connection.
 */
function drainSession(session: http2.ServerHttp2Session): void {
  if (session.closed || session.destroyed) return;
  const close = () => {
    if (!session.closed && !session.destroyed) session.close();
  };
  session.goaway(http2.constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1);
  // Node's own client, once told to go away, closes without answering the PING: not for long.
  if (!session.ping(close)) close();
  setTimeout(close, DRAIN_PING_MS).unref();
}

function ignore(): void {}

function destroy(c: Connection): void {
  c.app.destroy();
  c.socket.destroy();
}

/**
 * Every request and response object is heard for "error" before any path takes it: a client
 * that goes away or breaks the protocol must cost its own request, never the process.
 */
function heard(handler: Handler): Handler {
  return (req, res) => {
    req.on("error", ignore);
    res.on("error", ignore);
    handler(req, res);
  };
}

export async function listenOnePort(served: Handler, host: string, port: number, options: OnePortOptions): Promise<OnePortServer> {
  const handler = heard(served);
  const limits = options.http;
  /**
   * Set once close() has begun: HTTP/2 sessions get GOAWAY, every HTTP/1.1 answer says
   * Connection: close, and connections accepted from then on are refused.
   */
  let closing = false;
  /** Connections (their sockets and HTTP/2 sessions) accepted after close() began: every request is refused, retry-safe. */
  const refused = new WeakSet<object>();
  const abuse = new AbuseLog(options.log);
  const inFlight = new WeakMap<net.Socket, number>();
  /** When each connection was accepted or last finished an answer: a busy client sends its next request within moments. */
  const lastActive = new WeakMap<net.Socket, number>();
  const h1 = http.createServer(
    {
      headersTimeout: limits.requestTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      // How often Node checks the two timeouts above; the default (30 s) would let a slow client overstay.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.requestTimeoutMs / 2)),
    },
    (req, res) => {
      const socket = req.socket;
      if (refused.has(socket)) return refuse(res);
      const pending = (inFlight.get(socket) ?? 0) + 1;
      // Node parses every request of a chunk at once: a client that pipelines hundreds of reads of
      // a big map in one packet would have them all answered (and held) at once.
      if (pending > MAX_PIPELINED) {
        if (!socket.destroyed) abuse.note("http1PipelineFlood");
        return void socket.destroy();
      }
      inFlight.set(socket, pending);
      res.once("close", () => {
        inFlight.set(socket, (inFlight.get(socket) ?? 1) - 1);
        lastActive.set(socket, Date.now());
      });
      // Once closing, every answer tells the client not to send another request on this connection.
      if (closing) res.setHeader("connection", "close");
      handler(req, res);
    },
  );
  // h1 never listens itself; "listening" starts its connection tracking, which
  // enforces the timeouts above and lets closeIdleConnections() find keep-alive sockets.
  h1.emit("listening");
  const h2 = http2.createServer(http2Options(limits), handler);
  const stalls = new WriteStalls(limits.writeStallMs);
  const guard = guardHttp2(h2, limits, { raw: options.rawStream, abuse, stalls, refuses: (session) => refused.has(session) });
  const connections = new Set<Connection>();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    // Also a connection accepted before close() whose preface comes after it began.
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (closing) drainSession(session);
  });

  /** At the cap: the oldest idle connection makes room; if none is idle, the new one is refused. */
  const makeRoom = (): boolean => {
    if (connections.size < limits.maxConnections) return true;
    for (const c of connections) {
      if (c.idle()) {
        abuse.note("idleClosedAtCap");
        destroy(c);
        connections.delete(c);
        return true;
      }
    }
    return false;
  };

  /** Hands a connection to the HTTP server of its protocol (known from ALPN over TLS, else peeked at). */
  const route = (connection: Connection, negotiated?: "h2" | "http/1.1") => {
    const app = connection.app;
    if (refused.has(connection.socket)) refused.add(app);
    lastActive.set(app, Date.now());
    // A client that takes nothing of what is written to it (HTTP/1.1 answers, or HTTP/2 frames).
    stalls.watch(app, () => app.destroy(), { socket: true });
    const hand = (isH2: boolean) => {
      if (isH2 && guard.refusing()) {
        abuse.note("http2RefusedAfterResetFlood");
        return void app.destroy();
      }
      connection.protocol = isH2 ? "h2" : "h1";
      if (isH2) {
        h2.once("session", (s: http2.ServerHttp2Session) => {
          connection.session = s;
          if (refused.has(connection.socket)) refused.add(s);
        });
      }
      (isH2 ? h2 : h1).emit("connection", app);
    };
    if (negotiated !== undefined) return hand(negotiated === "h2");
    let seen = Buffer.alloc(0);
    // A connection that never says which protocol it speaks must not hold a socket.
    const silent = () => app.destroy();
    app.setTimeout(limits.requestTimeoutMs, silent);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && seen.length < PREFACE.length && seen.length < 4) return; // too short to tell "PRI" from "PUT"
      app.off("data", onData);
      app.setTimeout(0);
      app.off("timeout", silent);
      app.pause();
      app.unshift(seen);
      hand(isH2);
      process.nextTick(() => app.resume());
    };
    app.on("data", onData);
  };

  let accepted = 0;
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on("error", ignore);
    accepted++;
    if (closing) refused.add(socket);
    if (!makeRoom()) {
      abuse.note("connectionCap");
      return void socket.destroy();
    }
    const connection: Connection = {
      socket,
      app: socket,
      protocol: "unknown",
      idle: () =>
        connection.protocol === "unknown" ||
        (connection.protocol === "h1" ? (inFlight.get(connection.app) ?? 0) === 0 : connection.session === undefined || guard.idle(connection.session)),
    };
    connections.add(connection);
    lastActive.set(socket, Date.now());
    socket.once("close", () => connections.delete(connection));
    if (!options.tls) return route(connection);
    // The handshake is bounded by HTTP_REQUEST_TIMEOUT_MS (tls.ts).
    options.tls.accept(socket, (secure: tls.TLSSocket) => {
      secure.on("error", ignore);
      connection.app = secure;
      route(connection, secure.alpnProtocol === "h2" ? "h2" : "http/1.1");
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  // Once listening, a failed accept (out of file descriptors) is reported as "error": the
  // connection is lost, the server is not.
  server.on("error", (err) => options.log?.warn({ err }, "a connection could not be accepted"));

  return {
    port: (server.address() as net.AddressInfo).port,
    async close(graceMs: number) {
      const deadline = Date.now() + graceMs;
      const quiet = (c: Connection) => c.idle() && (lastActive.get(c.app) ?? 0) <= Date.now() - DRAIN_QUIET_MS;
      /** Closes connections with nothing in flight and quiet for DRAIN_QUIET_MS (HTTP/2 ones close themselves). */
      const closeQuiet = () => {
        for (const c of connections) {
          if (c.protocol === "h2" || !quiet(c)) continue;
          if (c.protocol === "h1") c.app.end();
          else destroy(c); // accepted, and silent since
        }
      };
      /**
       * While a client is still being answered, it may pick any connection of its pool for its next
       * request, a quiet spare one too: closing that one under it would reset the request. So quiet
       * connections close only when every one is quiet; until then a request on one is answered,
       * with Connection: close.
       */
      const allQuiet = () => [...connections].every((c) => c.protocol === "h2" || quiet(c));
      // HTTP/2 sessions are told to go away, HTTP/1.1 answers say Connection: close, and connections
      // accepted from now on are refused with an answer that says nothing was done. The listener
      // stays open until no connection has come for a while: closing it resets every connection
      // still in the kernel's accept queue, whose clients may have sent a request already.
      closing = true;
      for (const s of sessions) drainSession(s);
      let listening = true;
      let seen = accepted;
      let noneNew = { turns: 0, since: Date.now() };
      while ((listening || connections.size > 0) && Date.now() < deadline) {
        if (accepted !== seen) {
          seen = accepted;
          noneNew = { turns: 0, since: Date.now() };
        } else if (listening && ++noneNew.turns >= LISTEN_QUIET_TURNS && Date.now() - noneNew.since >= LISTEN_QUIET_MS) {
          server.close();
          listening = false;
        }
        if (allQuiet()) closeQuiet();
        await new Promise((r) => setTimeout(r, 20));
      }
      if (listening) server.close();
      for (const c of connections) destroy(c);
      stalls.stop();
    },
  };
}

/** The answer to a request on a connection accepted during shutdown: not applied, retry elsewhere. */
function refuse(res: http.ServerResponse): void {
  sendJson(res, 503, { status: "error", code: "unavailable", message: "the server is shutting down" }, { connection: "close", "retry-after": "1" });
}
