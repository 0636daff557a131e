// Drives the C load generators (h2load for gRPC over h2c, wrk for HTTP/1.1)
// and reads back calls/s and latency percentiles.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * One h2load process per body, each with one connection, side by side.
 * h2load repeats one body, so write scenarios give every process a different
 * value: between two writes of one process others have usually written, so
 * most writes are real changes (the bench reports the share).
 */
export async function h2load(options: {
  url: string;
  bodies: Buffer[];
  /** Calls in flight per process (each process has one connection). */
  streams: number;
  seconds: number;
  warmupSeconds: number;
  dir: string;
  /** Called between the warm-up and the measured run. */
  afterWarmup?: () => Promise<void>;
}): Promise<LoadResult> {
  const once = (seconds: number, log: boolean) =>
    Promise.all(options.bodies.map(async (body, i) => {
      const bodyFile = join(options.dir, `body-${i}.bin`);
      const logFile = join(options.dir, `h2load-${i}.log`);
      writeFileSync(bodyFile, body);
      writeFileSync(logFile, "");
      const { stdout } = await run("h2load", [
        "-c", "1", "-m", String(options.streams), "-D", String(seconds), "-d", bodyFile,
        "-H", "content-type: application/grpc", "-H", "te: trailers", ...(log ? [`--log-file=${logFile}`] : []), options.url,
      ], { maxBuffer: 16 * 1024 * 1024 });
      const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? NaN);
      const m = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
      const latencies = log ? readFileSync(logFile, "utf8").trim().split("\n").filter(Boolean).map((line) => Number(line.split("\t")[2]) / 1000) : [];
      return { rps, done: Number(m?.[2] ?? 0), failed: Number(m?.[4] ?? 0) + Number(m?.[5] ?? 0), latencies };
    }));
  if (options.warmupSeconds > 0) await once(options.warmupSeconds, false);
  await options.afterWarmup?.();
  const results = await once(options.seconds, true);
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    rps: results.reduce((n, r) => n + r.rps, 0),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    requests: results.reduce((n, r) => n + r.done, 0),
    errors: results.reduce((n, r) => n + r.failed, 0),
  };
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

/** wrk over HTTP/1.1; `%d` in the body becomes a per-request counter, so every write changes something. */
export async function wrk(options: {
  url: string;
  body: string;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  dir: string;
  afterWarmup?: () => Promise<void>;
}): Promise<LoadResult> {
  const script = join(options.dir, "wrk.lua");
  writeFileSync(script, `
local n = 0
local body = ${JSON.stringify(options.body)}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, (string.gsub(body, "%%d", tostring(n))))
end
`);
  const args = (seconds: number) => ["-t1", `-c${options.connections}`, `-d${seconds}s`, "--latency", "-s", script, options.url];
  if (options.warmupSeconds > 0) await run("wrk", args(options.warmupSeconds));
  await options.afterWarmup?.();
  const { stdout } = await run("wrk", args(options.seconds));
  const ms = (label: string) => {
    const m = new RegExp(`\\s${label}%\\s+([\\d.]+)(us|ms|s)`).exec(stdout);
    return m ? Number(m[1]) * UNIT_MS[m[2]!]! : NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN),
    p50Ms: ms("50"),
    p99Ms: ms("99"),
    requests,
    errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
  };
}
