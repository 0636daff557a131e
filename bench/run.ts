// npm run bench                      full run (about 10 minutes)
// npm run bench -- --quick           smoke run for CI (one short round; a crash or a broken rule fails it)
// npm run bench -- --profile[=<id>]  also a V8 CPU profile of the server for one scenario
//                                    (default set-grpc; e.g. --profile=get-grpc@c16m1,
//                                    --profile=get-big-grpc, --profile=fanout-sse)
// Dev options: --rounds=N, --only=<scenario ids>, --skip=fanout,bigmaps,durable,typed (lib/flags.ts)
//
// Method (bench/README.md has the long form):
//   - The service runs compiled (dist/, npm run build) as its own process,
//     bench/server.mjs, pinned to core 0 (taskset -c 0); so do the two
//     anchors, a bare node:http2 gRPC no-op (A) and an @grpc/grpc-js no-op
//     (B), and etcd (the anchor for durable writes). Redis, the load
//     generator and this driver are pinned to core 1.
//   - Load: one process per run: h2load (gRPC reads and no-ops), grpc-load.mjs
//     (gRPC writes, distinct bodies), wrk (HTTP/1.1). Each run: a warm-up of
//     fixed time, then a run bounded in calls and in time (lib/measure.ts).
//   - Server CPU per call: utime+stime from /proc/<pid>/stat across the
//     measured run / calls answered. The server's own call counters must show
//     every call ok, and every write scenario must change the map.
//   - Rounds: every scenario once per round, in an order rotated each round.
//     Each ratio is taken per round (against B, or etcd, in that round and
//     shape) and the median over rounds is reported, like every other figure.
//
// Here: the run as a whole. The pieces are in lib/ (processes, servers, load,
// measurement, targets, report) and scenarios/ (what is measured).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { ensureDist } from "../scripts/dist.mjs";
import { httpRequest } from "./lib/clients.js";
import { startEtcd } from "./lib/etcd.js";
import { BUDGET, log, ONLY, PROFILE, QUICK, RESULTS, SKIP } from "./lib/flags.js";
import { wrkRequest } from "./lib/load.js";
import { nOf, runOne, runs } from "./lib/measure.js";
import { writePerformanceMd } from "./lib/performance-md.js";
import { populate } from "./lib/populate.js";
import { killAllNow, pinSelf, stopAll } from "./lib/procs.js";
import { printReport, type Results } from "./lib/report.js";
import { H1, S, type RunDef, type Scenario } from "./lib/scenario.js";
import { servers, startRedis, startServer, work } from "./lib/servers.js";
import { allocationTarget, paired, summarize, targets } from "./lib/targets.js";
import { allocation } from "./scenarios/alloc.js";
import { bigMaps } from "./scenarios/big-maps.js";
import { CPU_SCENARIOS } from "./scenarios/cpu.js";
import { DURABLE_SCENARIOS, durableRows, durableTargets } from "./scenarios/durable.js";
import { fanout } from "./scenarios/fanout.js";
import { profile } from "./scenarios/profile.js";
import { runHalfRate, runRaw } from "./scenarios/redis-headroom.js";
import { startTracingServers, TRACING_SCENARIOS, tracingLines, tracingRows, tracingTargets, usesTracing } from "./scenarios/tracing.js";
import { prepareTyped, TYPED_SCENARIOS, typedRows, validationCost } from "./scenarios/typed.js";

const SCENARIOS: Scenario[] = [
  ...CPU_SCENARIOS,
  ...(SKIP.has("tracing") ? [] : TRACING_SCENARIOS),
  ...(SKIP.has("durable") ? [] : DURABLE_SCENARIOS),
  ...(SKIP.has("typed") ? [] : TYPED_SCENARIOS),
];

function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.split("\n")[0]!.trim();
}

function checkTools(etcd: boolean): void {
  const tools = [["h2load", "nghttp2-client"], ["wrk", "wrk"], ["redis-server", "redis-server"], ["taskset", "util-linux"], ...(etcd ? [["etcd", "etcd-server"]] : [])];
  for (const [cmd, pkg] of tools) {
    if (spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0) throw new Error(`${cmd} is needed: apt-get install ${pkg}`);
  }
  if (os.cpus().length < 2) throw new Error("the bench pins the servers to core 0 and the load to core 1: it needs 2 cores");
}

/** Every run of the selected scenarios, each checked once through a real client first (h2load cannot see grpc-status). */
async function selectRuns(scenarios: Scenario[]): Promise<RunDef[]> {
  const defs: RunDef[] = [];
  for (const sc of scenarios) {
    const srv = servers.get(sc.server)!;
    const load = sc.load;
    if (load.kind === "h2load") await srv.grpc.ok(load.path, load.body);
    else if (load.kind === "grpc-load") await srv.grpc.ok(load.path, load.frames(0)[0]!);
    else {
      const first = wrkRequest(load.requests, 0);
      const r = await httpRequest(srv.url + first.path, { method: "POST", body: first.body });
      if (r.status !== 200) throw new Error(`${sc.id}: ${r.status} ${r.body}`);
    }
    for (const shape of sc.shapes) defs.push({ key: `${sc.id}@${shape.id}`, scenario: sc, shape });
  }
  return defs;
}

/**
 * The rounds: the 4 x 32 family, the 16 x 1 family (with HTTP/1.1's 16 connections) and the durable
 * writes against etcd, in an order reversed every other round, each family rotated every round; then
 * raw writes (T6) and the half-rate run.
 */
async function runRounds(defs: RunDef[]): Promise<void> {
  const families = [
    defs.filter((d) => !d.scenario.durable && d.shape.id === S.id),
    defs.filter((d) => !d.scenario.durable && d.shape.id !== S.id),
    defs.filter((d) => d.scenario.durable),
  ];
  const t0 = performance.now();
  for (let round = 1; round <= BUDGET.rounds; round++) {
    log(`round ${round} of ${BUDGET.rounds} (${((performance.now() - t0) / 1000).toFixed(0)} s into the rounds)`);
    const order = round % 2 ? families : [...families].reverse();
    for (const fam of order) {
      const step = Math.max(1, Math.ceil(fam.length / BUDGET.rounds));
      const offset = ((round - 1) * step) % Math.max(1, fam.length);
      for (let i = 0; i < fam.length; i++) await runOne(fam[(i + offset) % fam.length]!, round);
    }
    // T6 alone with --only=raw-write (no service run then: its writes/s is unknown).
    if (!ONLY || ONLY.includes("raw-write")) await runRaw(round);
    // T7 also in a partial run that measures set-grpc.
    const setGrpc = defs.find((d) => d.key === `set-grpc@${S.id}`);
    if (setGrpc) await runHalfRate(setGrpc, round);
  }
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const selected = SCENARIOS.filter((s) => !s.profileOnly && (!ONLY || ONLY.includes(s.id) || s.id === "grpcjs"));
  const withEtcd = selected.some((s) => s.server === "etcd");
  checkTools(withEtcd);
  // The servers run compiled code: measuring a dist/ older than the sources would measure old code.
  if (ensureDist() !== 0) throw new Error("npm run build failed");
  pinSelf(1);
  mkdirSync(RESULTS, { recursive: true });
  work.dir = mkdtempSync(join(os.tmpdir(), "cm-bench-"));
  const loadAvg = os.loadavg();
  log(`bench: ${QUICK ? "quick" : "full"} run, ${BUDGET.rounds} round(s); warm-up ${BUDGET.warmS} s then about ${BUDGET.runS} s per run; servers on core 0, load and Redis on core 1`);

  await startRedis();
  for (const id of ["bare", "grpcjs", "redis", "sqlite"] as const) servers.set(id, await startServer(id));
  if (withEtcd) servers.set("etcd", await startEtcd());
  if (usesTracing(selected)) await startTracingServers();
  for (const s of servers.values()) log(`  ${s.proc.name.padEnd(15)} pid ${s.proc.pid} ${s.url}`);
  const bigMapBytes = await populate(servers.get("redis")!);
  await populate(servers.get("sqlite")!);
  if (!SKIP.has("typed")) for (const id of ["redis", "sqlite"] as const) await prepareTyped(servers.get(id)!);

  const defs = await selectRuns(selected);
  const phases: Record<string, number> = { setup: 0 };
  const timed = async <T>(phase: string, f: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await f();
    } finally {
      phases[phase] = Math.round((performance.now() - t) / 1000);
    }
  };
  phases.setup = Math.round((performance.now() - startedAt) / 1000);
  await timed("rounds", () => runRounds(defs));

  const summary = summarize(SCENARIOS);
  const durable = durableRows(summary);
  const tracing = tracingRows(summary);
  const results: Results = {
    when: new Date().toISOString(),
    quick: QUICK,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      redis: versionOf("redis-server", ["--version"]).split(" ").slice(0, 3).join(" "),
      ...(withEtcd && { etcd: versionOf("etcd", ["--version"]).replace("Version: ", "") }),
      h2load: versionOf("h2load", ["--version"]),
      wrk: versionOf("wrk", ["-v"]).split(" ").slice(0, 2).join(" "),
      loadAverageAtStart: loadAvg.map((x) => +x.toFixed(2)),
    },
    method: {
      rounds: BUDGET.rounds,
      warmupSeconds: BUDGET.warmS,
      runSeconds: BUDGET.runS,
      serverCore: 0,
      loadCore: 1,
      cpu: "utime+stime of the server process, all threads (/proc/<pid>/stat), over the measured run / calls; schedstat of all threads as cross-check",
      ratios: "per round against @grpc/grpc-js (or etcd) in the same round and shape (HTTP/1.1's 16 connections against 16 x 1); median over rounds",
      writes: "every write scenario changes the map on >= 99 % of its calls (revision delta / calls answered), but the explicit unchanged row",
    },
    calls: Object.fromEntries([...nOf.entries()]),
    scenarios: summary,
    anchors: Object.fromEntries(Object.entries(summary).filter(([k]) => k.startsWith("bare@") || k.startsWith("grpcjs@"))),
    targets: ONLY ? {} : { ...targets(summary), ...durableTargets(durable), ...tracingTargets(tracing) },
    tracing: { note: "the service on Redis with tracing on (sampling nothing; every call sampled and exported over OTLP/HTTP to a sink on core 1) / the same round's run of their twin, an instance with tracing off (the default) that serves only what they serve, with the same calls; twinNoise: the twin / the default instance", rows: tracing },
    durable: { note: "the service on SQLite (synchronous=FULL) against etcd 3.4 (WAL fsync before every ack), both on core 0, data on the same filesystem; 16 sessions / keys; every write a change", rows: durable },
    sqlite: {
      note: "DATA_DIR in a temp dir, synchronous=FULL; every write a change",
      setGrpc: summary[`set-grpc-sqlite@${S.id}`],
      getGrpc: summary[`get-grpc-sqlite@${S.id}`],
      setJson: summary[`set-json-sqlite@${H1.id}`],
      setBigJson: summary[`set-big-json-sqlite@${H1.id}`],
      bigOverSmallWrites: { ...paired(`set-big-json-sqlite@${H1.id}`, `set-json-sqlite@${H1.id}`, (x, y) => x.rps / y.rps), target: ">= 0.9" },
    },
    runs,
    bigMapBytes,
  };

  if (!SKIP.has("typed")) {
    log("typed settings: validation cost per write");
    results.typed = { validation: validationCost(QUICK ? 20_000 : 200_000), rows: typedRows(summary) };
  }
  if (!SKIP.has("alloc")) {
    log("allocation per call (T8)");
    results.alloc = await timed("alloc", allocation);
    results.targets.T8 = allocationTarget(results.alloc);
  }
  if (!SKIP.has("fanout")) {
    log("watch fan-out");
    results.fanout = await timed("fanout", async () => ({ connect: await fanout("connect"), sse: await fanout("sse"), feed: await fanout("feed") }));
  }
  if (!SKIP.has("bigmaps")) {
    log("big map");
    results.bigMaps = await timed("bigMaps", bigMaps);
  }
  if (PROFILE) results.profile = await profile(PROFILE, SCENARIOS);
  results.seconds = Math.round((performance.now() - startedAt) / 1000);
  results.phaseSeconds = phases;

  writeFileSync(join(RESULTS, "latest.json"), JSON.stringify(results, null, 2));
  printReport(results, log);
  if (tracing.length) {
    log("");
    for (const l of tracingLines(tracing)) log(l);
  }
  writePerformanceMd(results, join(RESULTS, "performance.md"));
  log(`\nwrote ${join(RESULTS, "latest.json")} and ${join(RESULTS, "performance.md")} (${results.seconds} s: ${Object.entries(phases).map(([k, v]) => `${k} ${v} s`).join(", ")})`);
}

let cleaning: Promise<void> | undefined;
let interrupted = false;
async function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const s of servers.values()) s.grpc.close();
    await stopAll();
    if (work.dir) rmSync(work.dir, { recursive: true, force: true });
  })();
  return cleaning;
}
process.on("exit", killAllNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

main()
  .then(cleanup)
  .then(() => process.exit(0))
  .catch(async (err: unknown) => {
    if (interrupted) return;
    process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
    await cleanup();
    process.exit(1);
  });
