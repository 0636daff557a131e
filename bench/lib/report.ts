// What a run prints: one table of every scenario beside the
// anchors, the targets, the durable writes against etcd, the embedded store,
// the watch fan-out and the big map; and a Markdown text for the README's
// performance section, built from the same results (performance-md.ts).
import { allocLines, type AllocResults } from "../scenarios/alloc.js";
import { typedLines, type TypedResults } from "../scenarios/typed.js";
import type { ProfileSummary } from "./profile.js";
import type { LatencyStats } from "./stats.js";

export interface RunRecord {
  round: number;
  /** scenario@shape */
  key: string;
  scenario: string;
  shape: string;
  calls: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUs: number;
  schedUs: number;
  ticks: number;
  otherCore0Pct: number;
  redisUs?: number;
  /** raw writes: the client process's CPU per call. */
  clientUs?: number;
  /** raw writes: Redis's µs per FCALL of the write function (INFO commandstats). */
  scriptUs?: number;
  changedPct?: number;
  /** grpc-load: its own CPU use, % of core 1. */
  loadBusyPct?: number;
  /** The whole run, warm-up and checks included. */
  wallSeconds?: number;
  /** Probed beside the run (durable writes on the service). */
  healthz?: LatencyStats;
  getSettings?: LatencyStats;
  /** The half-rate run (T7): the server's GCs meanwhile (scenarios/alloc.ts counts them). */
  gc?: { count: number; markCompacts: number; pauseMs: number; maxPauseMs: number };
}

export interface Summary {
  key: string;
  label: string;
  shape: string;
  rounds: number;
  calls: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUs: number;
  schedUs: number;
  /** Median over rounds of CPU/call divided by @grpc/grpc-js's in the same round and shape. */
  ratioToGrpcJs: number;
  ratios: number[];
  otherCore0Pct: number;
  redisUs?: number;
  clientUs?: number;
  changedPct?: number;
  loadBusyPct?: number;
  /** Medians over rounds of each run's probe p99, and the probes' failed calls over all rounds. */
  healthzP99Ms?: number;
  getSettingsP99Ms?: number;
  probeFailures?: number;
}

/** One comparison of durable writes: the same transport and writers, the service on SQLite against etcd. */
export interface DurableRow {
  transport: "HTTP/1.1" | "gRPC";
  writers: number;
  etcd: { rps: number; cpuUs: number; p99Ms: number; changedPct?: number };
  sqlite: { rps: number; cpuUs: number; p99Ms: number; changedPct?: number; healthzP99Ms?: number; getSettingsP99Ms?: number; probeFailures?: number };
  /** Medians over rounds of the per-round ratios, ours / etcd's. */
  writesRatio: { median: number; perRound: number[] };
  cpuRatio: { median: number; perRound: number[] };
  p99Ratio: { median: number; perRound: number[] };
}

export interface Target {
  name: string;
  measured: number;
  /** How the measured value reads in the table, when there is more than one figure. */
  shown?: string;
  target: string;
  pass: boolean;
  detail?: Record<string, unknown>;
}

export interface Results {
  when: string;
  quick: boolean;
  seconds?: number;
  /** Where the time went: setup, rounds, fanout, bigMaps. */
  phaseSeconds?: Record<string, number>;
  machine: Record<string, unknown>;
  method: Record<string, unknown>;
  calls: Record<string, number>;
  scenarios: Record<string, Summary>;
  anchors: Record<string, Summary>;
  targets: Record<string, Target>;
  sqlite: Record<string, unknown>;
  durable?: { note: string; rows: DurableRow[] };
  /** Tracing's cost: bench/scenarios/tracing.ts. */
  tracing?: { note: string; rows: unknown[] };
  fanout?: { connect: Record<string, unknown>; sse: Record<string, unknown>; feed?: Record<string, unknown> };
  bigMaps?: Record<string, unknown>;
  /** Allocation per call (T8): bench/scenarios/alloc.ts. */
  alloc?: AllocResults;
  /** Typed settings: validation CPU per write, and writes with and without a schema. */
  typed?: TypedResults;
  profile?: { scenario: string; file: string; summary: ProfileSummary };
  bigMapBytes?: number;
  runs: RunRecord[];
}

const f = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits));
const SHAPE_TEXT: Record<string, string> = {
  c4m32: "4 conn x 32 streams",
  c16m1: "16 conn x 1 stream",
  c16m16: "16 conn x 16 streams",
  h1c16: "HTTP/1.1, 16 conn",
  h1c256: "HTTP/1.1, 256 conn",
  "64 in flight": "64 in flight",
};

export function scenarioTable(r: Results): string[] {
  const lines = [
    "| scenario | shape | calls/s | p50 ms | p99 ms | server CPU µs/call | ratio to grpc-js | per-round ratios | writes that changed the map | Redis CPU µs/call | core 0 used by others |",
    "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
  ];
  for (const s of Object.values(r.scenarios)) {
    lines.push(
      `| ${s.label} | ${SHAPE_TEXT[s.shape] ?? s.shape} | ${f(s.rps, 0)} | ${f(s.p50Ms, 2)} | ${f(s.p99Ms, 2)} | ${f(s.cpuUs)} | ${f(s.ratioToGrpcJs, 2)} | ${s.ratios.map((x) => f(x, 2)).join(" / ")} | ${s.changedPct === undefined ? "" : `${f(s.changedPct, 0)}%`} | ${f(s.redisUs)} | ${f(s.otherCore0Pct, 0)}% |`,
    );
  }
  return lines;
}

export function targetTable(r: Results): string[] {
  const lines = ["| target | what | measured | target | result |", "|---|---|---:|---|---|"];
  for (const [k, t] of Object.entries(r.targets)) lines.push(`| ${k} | ${t.name} | ${t.shown ?? f(t.measured, 2)} | ${t.target} | ${t.pass ? "PASS" : "FAIL"} |`);
  return lines;
}

export function durableLines(r: Results): string[] {
  if (!r.durable?.rows.length) return [];
  const lines = [
    "| durable writes, every one a change | writers | etcd writes/s | SQLite writes/s | ratio | etcd CPU µs/write | SQLite CPU µs/write | ratio | etcd p99 ms | SQLite p99 ms | ratio | /healthz p99 ms | GetSettings p99 ms |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const x of r.durable.rows) {
    lines.push(
      `| ${x.transport} | ${x.writers} | ${f(x.etcd.rps, 0)} | ${f(x.sqlite.rps, 0)} | ${f(x.writesRatio.median, 2)} | ${f(x.etcd.cpuUs)} | ${f(x.sqlite.cpuUs)} | ${f(x.cpuRatio.median, 2)} | ${f(x.etcd.p99Ms, 2)} | ${f(x.sqlite.p99Ms, 2)} | ${f(x.p99Ratio.median, 2)} | ${f(x.sqlite.healthzP99Ms, 1)} | ${f(x.sqlite.getSettingsP99Ms, 1)}${x.sqlite.probeFailures ? ` (${x.sqlite.probeFailures} failed)` : ""} |`,
    );
  }
  return lines;
}

export function fanoutTable(r: Results): string[] {
  if (!r.fanout) return [];
  const lines = [
    "| path | watchers | RSS per watcher | delivery p50 | delivery p99 | delivered | /healthz p99 | server CPU per delivery | server / client busy |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const [name, x] of Object.entries(r.fanout) as [string, Record<string, any>][]) {
    lines.push(
      `| ${name}: ${x.path} | ${x.watchers} | ${f(x.rssPerWatcherKb, 2)} KB (${x.rssBeforeMb} -> ${x.rssAfterMb} MB) | ${f(x.deliveryP50Ms, 1)} ms | ${f(x.deliveryP99Ms, 1)} ms | ${x.deliveries}/${x.expectedDeliveries} | ${f(x.healthz?.p99Ms, 1)} ms | ${f(x.serverCpuUsPerDelivery, 1)} µs | ${x.serverBusyPct}% / ${x.clientBusyPct}% |`,
    );
  }
  lines.push("", "Targets: RSS per watcher <= 10 KB; delivery p99 <= 250 ms at 10 writes/s; /healthz p99 <= 100 ms.");
  return lines;
}

export function bigMapLines(r: Results): string[] {
  const b = r.bigMaps as Record<string, any> | undefined;
  if (!b) return [];
  const row = (name: string, x: Record<string, any>) =>
    `| ${name} | ${x.reads} | ${f(x.readsPerSecond, 1)} | ${f(x.readP50Ms, 1)} / ${f(x.readP99Ms, 1)} ms | ${f(x.serverCpuMsPerRead, 2)} ms | ${f(x.healthz.p99Ms, 1)} ms (max ${f(x.healthz.maxMs, 0)}) | ${f(x.smallSession.p99Ms, 1)} ms, ${x.smallSession.failures} failed | ${x.readErrors} |`;
  return [
    `GetSettings of a 10,000-key map (${(b.responseBytes / 2 ** 20).toFixed(2)} MiB answer), server CPU per call (schedstat, median of ${b.uncachedCpuMs.all.length}):`,
    "",
    "| read | CPU ms (median) | CPU ms (max) | wall ms (median) | target |",
    "|---|---:|---:|---:|---|",
    `| first read after a change (uncached) | ${f(b.uncachedCpuMs.median, 2)} | ${f(b.uncachedCpuMs.max, 2)} | ${f(b.uncachedWallMs.median, 1)} | <= 30 ms: ${b.targets.uncached.pass ? "PASS" : "FAIL"} |`,
    `| second read at the same revision (cached) | ${f(b.cachedCpuMs.median, 2)} | ${f(b.cachedCpuMs.max, 2)} | ${f(b.cachedWallMs.median, 1)} | <= 1 ms: ${b.targets.cached.pass ? "PASS" : "FAIL"} |`,
    "",
    "16 concurrent readers of it (h2load 16 x 1), with /healthz and GetSettings of a small session (1 s deadline) every 20 ms beside them:",
    "",
    "| phase | reads | reads/s | read p50 / p99 | server CPU per read | /healthz p99 | small session p99 | read errors |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    row("no writes", b.readers16),
    row("a change every 100 ms", b.readers16WithWrites),
    "",
    `Target: /healthz p99 <= 100 ms and no failed call to the small session (no writes): ${b.targets.readers16.pass ? "PASS" : "FAIL"}.`,
  ];
}

export function sqliteLines(r: Results): string[] {
  const s = r.sqlite as Record<string, any>;
  if (!s.setGrpc && !s.setJson) return [];
  const row = (name: string, x: Summary | undefined) =>
    x ? `| ${name} | ${f(x.rps, 0)} | ${f(x.p50Ms, 2)} / ${f(x.p99Ms, 2)} | ${f(x.cpuUs)} | ${x.changedPct === undefined ? "" : `${f(x.changedPct, 0)}%`} |` : "";
  return [
    "| SQLite (synchronous=FULL) | calls/s | p50 / p99 ms | server CPU µs/call | writes that changed the map |",
    "|---|---:|---:|---:|---:|",
    row("SetSettings, gRPC 4 x 32 (grpc-load)", s.setGrpc),
    row("GetSettings 10 keys, gRPC 4 x 32", s.getGrpc),
    row("SetSettings, Connect JSON h1 x 16", s.setJson),
    row("SetSettings into 10,000 keys, Connect JSON h1 x 16", s.setBigJson),
    "",
    `Write into a 10,000-key map / into a 10-key map (calls/s, paired per round): ${f(s.bigOverSmallWrites?.median, 2)} (target >= 0.9: ${s.bigOverSmallWrites?.median >= 0.9 ? "PASS" : "FAIL"})`,
  ].filter(Boolean);
}

export function printReport(r: Results, log: (line?: string) => void): void {
  log("");
  for (const l of scenarioTable(r)) log(l);
  if (Object.keys(r.targets).length) {
    log("");
    for (const l of targetTable(r)) log(l);
  }
  for (const section of [durableLines(r), sqliteLines(r), typedLines(r.typed), allocLines(r.alloc), fanoutTable(r), bigMapLines(r)]) {
    if (!section.length) continue;
    log("");
    for (const l of section) log(l);
  }
}
