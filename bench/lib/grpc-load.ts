// The driver's side of bench/grpc-load.mjs, the gRPC load generator that
// cycles through distinct frames (h2load repeats one body, so its writes after
// the first change nothing). One process per run, pinned to core 1 like
// h2load, bounded in calls (or time, for a warm-up) and killed past
// `timeoutMs`. Unlike h2load it sees grpc-status, and counts every other
// outcome as an error.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadResult, Shape } from "./load.js";
import { start, stop } from "./procs.js";

const GENERATOR = join(import.meta.dirname, "..", "grpc-load.mjs");

export interface GrpcLoadOptions {
  /** The server's base URL. */
  url: string;
  path: string;
  /** Sent in turn, from the first, wrapping around. */
  frames: Buffer[];
  shape: Shape;
  /** Calls in this run; or instead, as many as fit in durationS (a warm-up). */
  n?: number;
  durationS?: number;
  /** The whole run's rate (calls start at t0 + i / rps), instead of as fast as possible. */
  rps?: number;
  dir: string;
  timeoutMs: number;
}

export async function grpcLoad(o: GrpcLoadOptions): Promise<LoadResult> {
  const framesFile = join(o.dir, "grpc-load-frames.bin");
  writeFileSync(framesFile, Buffer.concat(o.frames));
  const options = { url: o.url, path: o.path, frames: framesFile, c: o.shape.c, m: o.shape.m, n: o.durationS ? undefined : o.n, durationS: o.durationS, rps: o.rps, timeoutMs: o.timeoutMs };
  const proc = await start("grpc-load", [process.execPath, GENERATOR, JSON.stringify(options)], { core: 1 });
  let line: string;
  try {
    line = await proc.nextLine("RESULT", o.timeoutMs);
  } finally {
    await stop(proc);
  }
  const r = JSON.parse(line.slice("RESULT ".length)) as LoadResult & { statuses: Record<string, number> };
  if (r.errors > 0 || (o.durationS === undefined && r.calls !== o.n)) {
    throw new Error(`grpc-load saw failures: ${r.calls} of ${o.n ?? "(timed)"} calls ok, errors ${JSON.stringify(r.statuses)} (${o.url}${o.path}, ${o.shape.c} x ${o.shape.m})`);
  }
  return { calls: r.calls, rps: r.rps, seconds: r.seconds, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors, clientBusyPct: r.clientBusyPct };
}
