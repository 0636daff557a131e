// What a run prints and writes: one table of every scenario beside the
// anchors, the targets, the embedded store, the watch fan-out and the big
// map; and a Markdown text for the README's performance section, built from
// the same results (bench/results/performance.md).
import { writeFileSync } from "node:fs";
import type { ProfileSummary } from "./profile.js";

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
  /** raw EVALSHA: the client process's CPU per call. */
  clientUs?: number;
  changedPct?: number;
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
  machine: Record<string, unknown>;
  method: Record<string, unknown>;
  calls: Record<string, number>;
  scenarios: Record<string, Summary>;
  anchors: Record<string, Summary>;
  targets: Record<string, Target>;
  sqlite: Record<string, unknown>;
  fanout?: { connect: Record<string, unknown>; sse: Record<string, unknown> };
  bigMaps?: Record<string, unknown>;
  profile?: { scenario: string; file: string; summary: ProfileSummary };
  bigMapBytes?: number;
  runs: RunRecord[];
}

const f = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits));
const SHAPE_TEXT: Record<string, string> = { c4m32: "4 conn x 32 streams", c16m1: "16 conn x 1 stream", h1c16: "HTTP/1.1, 16 conn", "64 in flight": "64 in flight" };

function scenarioTable(r: Results): string[] {
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

function targetTable(r: Results): string[] {
  const lines = ["| target | what | measured | target | result |", "|---|---|---:|---|---|"];
  for (const [k, t] of Object.entries(r.targets)) lines.push(`| ${k} | ${t.name} | ${t.shown ?? f(t.measured, 2)} | ${t.target} | ${t.pass ? "PASS" : "FAIL"} |`);
  return lines;
}

function fanoutTable(r: Results): string[] {
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

function bigMapLines(r: Results): string[] {
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

function sqliteLines(r: Results): string[] {
  const s = r.sqlite as Record<string, any>;
  if (!s.setGrpc && !s.setJson) return [];
  const row = (name: string, x: Summary | undefined) =>
    x ? `| ${name} | ${f(x.rps, 0)} | ${f(x.p50Ms, 2)} / ${f(x.p99Ms, 2)} | ${f(x.cpuUs)} | ${x.changedPct === undefined ? "" : `${f(x.changedPct, 0)}%`} |` : "";
  return [
    "| SQLite (synchronous=FULL) | calls/s | p50 / p99 ms | server CPU µs/call | writes that changed the map |",
    "|---|---:|---:|---:|---:|",
    row("SetSettings, gRPC 4 x 32", s.setGrpc),
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
  const sq = sqliteLines(r);
  if (sq.length) {
    log("");
    for (const l of sq) log(l);
  }
  const fo = fanoutTable(r);
  if (fo.length) {
    log("");
    for (const l of fo) log(l);
  }
  const bm = bigMapLines(r);
  if (bm.length) {
    log("");
    for (const l of bm) log(l);
  }
}

/** The README "Performance" section as proposed from this run. */
export function writeProposal(r: Results, file: string): void {
  const m = r.machine as Record<string, any>;
  const meth = r.method as Record<string, any>;
  const text = [
    "## Performance",
    "",
    "`npm run bench` (about 6 minutes; `npm run bench -- --quick` is a smoke run of about a minute that CI runs,",
    "where only a crash fails) starts everything it measures itself: a `redis-server` on a free loopback port, the",
    "service compiled from `dist/` (`npm run build`) through `bench/server.mjs` (the only place that serves the",
    "bench's no-op `BenchService`), the same service on the embedded SQLite store, and two anchors that answer the",
    "same gRPC no-op: **A**, a bare `node:http2` handler (the floor), and **B**, an `@grpc/grpc-js` server (the",
    "yardstick). Results go to the console and to `bench/results/latest.json` (git-ignored): `targets.T1`..`T7`, every",
    "scenario's calls/s, p50/p99 and server CPU per call, the anchors, the SQLite figures, `fanout` and `bigMaps`.",
    "`--profile[=<scenario>]` adds a V8 CPU profile of the server for one scenario and prints its top frames.",
    "",
    "**Method.** Each server is its own Node process pinned to core 0 (`taskset -c 0`); Redis, the load generator and",
    "the driver are pinned to core 1. The load is one `h2load` process per run (4 connections x 32 streams, and 16 x",
    "1) with prebuilt gRPC-framed bodies, or one `wrk` process for Connect JSON and REST over HTTP/1.1 (16",
    "connections, a counter in every body so that every write changes the map). Every run has a warm-up of fixed",
    "time and is then bounded in calls (set in round 1 from the warm-up's rate) and in time. Server CPU per call is",
    "utime+stime from `/proc/<pid>/stat` across the run divided by the calls answered (schedstat of all threads agrees",
    "within about 1 %), and the server's own call counters (`/metrics`) must show every call ok, because h2load cannot",
    `see grpc-status. ${meth.rounds} rounds; every scenario once per round, in an order rotated each round; each figure is the median`,
    "over rounds, and each ratio is taken per round against B in the same round and shape (HTTP/1.1's 16 connections",
    "against B's 16 x 1), then the median. CPU per call is what the targets use: on this shared 2-core machine calls/s",
    "is bounded by the load generator for the fast servers and moves with the neighbours' load.",
    "h2load repeats one body, so gRPC writes after the first one repeat the value just written and mostly take the",
    "\"unchanged\" path; the table gives the share that changed the map. On Redis the server's CPU for such a write is",
    "the same as for a real change (the same script runs; measured within 2 %), on SQLite it is not, so the write",
    "targets that need real changes use Connect JSON.",
    "",
    `Latest ${r.quick ? "quick (smoke) run, not for quoting" : "full run"} (${m.cpus} vCPU ${m.cpuModel}, ${m.memoryGb} GiB, Node ${m.node}, ${m.redis}, ${m.h2load}, ${m.wrk}; ${r.when}):`,
    "",
    ...scenarioTable(r),
    "",
    ...targetTable(r),
    "",
    ...sqliteLines(r),
    "",
    "**Watch fan-out.** Watchers on one session, held by a separate client process (`bench/watchers.mjs`, core 1) that",
    "waits until every stream has received its `created` message; then 10 writes/s, each stamped with its time, and",
    "each receipt timed in the same process:",
    "",
    ...fanoutTable(r),
    "",
    "**Big maps.**",
    "",
    ...bigMapLines(r),
    "",
    "**Where the time goes.**",
    "",
    ...(r.profile ? [`Profile of the server for ${r.profile.scenario}:`, "", "| # | self % | frame |", "|---|---:|---|", ...r.profile.summary.self.map((x, i) => `| ${i + 1} | ${x.pct.toFixed(1)} | \`${x.frame}\` |`)] : ["(run with `--profile=<scenario>` to add a profile here)"]),
    "",
  ].join("\n");
  writeFileSync(file, text);
}
