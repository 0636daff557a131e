// One measured run, and the records every figure is computed from.
//   - drive(): one load run of a scenario in one shape (h2load, grpc-load or wrk).
//   - runOne(): a warm-up of fixed time, then a run bounded in calls (n is set
//     in round 1 from the warm-up's rate and CPU) and in time.
//   - measure(): server CPU (utime+stime of all its threads, /proc/<pid>/stat),
//     its call counters and its revision read right before and right after the
//     load, outside the measured window; every call must be ok, and every call
//     of a write scenario a change.
import { BUDGET, log } from "./flags.js";
import { grpcLoad } from "./grpc-load.js";
import { countDelta } from "./clients.js";
import { h2load, wrk, type LoadResult } from "./load.js";
import { getSettingsProbe, healthProbe } from "./probes.js";
import { cpuUse, mark, quiesce, type CpuMark } from "./procs.js";
import type { RunRecord } from "./report.js";
import type { RunDef } from "./scenario.js";
import { redisProc, servers, work, type Server } from "./servers.js";
import type { LatencyStats } from "./stats.js";

export const runs: RunRecord[] = [];
/** Calls per measured run, by scenario@shape (set in round 1). */
export const nOf = new Map<string, number>();
const warmRate = new Map<string, number>();
/** Numbers every load run, so that write values never repeat across runs. */
let seq = 0;

export function serverOf(def: RunDef): Server {
  const srv = servers.get(def.scenario.server);
  if (!srv) throw new Error(`${def.key}: server ${def.scenario.server} is not running`);
  return srv;
}

export interface DriveOptions {
  n?: number;
  durationS?: number;
  latencies?: boolean;
  /** grpc-load only: the whole run's rate. */
  rps?: number;
  timeoutMs?: number;
}

export async function drive(def: RunDef, opts: DriveOptions): Promise<LoadResult> {
  const srv = serverOf(def);
  const load = def.scenario.load;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  seq++;
  if (load.kind === "h2load") {
    const { n = 0, durationS, latencies } = opts;
    return h2load({ url: srv.url + load.path, shape: def.shape, n, durationS, body: load.body, latencies, dir: work.dir, timeoutMs });
  }
  if (load.kind === "grpc-load") {
    return grpcLoad({ url: srv.url, path: load.path, frames: load.frames(seq), shape: def.shape, n: opts.n, durationS: opts.durationS, rps: opts.rps, dir: work.dir, timeoutMs });
  }
  return wrk({ url: srv.url, requests: load.requests, start: seq * 10_000_000, connections: def.shape.c, n: opts.n, seconds: opts.durationS ?? timeoutMs / 1000, dir: work.dir });
}

/**
 * Waits until a server has finished what an earlier run left in flight (a warm-up bounded in
 * time stops with calls outstanding): its CPU is idle and, where it counts its calls, its
 * counters stop moving (a call waiting on Redis or on a disk costs no CPU).
 */
export async function settle(srv: Server): Promise<void> {
  await quiesce(srv.proc.pid);
  if (!srv.counts) return;
  const deadline = performance.now() + 10_000;
  let before = JSON.stringify([...(await srv.counts())]);
  for (;;) {
    await new Promise((r) => setTimeout(r, 25));
    const now = JSON.stringify([...(await srv.counts())]);
    if (now === before) return;
    if (performance.now() > deadline) throw new Error(`${srv.id}: calls still finishing 10 s after a run`);
    before = now;
  }
}

export interface Measured {
  result: LoadResult;
  cpu: ReturnType<typeof cpuUse>;
  redisUs?: number;
  changedPct?: number;
  healthz?: LatencyStats;
  getSettings?: LatencyStats;
}

/** One measured run: counters, revision and CPU read right before and right after it, outside its window. */
export async function measure(def: RunDef, n: number, opts: DriveOptions & { timeoutMs: number }): Promise<Measured> {
  const srv = serverOf(def);
  const sc = def.scenario;
  await settle(srv);
  const counts0 = sc.procedure ? await srv.counts!() : undefined;
  const rev0 = sc.writes ? await srv.revision!(sc.writes) : undefined;
  const onRedis = sc.server === "redis";
  const r0: CpuMark | undefined = onRedis ? mark(redisProc().pid) : undefined;
  // Probes every 10 ms (about 1 % of a core of calls of their own, inside the window).
  const probes = sc.probes ? [healthProbe(srv.url, 10), getSettingsProbe(srv.url, "bench-get", "key0", 10)] : [];
  const m0 = mark(srv.proc.pid);
  let result: LoadResult;
  let probed: Promise<LatencyStats[]>;
  try {
    result = await drive(def, { ...opts, n, latencies: true });
  } finally {
    // stop() ends each loop at once; their last calls finish outside the measured window.
    probed = Promise.all(probes.map((p) => p.stop()));
  }
  const m1 = mark(srv.proc.pid);
  const r1: CpuMark | undefined = onRedis ? mark(redisProc().pid) : undefined;
  const [healthz, getSettings] = await probed;
  // A server may count a call just after its answer left: let the counters come to rest.
  if (sc.procedure) await settle(srv);
  const out: Measured = { result, cpu: cpuUse(m0, m1, result.calls), healthz, getSettings };
  if (r0 && r1) out.redisUs = cpuUse(r0, r1, result.calls).cpuUs;
  if (sc.procedure) {
    const d = countDelta(counts0!, await srv.counts!(), sc.procedure[0], sc.procedure[1]);
    if (Object.keys(d.failed).length > 0) throw new Error(`${def.key}: the server answered errors: ${JSON.stringify(d.failed)}`);
    if (d.ok !== result.calls) throw new Error(`${def.key}: the server counted ${d.ok} ok calls, the load generator ${result.calls}`);
  }
  if (sc.writes) {
    // Of the writes the server answered, the share that changed the map.
    out.changedPct = (100 * Number((await srv.revision!(sc.writes)) - rev0!)) / result.calls;
    if (!sc.unchanged && out.changedPct < 99) throw new Error(`${def.key}: only ${out.changedPct.toFixed(1)} % of its writes changed the map (a write scenario needs >= 99 %)`);
  }
  return out;
}

export async function runOne(def: RunDef, round: number): Promise<void> {
  const started = performance.now();
  const pid = serverOf(def).proc.pid;
  const w0 = mark(pid);
  const warm = await drive(def, { durationS: BUDGET.warmS, timeoutMs: BUDGET.warmS * 1000 + 30_000 });
  const warmCpuUs = cpuUse(w0, mark(pid), warm.calls).schedUs;
  // A scenario run with another's calls takes its n, or sets it for both.
  const nKey = def.scenario.callsOf ? `${def.scenario.callsOf}@${def.shape.id}` : def.key;
  if (!nOf.has(nKey)) {
    // About runS of calls at the warm-up's rate, and at least enough for cpuFloorS of server CPU
    // (150 clock ticks in a full run: /proc/<pid>/stat counts in 10 ms ticks), whatever the
    // neighbours did to the warm-up's rate.
    warmRate.set(nKey, warm.rps);
    const byRate = warm.rps * BUDGET.runS;
    const byCpu = (BUDGET.cpuFloorS * 1e6) / Math.max(1, warmCpuUs);
    nOf.set(nKey, Math.round(Math.max(300, Math.min(200_000, Math.max(byRate, byCpu)))));
  }
  const n = nOf.get(nKey)!;
  // Bounded in time as well: far past what the warm-up's rate predicts, the run fails.
  const timeoutMs = Math.max(20_000, (10_000 * n) / Math.max(1, warmRate.get(nKey)!));
  const m = await measure(def, n, { timeoutMs });
  record(round, def.key, def.scenario.id, def.shape.id, m).wallSeconds = +((performance.now() - started) / 1000).toFixed(2);
}

const ms = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(1));

export function record(round: number, key: string, scenario: string, shape: string, m: Measured): RunRecord {
  const r: RunRecord = {
    round,
    key,
    scenario,
    shape,
    calls: m.result.calls,
    rps: m.result.rps,
    p50Ms: m.result.p50Ms,
    p99Ms: m.result.p99Ms,
    cpuUs: m.cpu.cpuUs,
    schedUs: m.cpu.schedUs,
    ticks: m.cpu.ticks,
    otherCore0Pct: m.cpu.otherCore0Pct,
    redisUs: m.redisUs,
    changedPct: m.changedPct,
    loadBusyPct: m.result.clientBusyPct,
    healthz: m.healthz,
    getSettings: m.getSettings,
  };
  runs.push(r);
  log(
    `  r${round} ${key.padEnd(26)} ${String(r.calls).padStart(6)} calls ${r.rps.toFixed(0).padStart(6)}/s  ` +
      `p50 ${r.p50Ms.toFixed(2).padStart(6)} p99 ${r.p99Ms.toFixed(2).padStart(7)} ms  ` +
      `${r.cpuUs.toFixed(1).padStart(6)} µs/call (${r.ticks} ticks; schedstat ${r.schedUs.toFixed(1)})` +
      `${r.changedPct === undefined ? "" : `  changed ${r.changedPct.toFixed(0)}%`}  core0 other ${r.otherCore0Pct.toFixed(0)}%` +
      `${r.loadBusyPct === undefined ? "" : `  load ${r.loadBusyPct}% busy`}` +
      `${r.healthz ? `  healthz p99 ${ms(r.healthz.p99Ms)} get p99 ${ms(r.getSettings?.p99Ms)} ms` : ""}`,
  );
  return r;
}
