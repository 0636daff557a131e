// The load generators: one h2load process per run (gRPC over h2c, several
// connections x streams, one body repeated), or one wrk process (HTTP/1.1:
// Connect JSON, REST and etcd's JSON gateway; a counter in every body),
// pinned to core 1. Every run is bounded in count (h2load -n; wrk stops
// itself after n answers) and in time (the process is killed past
// `timeoutMs`, and the run fails). Writes over gRPC use grpc-load.ts.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { percentile } from "./stats.js";

export interface LoadResult {
  /** Calls answered (2xx) in the measured run. */
  calls: number;
  rps: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed, errored, timed-out or non-2xx calls as the load generator saw them (gRPC status is checked elsewhere). */
  errors: number;
  /** The load generator's own CPU use, % of its core (grpc-load only). */
  clientBusyPct?: number;
}

export interface Shape {
  id: string;
  /** Connections. */
  c: number;
  /** Streams in flight per connection (1 for HTTP/1.1). */
  m: number;
}

export const SHAPES = {
  c4m32: { id: "c4m32", c: 4, m: 32 },
  c16m1: { id: "c16m1", c: 16, m: 1 },
  /** 256 writers over gRPC: 16 connections x 16 streams. */
  c16m16: { id: "c16m16", c: 16, m: 16 },
  h1c16: { id: "h1c16", c: 16, m: 1 },
  h1c256: { id: "h1c256", c: 256, m: 1 },
} satisfies Record<string, Shape>;

function run(argv: string[], timeoutMs: number, interruptOn?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("taskset", ["-c", "1", ...argv], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let interrupted = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      // wrk sleeps out its whole -d even when its threads are done; SIGINT makes it report at once.
      if (interruptOn && !interrupted && stdout.includes(interruptOn)) {
        interrupted = true;
        child.kill("SIGINT");
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${argv[0]} did not finish within ${timeoutMs} ms: ${argv.join(" ")}`));
    }, timeoutMs);
    const onSignal = () => child.kill("SIGKILL");
    process.once("exit", onSignal);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      process.off("exit", onSignal);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface H2loadOptions {
  url: string;
  shape: Shape;
  /** Calls in this run. */
  n: number;
  /** Instead of n calls: as many as fit in this many seconds (h2load -D; warm-ups, which also tell the rate). */
  durationS?: number;
  /** The request body (a gRPC frame), sent unchanged on every request. */
  body: Buffer;
  /** Per-request latencies from h2load's --log-file (p50/p99); skipped for warm-ups. */
  latencies?: boolean;
  dir: string;
  timeoutMs: number;
  /** Accept failed calls (warm-ups before a server is warm, or the readers of a big map): count them instead of failing. */
  allowErrors?: boolean;
}

export async function h2load(o: H2loadOptions): Promise<LoadResult> {
  const logFile = join(o.dir, "h2load.log");
  const bodyFile = join(o.dir, "h2load-body.bin");
  if (o.latencies) writeFileSync(logFile, "");
  // h2load reads the file again for every request (pread).
  writeFileSync(bodyFile, o.body);
  const argv = [
    "h2load", o.url, ...(o.durationS ? ["-D", `${Math.round(o.durationS * 1000)}ms`] : ["-n", String(o.n)]), "-c", String(o.shape.c), "-m", String(o.shape.m),
    "-d", bodyFile,
    "-H", "content-type: application/grpc",
    "-H", "te: trailers",
    ...(o.latencies ? [`--log-file=${logFile}`] : []),
  ];
  const r = await run(argv, o.timeoutMs);
  const out = r.stdout;
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const f = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!m || !f || !codes) throw new Error(`cannot read h2load's output (exit ${r.code}):\n${argv.join(" ")}\n${out}\n${r.stderr}`);
  const done = Number(m[3]);
  const ok2xx = Number(codes[1]);
  // With -D, answers whose headers arrived before the end count as 2xx but not as done.
  const errors = Number(m[5]) + Number(m[6]) + Number(m[7]) + Math.max(0, done - ok2xx);
  if (!o.allowErrors && (errors > 0 || (o.durationS === undefined && Number(m[4]) !== o.n))) {
    throw new Error(`h2load saw failures: ${m[0]}; ${codes[0]}\n${argv.join(" ")}`);
  }
  let p50Ms = NaN;
  let p99Ms = NaN;
  if (o.latencies) {
    const lat = readFileSync(logFile, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => Number(line.split("\t")[2]) / 1000)
      .sort((a, b) => a - b);
    p50Ms = percentile(lat, 50);
    p99Ms = percentile(lat, 99);
  }
  return { calls: Math.min(done, ok2xx), rps: Number(f[3]), seconds: Number(f[1]) / (f[2] === "ms" ? 1000 : 1), p50Ms, p99Ms, errors };
}

/** counter(n): base64 of the decimal text of n (LuaJIT has no base64 of its own). */
const BASE64_LUA = `
local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function sextet(v) return ALPHABET:sub(v + 1, v + 1) end
local function counter(n)
  local s, out = tostring(n), {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    out[#out + 1] = sextet(math.floor(v / 262144) % 64) .. sextet(math.floor(v / 4096) % 64)
      .. (b and sextet(math.floor(v / 64) % 64) or "=") .. (c and sextet(v % 64) or "=")
  end
  return table.concat(out)
end`;

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** What wrk sends: request i uses slots[i % slots.length], its "%d" replaced by the counter. */
export interface WrkRequests {
  slots: { path: string; body: string }[];
  /** The counter as decimal text, or as base64 of that text (etcd's JSON gateway takes bytes as base64). */
  counter?: "decimal" | "base64";
}

/** Request number i as the Lua script builds it (the first one is checked through a real client). */
export function wrkRequest(r: WrkRequests, i: number): { path: string; body: string } {
  const slot = r.slots[i % r.slots.length]!;
  const n = r.counter === "base64" ? Buffer.from(String(i)).toString("base64") : String(i);
  return { path: slot.path, body: slot.body.replaceAll("%d", n) };
}

export interface WrkOptions {
  /** The server's base URL. */
  url: string;
  requests: WrkRequests;
  /** The first counter value: a new range per run, so no value repeats across runs either. */
  start: number;
  connections: number;
  /** wrk stops itself after this many answers; without it, it runs for `seconds` (a warm-up). */
  n?: number;
  /** The time bound (with n, the run fails if it is reached first). */
  seconds: number;
  dir: string;
}

/**
 * wrk over HTTP/1.1 with one thread: `connections` keep-alive connections, one
 * request in flight on each. With n, the script sends exactly n requests (wrk
 * asks its delay hook once before each request it sends, so the hook counts
 * them, and holds every connection back after the n-th), stops wrk's thread
 * after the n-th answer, with nothing left in flight, and prints a line on
 * which the driver sends SIGINT, so wrk reports at once (its elapsed time ends
 * there); -d is then only the time bound. (Counting in request() would not
 * do: wrk also calls it once to check the script.)
 */
export async function wrk(o: WrkOptions): Promise<LoadResult> {
  const script = join(o.dir, "wrk.lua");
  const slots = o.requests.slots.map((s) => `{ path = ${JSON.stringify(s.path)}, body = ${JSON.stringify(s.body)} }`).join(",\n  ");
  // Stops after n answers (wrk itself is bounded by -d too).
  writeFileSync(
    script,
    `
local n = ${o.start - 1}
local sent = 0
local answered = 0
local slots = {
  ${slots}
}
${o.requests.counter === "base64" ? BASE64_LUA : "local counter = tostring"}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
${o.n === undefined ? "" : `delay = function()
  if sent >= ${o.n} then return 3600000 end
  sent = sent + 1
  return 0
end`}
request = function()
  n = n + 1
  local slot = slots[(n % #slots) + 1]
  return wrk.format(nil, slot.path, nil, (string.gsub(slot.body, "%%d", counter(n))))
end
response = function(status, headers, body)
  answered = answered + 1
  if answered == ${o.n ?? -1} then
    io.write("\\nBENCH-DONE\\n")
    io.flush()
    wrk.thread:stop()
  end
end
`,
  );
  const seconds = Math.max(1, Math.ceil(o.seconds));
  // A call slower than --timeout counts as a failure; a slow server is measured, not failed: the bound is the run's own.
  const argv = ["wrk", "-t1", `-c${o.connections}`, `-d${seconds}s`, "--timeout", `${Math.max(10, seconds)}s`, "--latency", "-s", script, o.url + o.requests.slots[0]!.path];
  const r = await run(argv, seconds * 1000 + 10_000, o.n === undefined ? undefined : "BENCH-DONE");
  const out = r.stdout;
  const ms = (label: string) => {
    const m = new RegExp(`\\s${label}%\\s+([\\d.]+)(us|ms|s|m)\\b`).exec(out);
    return m ? Number(m[1]) * UNIT_MS[m[2]!]! : NaN;
  };
  const req = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (!req) throw new Error(`cannot read wrk's output (exit ${r.code}):\n${out}\n${r.stderr}`);
  const calls = Number(req[1]);
  const secs = (Number(req[2]) * UNIT_MS[req[3]!]!) / 1000;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0);
  if (errors > 0) throw new Error(`wrk saw failures:\n${out}`);
  if (o.n !== undefined && calls < o.n) throw new Error(`wrk stopped after ${calls} of ${o.n} calls (time bound ${seconds} s):\n${out}`);
  return { calls, rps: calls / secs, seconds: secs, p50Ms: ms("50"), p99Ms: ms("99"), errors };
}
