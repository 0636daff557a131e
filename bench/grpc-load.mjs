// The gRPC load generator for writes: h2load repeats one body, so every write
// after the first would repeat the value just written. This client cycles
// through distinct pre-encoded gRPC frames instead, so every call can be a
// real change. Raw node:http2 (no decoding), `c` connections x `m` streams,
// in a process of its own that the driver pins to core 1.
//   node bench/grpc-load.mjs '<json options>'
// options: url (http://host:port), path, frames (a file of gRPC frames, each
//   5-byte prefix + message, concatenated; sent in turn, from the first),
//   c, m, and n (calls) or durationS (a warm-up: as many as fit), optional
//   rps (the whole run's rate: calls start at t0 + i / rps when a stream is
//   free, instead of as fast as possible), timeoutMs (per call).
// Prints one line, RESULT {calls, errors, seconds, rps, p50Ms, p99Ms, statuses,
//   clientBusyPct}: calls answered with grpc-status 0; errors are every other
//   outcome (a status, a reset, a timeout), counted by kind in `statuses`.
// Exits when its stdin closes (the driver is gone).
import http2 from "node:http2";
import { readFileSync } from "node:fs";
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

const headers = {
  ":method": "POST",
  ":path": o.path,
  "content-type": "application/grpc",
  te: "trailers",
  "grpc-timeout": `${o.timeoutMs ?? 10_000}m`,
};
const limit = o.n ?? Infinity;
let sent = 0;
let errors = 0;
const statuses = {};
/** Of the calls answered with grpc-status 0. */
const latencies = new Latencies();

function fail(kind) {
  errors++;
  statuses[kind] = (statuses[kind] ?? 0) + 1;
}

const sessions = await Promise.all(
  Array.from({ length: o.c }, () => new Promise((resolve, reject) => {
    const s = http2.connect(o.url);
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  })),
);
for (const s of sessions) s.on("error", () => {});
const inflight = new Int32Array(o.c);
let next = 0; // the connection that takes the next call (round robin over those with a free stream)
let stopAt = Infinity;
let resolveDone;
const done = new Promise((r) => (resolveDone = r));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
if (o.durationS) stopAt = t0 + o.durationS * 1000;

// One set of listeners for every stream (no closures per call); a stream carries its own fields.
function onResponse(h) {
  this.grpcStatus = h["grpc-status"];
}
function onTrailers(t) {
  this.grpcStatus = t["grpc-status"];
}
function ignore() {}
function onClose() {
  inflight[this.conn]--;
  if (this.grpcStatus === "0") latencies.record(performance.now() - this.started);
  else fail(this.grpcStatus === undefined ? `reset ${this.rstCode}` : `grpc-status ${this.grpcStatus}`);
  pump();
}

function call(conn) {
  const frame = frames[sent % frames.length];
  sent++;
  inflight[conn]++;
  const stream = sessions[conn].request(headers);
  stream.conn = conn;
  stream.started = performance.now();
  stream.grpcStatus = undefined;
  stream.on("response", onResponse).on("trailers", onTrailers).on("error", ignore).on("close", onClose);
  stream.resume();
  stream.end(frame);
}

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
      if (inflight[k] < o.m) {
        conn = k;
        break;
      }
    }
    if (conn < 0) break;
    next = (conn + 1) % o.c;
    call(conn);
  }
  if (!more && inflight.every((x) => x === 0)) resolveDone();
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
for (const s of sessions) s.destroy();
process.exit(0);
