// T6 and T7, run once per round after the rotations:
//   - raw writes: the service's write function (FCALL) straight through
//     ioredis, from a process of its own on core 1 (beside Redis), 64 in
//     flight. T6 is Redis's CPU per write call as Redis itself counts it (INFO
//     commandstats: usec / calls of FCALL over the timed calls), and from it
//     how many service instances one Redis carries at 80 % of its one core;
//   - SetSettings over gRPC at half the rate this round measured at saturation
//     (4 x 32): the latency tail when the server is not queueing, and the
//     server's GCs meanwhile (their count, mark-compacts and pauses).
import { Redis } from "ioredis";
import { BUDGET, log } from "../lib/flags.js";
import { measure, record, runs, serverOf, type Measured } from "../lib/measure.js";
import { cpuUse, mark, start } from "../lib/procs.js";
import type { RunRecord } from "../lib/report.js";
import { S, type RunDef } from "../lib/scenario.js";
import { PREFIX, redisProc, redisUrl, ROOT } from "../lib/servers.js";
import { counted } from "./alloc.js";

/** The share of one core a Redis is planned to run at. */
export const REDIS_PLAN = 0.8;

/** How many instances, each serving `serviceRps` writes/s, one Redis carries at REDIS_PLAN of a core, at `usPerWrite` of its CPU each. */
export function instancesPerRedis(usPerWrite: number, serviceRps: number): number {
  return (REDIS_PLAN * 1e6) / usPerWrite / serviceRps;
}

/** FCALL's calls and µs so far (INFO commandstats). */
async function fcallStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  const m = /^cmdstat_fcall:calls=(\d+),usec=(\d+),/m.exec(await redis.info("commandstats"));
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) };
}

export async function runRaw(round: number): Promise<void> {
  const proc = await start("raw-write", [process.execPath, "bench/raw-write.mjs", redisUrl(), PREFIX, "bench-raw", String(BUDGET.rawCalls), "64"], { core: 1, cwd: ROOT });
  const stats = new Redis(redisUrl(), { maxRetriesPerRequest: 0 });
  try {
    const timed = proc.nextLine("TIMED", 120_000);
    const result = proc.nextLine("RESULT", 120_000);
    await timed;
    const redisPid = redisProc().pid;
    const s0 = await fcallStats(stats);
    const r0 = mark(redisPid);
    const c0 = mark(proc.pid);
    const line = await result;
    const r1 = mark(redisPid);
    const c1 = mark(proc.pid);
    const s1 = await fcallStats(stats);
    await proc.exited;
    const r = JSON.parse(line.slice("RESULT ".length)) as { calls: number; seconds: number; rps: number; changed: number };
    // Redis's own count of its time in the write function, per call: what T6 bounds.
    const scriptUs = (s1.usec - s0.usec) / Math.max(1, s1.calls - s0.calls);
    // Redis's CPU per call (its process, commands and event loop included), and the client's: both share core 1, which bounds the rate.
    const redisUs = cpuUse(r0, r1, r.calls).schedUs;
    const clientUs = cpuUse(c0, c1, r.calls).schedUs;
    const serviceRps = runs.find((x) => x.round === round && x.key === `set-grpc@${S.id}`)?.rps;
    const rec: RunRecord = { round, key: "raw-write", scenario: "raw-write", shape: "64 in flight", calls: r.calls, rps: r.rps, p50Ms: NaN, p99Ms: NaN, cpuUs: NaN, schedUs: NaN, ticks: 0, otherCore0Pct: NaN, changedPct: 100 * r.changed, redisUs, clientUs, scriptUs };
    runs.push(rec);
    const carried = serviceRps ? `, one Redis at ${100 * REDIS_PLAN}% carries ${instancesPerRedis(scriptUs, serviceRps).toFixed(1)} instances of ${serviceRps.toFixed(0)} writes/s` : "";
    log(
      `  r${round} ${"raw-write".padEnd(28)} ${String(r.calls).padStart(6)} calls ${r.rps.toFixed(0).padStart(6)}/s  changed ${(100 * r.changed).toFixed(0)}%  ` +
        `FCALL ${scriptUs.toFixed(1)} µs/call (commandstats): ${((REDIS_PLAN * 1e6) / scriptUs).toFixed(0)} writes/s at ${100 * REDIS_PLAN}% of a core${carried}; ` +
        `Redis process ${redisUs.toFixed(1)} µs/call, client ${clientUs.toFixed(1)} µs/call`,
    );
  } finally {
    stats.disconnect();
  }
}

/**
 * T7: `def` (SetSettings over gRPC, 4 x 32, every write a change) at half the rate it reached this
 * round. grpc-load starts call i at t0 + i / rate (on a 1 ms timer) on the next free stream,
 * spread over the connections in turn, so the calls arrive evenly rather than in bursts.
 */
export async function runHalfRate(def: RunDef, round: number): Promise<void> {
  const max = runs.find((r) => r.round === round && r.key === def.key)?.rps;
  if (!max) return;
  const rate = max / 2;
  const n = Math.max(200, Math.round(rate * BUDGET.runS * 1.5));
  // The server counts its GCs meanwhile: T7's tail is their pauses.
  let m!: Measured;
  const h = await counted(serverOf(def), async () => (m = await measure(def, n, { rps: rate, timeoutMs: Math.max(20_000, (4000 * n) / rate) })));
  const gc = { count: h.gcs, markCompacts: h.markCompacts, pauseMs: h.gcMs, maxPauseMs: h.maxGcMs };
  record(round, "set-grpc@half-rate", "set-grpc@half-rate", def.shape.id, m).gc = gc;
  // (Bytes per call are T8's: this window also holds the run's checks, /metrics scrapes and revision reads.)
  log(`      its GCs: ${gc.count} (${gc.markCompacts} mark-compacts), ${gc.pauseMs} ms in all, the longest ${gc.maxPauseMs} ms`);
}
