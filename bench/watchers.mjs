// Watch fan-out: holds `count` watch streams on one session, in a process of
// its own (the driver pins it to core 1), so that the server's memory and CPU
// are measured without the clients'.
//   node bench/watchers.mjs <baseUrl> <sessionId> <count> <connect|sse> [httpVersion=2] [perConnection=250]
// connect: the Connect streaming protocol (binary) over node:http2, calling
//          WatchSettings; the streams share count/perConnection connections.
// feed:    the same, calling ChangesService/WatchChanges (the store-wide
//          change feed): each watcher sees every change of every session.
// sse:     plain node:http GETs of /api/sessions/:id/settings/events, one
//          connection each.
// Protocol with the driver (stdout lines, stdin commands):
//   "CREATED n=<count> ms=<ms>"  once every stream has received its first
//                                message (created: true / event: created);
//                                no fixed sleep, the streams are counted
//   stdin "go <writes/s> <seconds>"  the writes: key "t" of the session set
//                                over REST to the time of the write
//                                (performance.timeOrigin + now(), ms), from
//                                this process, so one clock stamps the write
//                                and every receipt
//   "RESULT {json}"              after every watcher has seen the last
//                                write's revision (or a bound ran out):
//                                delivery latency p50/p99/max, counts
// The process exits when its stdin closes.
import { setMaxListeners } from "node:events";
import http from "node:http";
import { createInterface } from "node:readline";
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { WatchSettingsRequestSchema, WatchSettingsResponseSchema } from "../dist/gen/codexmanager/settings/v1/settings_pb.js";
import { WatchChangesRequestSchema, WatchChangesResponseSchema } from "../dist/gen/codexmanager/settings/v1/changes_pb.js";
import { Latencies } from "./latencies.mjs";

const [baseUrl, sessionId, countText, mode, httpVersion = "2", perConnectionText = "250"] = process.argv.slice(2);
const count = Number(countText);
const perConnection = Number(perConnectionText);
const now = () => performance.timeOrigin + performance.now();
const abort = new AbortController();
// Every stream listens to this one signal, to end them all when the driver is done.
setMaxListeners(0, abort.signal);

let created = 0;
let ended = 0;
const errors = [];
/** Per watcher: the last revision it received. */
const lastRevision = new Float64Array(count);
/** Every (watcher, change) delivery latency in ms. */
const latencies = new Latencies();
const record = (ms) => latencies.record(ms);
let onCreated = () => {};
function createdOne() {
  created++;
  if (created === count) onCreated();
}
function fail(i, err) {
  ended++;
  if (errors.length < 5) errors.push(`watcher ${i}: ${err?.message ?? err}`);
}

// ---------------------------------------------------------------- connect streams
// The Connect streaming protocol spoken directly over node:http2 (binary
// envelopes, decoded with the generated schema): connect-node's client spent
// about 40 µs of this process's CPU per message, so with 2,000 watchers it,
// not the server, set the delivery latency.
const FEED = mode === "feed";
const requestSchema = FEED ? WatchChangesRequestSchema : WatchSettingsRequestSchema;
const responseSchema = FEED ? WatchChangesResponseSchema : WatchSettingsResponseSchema;
const request = toBinary(requestSchema, create(requestSchema, FEED ? {} : { sessionId }));
const requestFrame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), request]);
requestFrame.writeUInt32BE(request.length, 1);
function onMessage(i, m, state) {
  if (state.first) {
    state.first = false;
    if (!m.created) return fail(i, new Error("the first message was not created"));
    // A feed watcher starts from now: the session's next revision is the first it can see.
    if (!FEED) lastRevision[i] = Number(m.revision);
    return createdOne();
  }
  // A heartbeat, or (on the feed) another session's change.
  const entry = FEED ? (m.change?.sessionId === sessionId ? m.change.entry : undefined) : m.entry;
  if (!entry) return;
  const received = now();
  lastRevision[i] = Number(entry.revision);
  for (const c of entry.changes) {
    if (c.key === "t" && c.after?.kind.case === "numberValue") record(received - c.after.kind.value);
  }
}
function openConnect(i, session) {
  const stream = session.request({
    ":method": "POST",
    ":path": FEED ? "/codexmanager.settings.v1.ChangesService/WatchChanges" : "/codexmanager.settings.v1.SettingsService/WatchSettings",
    "content-type": "application/connect+proto",
    "connect-protocol-version": "1",
  });
  stream.end(requestFrame);
  const state = { first: true };
  let pending = Buffer.alloc(0);
  stream.on("data", (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      const flags = pending[0];
      const payload = pending.subarray(5, 5 + length);
      pending = pending.subarray(5 + length);
      if (flags & 0x02) return fail(i, new Error(`the stream ended: ${payload.toString()}`));
      onMessage(i, fromBinary(responseSchema, payload), state);
    }
  });
  stream.on("error", (err) => {
    if (!abort.signal.aborted) fail(i, err);
  });
}

// ---------------------------------------------------------------- SSE
const sseAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
function openSse(i) {
  return new Promise((resolve) => {
    const req = http.get(`${baseUrl}/api/sessions/${encodeURIComponent(sessionId)}/settings/events`, { agent: sseAgent, signal: abort.signal }, (res) => {
      if (res.statusCode !== 200) {
        fail(i, new Error(`status ${res.statusCode}`));
        res.resume();
        return resolve();
      }
      res.setEncoding("utf8");
      let buf = "";
      let first = true;
      res.on("data", (chunk) => {
        const received = now();
        buf += chunk;
        let end;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = "message";
          let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (event === "created") {
            if (!first) continue;
            first = false;
            lastRevision[i] = JSON.parse(data).revision;
            createdOne();
          } else if (event === "change") {
            const entry = JSON.parse(data);
            lastRevision[i] = entry.revision;
            for (const c of entry.changes) if (c.key === "t" && typeof c.after === "number") record(received - c.after);
          } else if (event === "error") {
            fail(i, new Error(data));
          }
        }
      });
      res.on("end", () => {
        if (!abort.signal.aborted) fail(i, new Error("the stream ended"));
      });
      res.on("error", () => {});
      resolve();
    });
    req.on("error", (err) => {
      if (!abort.signal.aborted) fail(i, err);
      resolve();
    });
  });
}

// ---------------------------------------------------------------- open them all
const startedAt = performance.now();
const allCreated = new Promise((resolve) => (onCreated = resolve));
if (mode === "connect" || FEED) {
  if (httpVersion !== "2") throw new Error("the connect and feed modes speak HTTP/2");
  const sessions = [];
  for (let i = 0; i < count; i++) {
    if (i % perConnection === 0) {
      const session = http2.connect(baseUrl);
      session.on("error", () => {});
      abort.signal.addEventListener("abort", () => session.destroy(), { once: true });
      sessions.push(session);
    }
    openConnect(i, sessions[sessions.length - 1]);
    // At most 200 streams still opening at a time, so the server's accept queue never overflows.
    while (i + 1 - created - ended >= 200) await new Promise((r) => setTimeout(r, 1));
  }
} else if (mode === "sse") {
  for (let i = 0; i < count; i++) {
    void openSse(i);
    while (i + 1 - created - ended >= 200) await new Promise((r) => setTimeout(r, 1));
  }
} else {
  throw new Error(`mode must be connect, feed or sse, not ${mode}`);
}
await Promise.race([
  allCreated,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${created} of ${count} watchers were created within 120 s; ${errors.join("; ")}`)), 120_000).unref()),
]);
process.stdout.write(`CREATED n=${created} ms=${(performance.now() - startedAt).toFixed(0)}\n`);

// ---------------------------------------------------------------- writes and deliveries
const writer = new http.Agent({ keepAlive: true, maxSockets: 1 });
function write(value) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ key: "t", value });
    const req = http.request(`${baseUrl}/api/sessions/${encodeURIComponent(sessionId)}/settings`, { method: "POST", agent: writer, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(text).revision) : reject(new Error(`write answered ${res.statusCode}: ${text}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function go(rate, seconds) {
  const writes = Math.round(rate * seconds);
  const t0 = performance.now();
  let lastRev = 0;
  for (let k = 0; k < writes; k++) {
    const due = t0 + (k * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    lastRev = Number(await write(now()));
  }
  const writeSeconds = (performance.now() - t0) / 1000;
  // Every watcher has seen the last write, or 15 s passed.
  const deadline = performance.now() + 15_000;
  const behind = () => {
    let n = 0;
    for (let i = 0; i < count; i++) if (lastRevision[i] < lastRev) n++;
    return n;
  };
  while (behind() > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const result = {
    mode,
    httpVersion: mode === "connect" ? httpVersion : "1.1",
    watchers: count,
    writes,
    writeSeconds,
    deliveries: latencies.count,
    expected: writes * count,
    behind: behind(),
    ended,
    errors,
    ...latencies.summary(),
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const [cmd, rate, seconds] = line.trim().split(/\s+/);
  if (cmd === "go") {
    go(Number(rate), Number(seconds)).catch((err) => {
      process.stdout.write(`FAILED ${err?.message ?? err}\n`);
    });
  }
});
lines.on("close", () => {
  abort.abort();
  process.exit(0);
});
