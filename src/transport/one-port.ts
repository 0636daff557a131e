// One TCP port for every protocol: each new connection is peeked at, and a
// connection that opens with the HTTP/2 preface (gRPC, h2c prior knowledge)
// goes to the HTTP/2 server, anything else to the HTTP/1.1 server. Node's
// http2 module only negotiates HTTP/1.1 fallback over TLS, hence this.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const FIRST_BYTES_TIMEOUT_MS = 10_000;

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

export interface OnePortServer {
  port: number;
  /** Stops accepting, lets requests in flight finish, then closes every connection. */
  close(graceMs: number): Promise<void>;
}

export async function listenOnePort(
  handler: Handler,
  host: string,
  port: number,
  firstBytesTimeoutMs = FIRST_BYTES_TIMEOUT_MS,
): Promise<OnePortServer> {
  const h1 = http.createServer(handler);
  // h1 never listens itself; "listening" starts its connection tracking, which
  // enforces request timeouts and lets closeIdleConnections() find keep-alive sockets.
  h1.emit("listening");
  const h2 = http2.createServer(
    {
      // Larger windows keep many small concurrent gRPC calls from stalling on flow control.
      settings: { initialWindowSize: 4 * 1024 * 1024, maxConcurrentStreams: 1000 },
    },
    handler,
  );
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    session.on("error", () => {});
  });

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let seen = Buffer.alloc(0);
    // A connection that never says which protocol it speaks must not hold a socket forever.
    const silent = () => socket.destroy();
    socket.setTimeout(firstBytesTimeoutMs, silent);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && seen.length < PREFACE.length && seen.length < 4) return; // too short to tell "PRI" from "PUT"
      socket.off("data", onData);
      socket.setTimeout(0);
      socket.off("timeout", silent);
      socket.pause();
      socket.unshift(seen);
      (isH2 ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    };
    socket.on("data", onData);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });

  return {
    port: (server.address() as net.AddressInfo).port,
    async close(graceMs: number) {
      server.close();
      h1.close();
      h1.closeIdleConnections();
      for (const session of sessions) session.close();
      const deadline = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < deadline) {
        h1.closeIdleConnections();
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const socket of sockets) socket.destroy();
    },
  };
}
