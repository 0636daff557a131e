// The gRPC load generator for writes: h2load repeats one body, so every write
// after the first would repeat the value just written. This client cycles
// through distinct pre-encoded gRPC frames instead, so every call can be a
// real change. `c` connections x `m` streams (h2-connection.mjs: raw HTTP/2
// frames on a TCP socket, since node:http2's client costs as much CPU per
// call as the servers it should saturate), in a process of its own that the
// driver pins to core 1.
//   node bench/grpc-load.mjs '<json options>'
// options: url (http://host:port), path, frames (a file of gRPC frames, each
//   5-byte prefix + message, concatenated; sent in turn, from the first),
//   c, m, and n (calls) or durationS (a warm-up: as many as fit), optional
//   rps (the whole run's rate: calls start at t0 + i / rps when a stream is
//   free, instead of as fast as possible), timeoutMs (per call).
// Prints one line, RESULT {calls, errors, seconds, rps, p50Ms, p99Ms, statuses,
//   clientBusyPct}: calls that ended well (see h2-connection.mjs), and every
//   other outcome counted by kind in `statuses`.
// Exits when its stdin closes (the driver is gone).
import { readFileSync } from "node:fs";
import { H2Connection, requestHeaders } from "./h2-connection.mjs";
import { Latencies } from "./latencies.mjs";

const o = JSON.parse(process.argv[2]);
process.stdin.on("close", () => process.exit(1)).resume();

const file = readFileSync(o.frames);
const frames = [];
for (let at = 0; at < file.length; ) {
  const end = at + 5 + file.readUInt32BE(at + 1);
  frames.push(file.subarray(at, end));
  at = end;
}
if (frames.length === 0) throw new Error(`${o.frames} holds no gRPC frame`);

const limit = o.n ?? Infinity;
let sent = 0;
let errors = 0;
const statuses = {};
/** Of the calls that ended well. */
const latencies = new Latencies();

function onEnd(_connection, failure, started) {
  if (failure === undefined) latencies.record(performance.now() - started);
  else {
    errors++;
    statuses[failure] = (statuses[failure] ?? 0) + 1;
  }
  pump();
}

// An integer of at most 8 digits, or a strict server (grpc-go: etcd) resets the stream.
const timeout = ["grpc-timeout", `${Math.min(99_999_999, Math.ceil(o.timeoutMs ?? 10_000))}m`];
const headerBlock = requestHeaders(new URL(o.url).host, o.path, [timeout]);
const connections = await Promise.all(Array.from({ length: o.c }, () => H2Connection.connect(o.url, headerBlock, onEnd)));
let next = 0; // the connection that takes the next call (round robin over those with a free stream)
let stopAt = Infinity;
let resolveDone;
const done = new Promise((r) => (resolveDone = r));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
if (o.durationS) stopAt = t0 + o.durationS * 1000;

let timer;
/** Starts every call that is due and has a free stream; ends the run when nothing is left. */
function pump() {
  const now = performance.now();
  const more = sent < limit && now < stopAt;
  while (sent < limit && performance.now() < stopAt) {
    if (o.rps) {
      const due = t0 + (sent * 1000) / o.rps;
      if (due > now) {
        timer ??= setTimeout(() => {
          timer = undefined;
          pump();
        }, due - now);
        break;
      }
    }
    let conn = -1;
    for (let i = 0; i < o.c; i++) {
      const k = (next + i) % o.c;
      if (connections[k].open && connections[k].inflight < o.m) {
        conn = k;
        break;
      }
    }
    if (conn < 0) break;
    next = (conn + 1) % o.c;
    connections[conn].call(frames[sent++ % frames.length]);
  }
  const idle = connections.every((c) => c.inflight === 0);
  // Done when nothing is left to send, or nowhere to send it (every connection gone: its calls failed).
  if (idle && (!more || connections.every((c) => !c.open))) resolveDone();
}
pump();
await done;
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const { p50Ms, p99Ms } = latencies.summary();
process.stdout.write(
  `RESULT ${JSON.stringify({
    calls: latencies.count,
    errors,
    seconds,
    rps: latencies.count / seconds,
    p50Ms,
    p99Ms,
    statuses,
    clientBusyPct: Math.round((100 * (cpu.user + cpu.system)) / 1000 / (seconds * 1000)),
  })}\n`,
);
for (const c of connections) c.close();
process.exit(0);
