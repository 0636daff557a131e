// npm run bench                      full run (about 6 minutes)
// npm run bench -- --quick           smoke run for CI (one short round; only a crash fails it)
// npm run bench -- --profile[=<id>]  also a V8 CPU profile of the server for one scenario
//                                    (default set-grpc; e.g. --profile=get-grpc@c16m1,
//                                    --profile=get-big-grpc, --profile=fanout-sse)
// Dev options: --rounds=N, --only=<scenario ids>, --skip=fanout,bigmaps
//
// Method (bench/README.md has the long form):
//   - The service runs compiled (dist/, npm run build) as its own process,
//     bench/server.mjs, pinned to core 0 (taskset -c 0); so do the two
//     anchors, a bare node:http2 gRPC no-op (A) and an @grpc/grpc-js no-op
//     (B). Redis, the load generator and this driver are pinned to core 1.
//   - Load: one h2load process per run (4 connections x 32 streams, and 16 x
//     1), or one wrk process for HTTP/1.1 (Connect JSON, REST; 16
//     connections). Each run: a warm-up of fixed time, then a run bounded in
//     calls (n is set in round 1 from the warm-up's rate) and in time.
//   - Server CPU per call: utime+stime from /proc/<pid>/stat across the
//     measured run / calls answered; schedstat of all threads as a cross-check.
//     The server's own call counters (/metrics) must show every call ok.
//   - Rounds: every scenario once per round, in an order rotated each round.
//     Each ratio is taken per round (against B in that round and shape) and
//     the median over rounds is reported, like every other figure.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { NoopRequestSchema } from "../gen/codexmanager/bench/v1/bench_pb.js";
import { SessionService } from "../gen/codexmanager/settings/v1/session_pb.js";
import {
  GetSettingsRequestSchema,
  GetSettingsResponseSchema,
  SetSettingsRequestSchema,
  SettingsService,
} from "../gen/codexmanager/settings/v1/settings_pb.js";
import { callCounts, countDelta, GrpcConnection, grpcFrame, httpRequest, until } from "./lib/clients.js";
import { h2load, percentile, SHAPES, wrk, type LoadResult, type Shape } from "./lib/load.js";
import { cpuUse, gcRss, killAllNow, mark, pinSelf, quiesce, schedNs, start, stop, stopAll, type CpuMark, type Proc } from "./lib/procs.js";
import { profileMarkdown, summarizeProfile, type ProfileSummary } from "./lib/profile.js";
import { printReport, writeProposal, type Results, type RunRecord, type Summary, type Target } from "./lib/report.js";
import { freePort } from "../test/support/redis.js";
import { ensureDist } from "../scripts/dist.mjs";

const ROOT = join(import.meta.dirname, "..");
const RESULTS = join(import.meta.dirname, "results");
const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const profileArg = argv.find((a) => a === "--profile" || a.startsWith("--profile="));
const PROFILE = profileArg === undefined ? undefined : profileArg.includes("=") ? profileArg.slice("--profile=".length) : "set-grpc";
const ONLY = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");
const SKIP = new Set(argv.find((a) => a.startsWith("--skip="))?.slice("--skip=".length).split(",") ?? []);
const roundsArg = argv.find((a) => a.startsWith("--rounds="));

const BUDGET = QUICK
  ? { rounds: 1, warmS: 0.5, runS: 0.8, cpuFloorS: 0.3, rawCalls: 15_000, watchers: 200, fanoutS: 2, bigReads: 3, readersPer: 2 }
  : { rounds: 5, warmS: 1, runS: 2.5, cpuFloorS: 1.5, rawCalls: 60_000, watchers: 2000, fanoutS: 10, bigReads: 10, readersPer: 10 };
if (roundsArg) BUDGET.rounds = Number(roundsArg.split("=")[1]);

const H1: Shape = { id: "h1c16", c: 16, m: 1 };
const PREFIX = "bench:";
const log = (line = "") => process.stdout.write(`${line}\n`);
const median = (xs: number[]) => {
  const a = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (a.length === 0) return NaN;
  return a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
};
const round3 = (x: number) => (Number.isFinite(x) ? +x.toFixed(3) : x);

// ---------------------------------------------------------------- processes

type ServerId = "bare" | "grpcjs" | "redis" | "sqlite";
interface Server {
  id: ServerId;
  proc: Proc;
  url: string;
  grpc: GrpcConnection;
}

let work = "";
let redis: { proc: Proc; url: string; port: number } | undefined;
const servers = new Map<ServerId, Server>();

function serverEnv(id: ServerId): Record<string, string> {
  const base = { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "warn" };
  if (id === "redis") return { ...base, REDIS_URL: redis!.url, REDIS_PREFIX: PREFIX };
  if (id === "sqlite") return { ...base, DATA_DIR: join(work, "sqlite") };
  return base;
}

const SCRIPTS: Record<ServerId, string> = {
  bare: "bench/anchors/bare-http2.mjs",
  grpcjs: "bench/anchors/grpc-js.mjs",
  redis: "bench/server.mjs",
  sqlite: "bench/server.mjs",
};

async function startServer(id: ServerId, nodeArgs: string[] = []): Promise<Server> {
  const proc = await start(`server-${id}`, [process.execPath, "--expose-gc", ...nodeArgs, SCRIPTS[id]], {
    core: 0,
    cwd: ROOT,
    env: serverEnv(id),
    ready: true,
  });
  const url = `http://127.0.0.1:${proc.port}`;
  return { id, proc, url, grpc: new GrpcConnection(url) };
}

async function stopServer(s: Server): Promise<void> {
  s.grpc.close();
  await stop(s.proc);
}


function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.setTimeout(500, () => s.destroy());
    s.once("error", () => resolve(false));
    s.once("close", () => resolve(false));
    s.once("connect", () => s.write("PING\r\n"));
    s.once("data", (d) => {
      resolve(d.toString().startsWith("+PONG"));
      s.destroy();
    });
  });
}

async function startRedis(): Promise<void> {
  const port = await freePort();
  const dir = join(work, "redis");
  mkdirSync(dir);
  const proc = await start("redis", ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
    core: 1,
    stderr: "ignore",
  });
  await until("redis-server to answer PING", () => redisPing(port), 10_000);
  redis = { proc, url: `redis://127.0.0.1:${port}`, port };
}

// ---------------------------------------------------------------- messages

const PATHS = {
  noop: "/codexmanager.bench.v1.BenchService/Noop",
  get: "/codexmanager.settings.v1.SettingsService/GetSettings",
  set: "/codexmanager.settings.v1.SettingsService/SetSettings",
};
const numberValue = (v: number) => create(ValueSchema, { kind: { case: "numberValue", value: v } });
const setFrame = (sessionId: string, key: string, v: number) =>
  grpcFrame(toBinary(SetSettingsRequestSchema, create(SetSettingsRequestSchema, { sessionId, update: { case: "entry", value: { key, value: numberValue(v) } } })));
const getFrame = (sessionId: string, key?: string) => grpcFrame(toBinary(GetSettingsRequestSchema, create(GetSettingsRequestSchema, { sessionId, key })));
const noopFrame = grpcFrame(toBinary(NoopRequestSchema, create(NoopRequestSchema)));

async function revisionOf(s: Server, sessionId: string): Promise<bigint> {
  const a = await s.grpc.ok(PATHS.get, getFrame(sessionId, "k"));
  return fromBinary(GetSettingsResponseSchema, a.message).revision;
}

// ---------------------------------------------------------------- data

const TEN_KEYS = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`key${i}`, { n: i, text: "value" }]));
/** A ~400-byte JSON string per key: 10,000 of them make a map of about 4 MB (the 4 MiB limit holds it). */
const bigValue = (i: number) => `v${i}-`.padEnd(400, "abcdefghijklmnopqrstuvwxyz0123456789");

async function populate(s: Server): Promise<void> {
  const t = createGrpcTransport({ baseUrl: s.url });
  const sessions = createClient(SessionService, t);
  const settings = createClient(SettingsService, t);
  const ids = s.id === "redis" ? ["bench-set", "bench-get", "bench-big", "bench-raw", "bench-small", "bench-watch"] : ["bench-set", "bench-get", "bench-big"];
  for (const sessionId of ids) {
    await sessions.createSession({ sessionId });
    if (sessionId !== "bench-big") await settings.setSettings({ sessionId, update: { case: "object", value: { settings: TEN_KEYS } } });
  }
  // 9,999 big keys plus the key every write sets ("k"): the map sits at the 10,000-key limit.
  for (let batch = 0; batch < 10; batch++) {
    const part: Record<string, string> = {};
    for (let i = batch * 1000; i < Math.min(9999, (batch + 1) * 1000); i++) part[`key${String(i).padStart(4, "0")}`] = bigValue(i);
    await settings.setSettings({ sessionId: "bench-big", update: { case: "object", value: { settings: part } } });
  }
  await settings.setSettings({ sessionId: "bench-big", update: { case: "entry", value: { key: "k", value: numberValue(0) } } });
  const big = await s.grpc.ok(PATHS.get, getFrame("bench-big"));
  const keys = Object.keys(fromBinary(GetSettingsResponseSchema, big.message).settings ?? {}).length;
  if (keys !== 10_000) throw new Error(`bench-big holds ${keys} keys on ${s.id}, not 10,000`);
  bigMapBytes = big.message.length;
}
let bigMapBytes = 0;

// ---------------------------------------------------------------- scenarios

interface Scenario {
  id: string;
  label: string;
  server: ServerId;
  load: "h2load" | "wrk";
  path: string;
  /** gRPC frame (h2load) or JSON with %d (wrk: a counter, so that every write changes the map). */
  body: Buffer | string;
  shapes: Shape[];
  /** The server's call counter this scenario must move (protocol, procedure). */
  procedure?: [string, string];
  /** The session whose revision delta says how many writes changed the map. */
  writes?: string;
  /** Not in the rounds; for --profile only (calls in the profiled run). */
  profileOnly?: number;
}

const S = SHAPES.c4m32!;
const M = SHAPES.c16m1!;
const SCENARIOS: Scenario[] = [
  { id: "bare", label: "A: bare node:http2 gRPC no-op", server: "bare", load: "h2load", path: PATHS.noop, body: noopFrame, shapes: [S, M] },
  { id: "grpcjs", label: "B: @grpc/grpc-js no-op", server: "grpcjs", load: "h2load", path: PATHS.noop, body: noopFrame, shapes: [S, M] },
  { id: "noop-grpc", label: "BenchService/Noop, gRPC", server: "redis", load: "h2load", path: PATHS.noop, body: noopFrame, shapes: [S, M], procedure: ["grpc", "Noop"] },
  { id: "set-grpc", label: "SetSettings 1 key, gRPC, Redis", server: "redis", load: "h2load", path: PATHS.set, body: setFrame("bench-set", "k", 1), shapes: [S, M], procedure: ["grpc", "SetSettings"], writes: "bench-set" },
  { id: "get-grpc", label: "GetSettings 10 keys, gRPC, Redis", server: "redis", load: "h2load", path: PATHS.get, body: getFrame("bench-get"), shapes: [S, M], procedure: ["grpc", "GetSettings"] },
  { id: "set-big-grpc", label: "SetSettings 1 key into 10,000, gRPC, Redis", server: "redis", load: "h2load", path: PATHS.set, body: setFrame("bench-big", "k", 1), shapes: [S], procedure: ["grpc", "SetSettings"], writes: "bench-big" },
  { id: "noop-json", label: "BenchService/Noop, Connect JSON h1", server: "redis", load: "wrk", path: PATHS.noop, body: "{}", shapes: [H1], procedure: ["connect", "Noop"] },
  { id: "set-json", label: "SetSettings 1 key, Connect JSON h1, Redis", server: "redis", load: "wrk", path: PATHS.set, body: '{"sessionId":"bench-set","entry":{"key":"k","value":%d}}', shapes: [H1], procedure: ["connect", "SetSettings"], writes: "bench-set" },
  { id: "set-big-json", label: "SetSettings 1 key into 10,000, Connect JSON h1, Redis", server: "redis", load: "wrk", path: PATHS.set, body: '{"sessionId":"bench-big","entry":{"key":"k","value":%d}}', shapes: [H1], procedure: ["connect", "SetSettings"], writes: "bench-big" },
  { id: "set-rest", label: "SetSettings 1 key, REST h1, Redis", server: "redis", load: "wrk", path: "/api/sessions/bench-set/settings", body: '{"key":"k","value":%d}', shapes: [H1], procedure: ["rest", "SetSettings"], writes: "bench-set" },
  { id: "set-grpc-sqlite", label: "SetSettings 1 key, gRPC, SQLite", server: "sqlite", load: "h2load", path: PATHS.set, body: setFrame("bench-set", "k", 1), shapes: [S], procedure: ["grpc", "SetSettings"], writes: "bench-set" },
  { id: "get-grpc-sqlite", label: "GetSettings 10 keys, gRPC, SQLite", server: "sqlite", load: "h2load", path: PATHS.get, body: getFrame("bench-get"), shapes: [S], procedure: ["grpc", "GetSettings"] },
  { id: "set-json-sqlite", label: "SetSettings 1 key, Connect JSON h1, SQLite", server: "sqlite", load: "wrk", path: PATHS.set, body: '{"sessionId":"bench-set","entry":{"key":"k","value":%d}}', shapes: [H1], procedure: ["connect", "SetSettings"], writes: "bench-set" },
  { id: "get-big-grpc", label: "GetSettings of the 10,000-key map (~4 MiB), gRPC, Redis", server: "redis", load: "h2load", path: PATHS.get, body: getFrame("bench-big"), shapes: [M], procedure: ["grpc", "GetSettings"], profileOnly: 160 },
  { id: "set-big-json-sqlite", label: "SetSettings 1 key into 10,000, Connect JSON h1, SQLite", server: "sqlite", load: "wrk", path: PATHS.set, body: '{"sessionId":"bench-big","entry":{"key":"k","value":%d}}', shapes: [H1], procedure: ["connect", "SetSettings"], writes: "bench-big" },
];

interface RunDef {
  key: string;
  scenario: Scenario;
  shape: Shape;
  bodyFile: string;
}

/** The anchor B run a scenario's ratio is taken against: same shape; HTTP/1.1's 16 connections pair with 16 x 1. */
const anchorKey = (shape: Shape) => `grpcjs@${shape.id === S.id ? S.id : M.id}`;

const nOf = new Map<string, number>();
const warmRate = new Map<string, number>();
const runs: RunRecord[] = [];

interface DriveOptions {
  n?: number;
  durationS?: number;
  latencies?: boolean;
  rpsPerConnection?: number;
  extraArgs?: string[];
  timeoutMs?: number;
}

async function drive(def: RunDef, opts: DriveOptions): Promise<LoadResult> {
  const srv = servers.get(def.scenario.server)!;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  if (def.scenario.load === "h2load") {
    return h2load({
      url: srv.url + def.scenario.path,
      shape: def.shape,
      n: opts.n ?? 0,
      durationS: opts.durationS,
      bodyFile: def.bodyFile,
      latencies: opts.latencies,
      rpsPerConnection: opts.rpsPerConnection,
      extraArgs: opts.extraArgs,
      dir: work,
      timeoutMs,
    });
  }
  return wrk({ url: srv.url + def.scenario.path, body: def.scenario.body as string, connections: def.shape.c, n: opts.n, seconds: opts.durationS ?? timeoutMs / 1000, dir: work });
}

/**
 * Waits until a server has finished what an earlier run left in flight (a warm-up bounded in
 * time stops with calls outstanding): its CPU is idle and, for the service, its call counters
 * stop moving (a call waiting on Redis costs no CPU).
 */
async function settle(srv: Server): Promise<void> {
  await quiesce(srv.proc.pid);
  if (srv.id !== "redis" && srv.id !== "sqlite") return;
  const deadline = performance.now() + 10_000;
  let before = JSON.stringify([...(await callCounts(srv.url))]);
  for (;;) {
    await new Promise((r) => setTimeout(r, 25));
    const now = JSON.stringify([...(await callCounts(srv.url))]);
    if (now === before) return;
    if (performance.now() > deadline) throw new Error(`${srv.id}: calls still finishing 10 s after a run`);
    before = now;
  }
}

interface Measured {
  result: LoadResult;
  cpu: ReturnType<typeof cpuUse>;
  redisUs?: number;
  changedPct?: number;
}

/** One measured run: counters, revision and CPU read right before and right after it, outside its window. */
async function measure(def: RunDef, n: number, opts: DriveOptions & { timeoutMs: number }): Promise<Measured> {
  const srv = servers.get(def.scenario.server)!;
  const sc = def.scenario;
  await settle(srv);
  const counts0 = sc.procedure ? await callCounts(srv.url) : undefined;
  const rev0 = sc.writes ? await revisionOf(srv, sc.writes) : undefined;
  const onRedis = sc.server === "redis";
  const r0: CpuMark | undefined = onRedis ? mark(redis!.proc.pid) : undefined;
  const m0 = mark(srv.proc.pid);
  const result = await drive(def, { ...opts, n, latencies: true });
  const m1 = mark(srv.proc.pid);
  const r1: CpuMark | undefined = onRedis ? mark(redis!.proc.pid) : undefined;
  // wrk stops with calls in flight: let the server answer them before reading its counters.
  if (sc.load === "wrk") await settle(srv);
  const out: Measured = { result, cpu: cpuUse(m0, m1, result.calls) };
  if (r0 && r1) out.redisUs = cpuUse(r0, r1, result.calls).cpuUs;
  let served = result.calls;
  if (sc.procedure) {
    const d = countDelta(counts0!, await callCounts(srv.url), sc.procedure[0], sc.procedure[1]);
    served = d.ok;
    if (Object.keys(d.failed).length > 0) throw new Error(`${def.key}: the server answered errors: ${JSON.stringify(d.failed)}`);
    // wrk stops with up to one call per connection still in flight; the server answers those too.
    const slack = sc.load === "wrk" ? def.shape.c : 0;
    if (d.ok < result.calls || d.ok > result.calls + slack) throw new Error(`${def.key}: the server counted ${d.ok} ok calls, the load generator ${result.calls}`);
  }
  // Of the writes the server answered (wrk's last ones in flight included), the share that changed the map.
  if (sc.writes) out.changedPct = (100 * Number((await revisionOf(srv, sc.writes)) - rev0!)) / served;
  return out;
}

async function runOne(def: RunDef, round: number): Promise<void> {
  const pid = servers.get(def.scenario.server)!.proc.pid;
  const w0 = mark(pid);
  const warm = await drive(def, { durationS: BUDGET.warmS, timeoutMs: BUDGET.warmS * 1000 + 30_000 });
  const warmCpuUs = cpuUse(w0, mark(pid), warm.calls).schedUs;
  if (!nOf.has(def.key)) {
    // About runS of calls at the warm-up's rate, and at least enough for cpuFloorS of server CPU
    // (150 clock ticks in a full run: /proc/<pid>/stat counts in 10 ms ticks), whatever the
    // neighbours did to the warm-up's rate.
    warmRate.set(def.key, warm.rps);
    const byRate = warm.rps * BUDGET.runS;
    const byCpu = (BUDGET.cpuFloorS * 1e6) / Math.max(1, warmCpuUs);
    nOf.set(def.key, Math.round(Math.max(300, Math.min(200_000, Math.max(byRate, byCpu)))));
  }
  const n = nOf.get(def.key)!;
  // Bounded in time as well: far past what the warm-up's rate predicts, the run fails.
  const timeoutMs = Math.max(20_000, (10_000 * n) / Math.max(1, warmRate.get(def.key)!));
  const m = await measure(def, n, { timeoutMs });
  record(round, def.key, def.scenario.id, def.shape.id, m);
}

function record(round: number, key: string, scenario: string, shape: string, m: Measured): RunRecord {
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
  };
  runs.push(r);
  log(
    `  r${round} ${key.padEnd(26)} ${String(r.calls).padStart(6)} calls ${r.rps.toFixed(0).padStart(6)}/s  ` +
      `p50 ${r.p50Ms.toFixed(2).padStart(6)} p99 ${r.p99Ms.toFixed(2).padStart(7)} ms  ` +
      `${r.cpuUs.toFixed(1).padStart(6)} µs/call (${r.ticks} ticks; schedstat ${r.schedUs.toFixed(1)})` +
      `${r.changedPct === undefined ? "" : `  changed ${r.changedPct.toFixed(0)}%`}  core0 other ${r.otherCore0Pct.toFixed(0)}%`,
  );
  return r;
}

/**
 * T7: SetSettings at half the rate this round measured at saturation (4 x 32), h2load --rps.
 * h2load's rate timer ticks every 10 ms and sends what is due in one burst, and all connections
 * start together, so their bursts coincide; the connections are therefore started 3 ms apart
 * (-r 1 --rate-period 3ms), which spreads the bursts over the 10 ms. Without that, p50 measures
 * mostly the client's own bursts (a 5 ms queue at half rate).
 */
async function runHalfRate(def: RunDef, round: number): Promise<void> {
  const max = runs.find((r) => r.round === round && r.key === def.key)?.rps;
  if (!max) return;
  const rate = max / 2;
  const n = Math.max(200, Math.round(rate * BUDGET.runS * 1.5));
  const m = await measure(def, n, {
    rpsPerConnection: Math.max(1, Math.round(rate / def.shape.c)),
    extraArgs: ["-r", "1", "--rate-period=3ms"],
    timeoutMs: Math.max(20_000, (4000 * n) / rate),
  });
  record(round, "set-grpc@half-rate", "set-grpc@half-rate", def.shape.id, m);
}

/** T6: the write script straight through ioredis from a process of its own on core 1, 64 in flight. */
async function runRaw(round: number): Promise<void> {
  const proc = await start("raw-evalsha", [process.execPath, "bench/raw-evalsha.mjs", redis!.url, PREFIX, "bench-raw", String(BUDGET.rawCalls), "64"], { core: 1, cwd: ROOT });
  const timed = proc.nextLine("TIMED", 120_000);
  const result = proc.nextLine("RESULT", 120_000);
  await timed;
  const r0 = mark(redis!.proc.pid);
  const c0 = mark(proc.pid);
  const line = await result;
  const r1 = mark(redis!.proc.pid);
  const c1 = mark(proc.pid);
  await proc.exited;
  const r = JSON.parse(line.slice("RESULT ".length)) as { calls: number; seconds: number; rps: number; changed: number };
  // Redis's CPU per script call, and the client's: both share core 1, which bounds the rate.
  const redisUs = cpuUse(r0, r1, r.calls).schedUs;
  const clientUs = cpuUse(c0, c1, r.calls).schedUs;
  const rec: RunRecord = { round, key: "raw-evalsha", scenario: "raw-evalsha", shape: "64 in flight", calls: r.calls, rps: r.rps, p50Ms: NaN, p99Ms: NaN, cpuUs: NaN, schedUs: NaN, ticks: 0, otherCore0Pct: NaN, changedPct: 100 * r.changed, redisUs, clientUs };
  runs.push(rec);
  log(`  r${round} ${"raw-evalsha".padEnd(26)} ${String(r.calls).padStart(6)} calls ${r.rps.toFixed(0).padStart(6)}/s  changed ${(100 * r.changed).toFixed(0)}%  Redis ${redisUs.toFixed(1)} µs/call, client ${clientUs.toFixed(1)} µs/call`);
}

// ---------------------------------------------------------------- summaries and targets

function summarize(): Record<string, Summary> {
  const out: Record<string, Summary> = {};
  for (const key of [...new Set(runs.map((r) => r.key))]) {
    const rs = runs.filter((r) => r.key === key);
    const first = rs[0]!;
    const anchor = first.shape === "64 in flight" ? undefined : anchorKey({ id: first.shape, c: 0, m: 0 });
    const ratios = anchor
      ? rs.map((r) => {
          const b = runs.find((x) => x.key === anchor && x.round === r.round);
          return b ? r.cpuUs / b.cpuUs : NaN;
        })
      : [];
    const sc = SCENARIOS.find((s) => s.id === first.scenario);
    out[key] = {
      key,
      label: sc?.label ?? (key === "raw-evalsha" ? "raw EVALSHA of the write script (ioredis, 64 in flight)" : key === "set-grpc@half-rate" ? "SetSettings 1 key, gRPC, Redis, at half its max rate" : key),
      shape: first.shape,
      rounds: rs.length,
      calls: first.calls,
      rps: median(rs.map((r) => r.rps)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      cpuUs: median(rs.map((r) => r.cpuUs)),
      schedUs: median(rs.map((r) => r.schedUs)),
      ratioToGrpcJs: round3(median(ratios)),
      ratios: ratios.map(round3),
      otherCore0Pct: median(rs.map((r) => r.otherCore0Pct)),
      redisUs: rs[0]!.redisUs === undefined ? undefined : median(rs.map((r) => r.redisUs!)),
      clientUs: rs[0]!.clientUs === undefined ? undefined : median(rs.map((r) => r.clientUs!)),
      changedPct: rs[0]!.changedPct === undefined ? undefined : median(rs.map((r) => r.changedPct!)),
    };
  }
  return out;
}

/** Median over rounds of f(run of a, run of b in the same round). */
function paired(a: string, b: string, f: (x: RunRecord, y: RunRecord) => number): { median: number; perRound: number[] } {
  const values = runs
    .filter((r) => r.key === a)
    .map((x) => {
      const y = runs.find((r) => r.key === b && r.round === x.round);
      return y ? f(x, y) : NaN;
    });
  return { median: round3(median(values)), perRound: values.map(round3) };
}

function targets(sum: Record<string, Summary>): Record<string, Target> {
  const t: Record<string, Target> = {};
  const worst = (keys: string[]) => Math.max(...keys.map((k) => sum[k]?.ratioToGrpcJs ?? NaN));
  const perShape = (id: string) => Object.fromEntries([S, M].map((sh) => [sh.id, sum[`${id}@${sh.id}`]?.ratioToGrpcJs ?? null]));
  const cpuTarget = (name: string, id: string, limit: number): Target => {
    const measured = round3(worst([`${id}@${S.id}`, `${id}@${M.id}`]));
    return { name, measured, target: `<= ${limit}`, pass: measured <= limit, detail: { byShape: perShape(id), note: "worse of the two shapes" } };
  };
  t.T1 = cpuTarget("gRPC no-op (BenchService/Noop) CPU/call / grpc-js no-op", "noop-grpc", 1.5);
  t.T2 = cpuTarget("SetSettings over gRPC (Redis) CPU/call / grpc-js no-op", "set-grpc", 2.5);
  t.T3 = cpuTarget("GetSettings 10 keys over gRPC (Redis) CPU/call / grpc-js no-op", "get-grpc", 2.5);
  const json = sum[`set-json@${H1.id}`]?.ratioToGrpcJs ?? NaN;
  const rest = paired(`set-rest@${H1.id}`, `set-json@${H1.id}`, (x, y) => x.cpuUs / y.cpuUs);
  t.T4 = {
    name: "SetSettings over Connect JSON h1 CPU/call / grpc-js no-op (16 x 1); and REST / Connect JSON CPU/call",
    measured: json,
    shown: `${json.toFixed(2)}; REST / Connect JSON ${rest.median.toFixed(2)}`,
    target: "<= 3.0, and REST <= 1.2x Connect JSON",
    pass: json <= 3.0 && rest.median <= 1.2,
    detail: { connectJson: json, restOverConnectJson: rest.median, restOverConnectJsonPerRound: rest.perRound },
  };
  const big = paired(`set-big-json@${H1.id}`, `set-json@${H1.id}`, (x, y) => x.rps / y.rps);
  const bigGrpc = paired(`set-big-grpc@${S.id}`, `set-grpc@${S.id}`, (x, y) => x.rps / y.rps);
  t.T5 = {
    name: "1-key write into a 10,000-key map: calls/s / the 10-key map's (Redis; Connect JSON, every write a change)",
    measured: big.median,
    target: ">= 0.9",
    pass: big.median >= 0.9,
    shown: `${big.median.toFixed(2)} (CPU/call ratio ${paired(`set-big-json@${H1.id}`, `set-json@${H1.id}`, (x, y) => x.cpuUs / y.cpuUs).median.toFixed(2)})`,
    detail: {
      perRound: big.perRound,
      // The same pair in CPU per call (server, and Redis): calls/s with 16 calls in flight follows latency, which the neighbours move.
      serverCpuRatio: paired(`set-big-json@${H1.id}`, `set-json@${H1.id}`, (x, y) => x.cpuUs / y.cpuUs).median,
      redisCpuRatio: paired(`set-big-json@${H1.id}`, `set-json@${H1.id}`, (x, y) => x.redisUs! / y.redisUs!).median,
      grpc: bigGrpc.median,
      grpcPerRound: bigGrpc.perRound,
      grpcNote: "gRPC repeats one body, so few of its writes change the map",
    },
  };
  const raw = paired("raw-evalsha", `set-grpc@${S.id}`, (x, y) => x.rps / y.rps);
  const rawSum = sum["raw-evalsha"];
  const jsonWrite = sum[`set-json@${H1.id}`];
  t.T6 = {
    name: "raw EVALSHA of the write script calls/s / the service's gRPC SetSettings calls/s (4 x 32)",
    measured: raw.median,
    target: ">= 10",
    pass: raw.median >= 10,
    detail: {
      perRound: raw.perRound,
      rawRps: rawSum?.rps,
      serviceRps: sum[`set-grpc@${S.id}`]?.rps,
      redisUsPerRawCall: rawSum?.redisUs,
      clientUsPerRawCall: rawSum?.clientUs,
      redisUsPerServiceWrite: jsonWrite?.redisUs,
      note: "Redis and the raw client share core 1; one core of Redis alone runs 1e6 / redisUsPerRawCall scripts/s",
    },
  };
  const half = paired("set-grpc@half-rate", "set-grpc@half-rate", (x) => x.p99Ms / x.p50Ms);
  const h = sum["set-grpc@half-rate"];
  t.T7 = {
    name: "SetSettings over gRPC at half its max rate: p99 / p50",
    measured: half.median,
    target: "<= 3",
    pass: half.median <= 3,
    detail: { perRound: half.perRound, rps: h?.rps, p50Ms: h?.p50Ms, p99Ms: h?.p99Ms },
  };
  return t;
}

// ---------------------------------------------------------------- watch fan-out (F)

interface LatencyStats {
  samples: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function stats(ms: number[], failures: number): LatencyStats {
  const s = [...ms].sort((a, b) => a - b);
  return { samples: s.length, failures, p50Ms: round3(percentile(s, 50)), p99Ms: round3(percentile(s, 99)), maxMs: round3(s[s.length - 1] ?? NaN) };
}

/** Probes GET /healthz every `everyMs` (one keep-alive connection) until stopped. */
/**
 * Calls `call` every `everyMs` (or back to back when it takes longer) until stopped; `call` answers its
 * latency in ms, or undefined for a failed call (so does a throw).
 */
function pacedProbe(everyMs: number, call: () => Promise<number | undefined>): { stop: () => Promise<LatencyStats> } {
  const ms: number[] = [];
  let failures = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const took = await call().catch(() => undefined);
      if (took === undefined) failures++;
      else ms.push(took);
      const wait = everyMs - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return stats(ms, failures);
    },
  };
}

function healthProbe(url: string, everyMs = 20): { stop: () => Promise<LatencyStats> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const probe = pacedProbe(everyMs, async () => {
    const r = await httpRequest(`${url}/healthz`, { agent, timeoutMs: 2000 });
    return r.status === 200 ? r.ms : undefined;
  });
  return {
    stop: async () => {
      const result = await probe.stop();
      agent.destroy();
      return result;
    },
  };
}

async function watchStreams(url: string): Promise<number> {
  const r = await httpRequest(`${url}/metrics`);
  let n = 0;
  for (const m of r.body.matchAll(/^settings_watch_streams\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

async function fanout(mode: "connect" | "sse", profileDir?: string): Promise<Record<string, unknown>> {
  const count = BUDGET.watchers;
  // A fresh server per path, so that what the watchers hold is all that grows.
  const srv = await startServer("redis", profileDir ? ["--cpu-prof", "--cpu-prof-interval=250", `--cpu-prof-dir=${profileDir}`] : []);
  const window = { from: 0, to: 0 };
  try {
    // A few watchers on the same path first, then gone: what the first watch sets up once
    // (the Redis subscriber, code paths compiled) is not counted per watcher.
    const warm = await start(`watchers-${mode}-warm-up`, [process.execPath, "bench/watchers.mjs", srv.url, "bench-watch", "20", mode, "2", "250"], { core: 1, cwd: ROOT });
    await warm.nextLine("CREATED", 60_000);
    warm.child.stdin!.end();
    await warm.exited;
    await until("the warm-up watches to close", async () => (await watchStreams(srv.url)) === 0, 20_000);
    const rssBefore = await gcRss(srv.proc);
    const client = await start(`watchers-${mode}`, [process.execPath, "bench/watchers.mjs", srv.url, "bench-watch", String(count), mode, "2", "250"], { core: 1, cwd: ROOT });
    const created = await client.nextLine("CREATED", 180_000);
    const rssAfter = await gcRss(srv.proc);
    const streams = await watchStreams(srv.url);
    const health = healthProbe(srv.url);
    const m0 = mark(srv.proc.pid);
    const c0 = mark(client.pid);
    if (profileDir) window.from = await hrtimeMark(srv.proc);
    const result = client.nextLine("RESULT", (BUDGET.fanoutS + 60) * 1000);
    client.send(`go 10 ${BUDGET.fanoutS}`);
    const line = await result;
    const m1 = mark(srv.proc.pid);
    const c1 = mark(client.pid);
    if (profileDir) window.to = await hrtimeMark(srv.proc);
    const healthz = await health.stop();
    client.child.stdin!.end();
    await client.exited;
    const r = JSON.parse(line.slice("RESULT ".length)) as Record<string, number | string | string[]>;
    const cpu = cpuUse(m0, m1, Number(r.deliveries) || 1);
    const clientCpu = cpuUse(c0, c1, Number(r.deliveries) || 1);
    // Share of one core each used while the writes were delivered: a client near 100 % would time its own queue.
    const busyPct = (u: typeof cpu) => +((100 * u.schedUs * (Number(r.deliveries) || 1)) / 1e6 / u.seconds).toFixed(0);
    const out = {
      path:
        mode === "connect"
          ? "Connect streaming (binary, over node:http2, 250 streams per connection)"
          : "SSE /api/sessions/:id/settings/events (node:http, one connection each)",
      watchers: count,
      streamsOnServer: streams,
      openMs: Number(/ms=(\d+)/.exec(created)?.[1]),
      rssBeforeMb: +(rssBefore / 2 ** 20).toFixed(1),
      rssAfterMb: +(rssAfter / 2 ** 20).toFixed(1),
      rssPerWatcherKb: +((rssAfter - rssBefore) / count / 1024).toFixed(2),
      writesPerSecond: 10,
      writes: r.writes,
      deliveries: r.deliveries,
      expectedDeliveries: r.expected,
      watchersBehind: r.behind,
      streamsEnded: r.ended,
      errors: r.errors,
      deliveryP50Ms: round3(Number(r.p50Ms)),
      deliveryP99Ms: round3(Number(r.p99Ms)),
      deliveryMaxMs: round3(Number(r.maxMs)),
      serverCpuUsPerDelivery: +cpu.schedUs.toFixed(2),
      clientCpuUsPerDelivery: +clientCpu.schedUs.toFixed(2),
      serverBusyPct: busyPct(cpu),
      clientBusyPct: busyPct(clientCpu),
      healthz,
      targets: {
        rssPerWatcher: { target: "<= 10 KB", pass: (rssAfter - rssBefore) / count / 1024 <= 10 },
        deliveryP99: { target: "<= 250 ms", pass: Number(r.p99Ms) <= 250 && r.deliveries === r.expected },
        healthzP99: { target: "<= 100 ms", pass: healthz.p99Ms <= 100 && healthz.failures === 0 },
      },
    };
    log(
      `  fan-out ${mode}: ${count} watchers, RSS ${out.rssBeforeMb} -> ${out.rssAfterMb} MB (${out.rssPerWatcherKb} KB each); ` +
        `delivery p50 ${out.deliveryP50Ms} p99 ${out.deliveryP99Ms} max ${out.deliveryMaxMs} ms (${r.deliveries}/${r.expected}); healthz p99 ${healthz.p99Ms} ms; ` +
        `busy: server ${out.serverBusyPct}%, client ${out.clientBusyPct}% of a core`,
    );
    if (profileDir) {
      await stopServer(srv);
      const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
      if (file) (out as Record<string, unknown>).profile = summarizeProfile(join(profileDir, file), window.from, 25, window.to);
    }
    return out;
  } finally {
    await stopServer(srv);
  }
}

/** process.hrtime µs of a child.mjs process now (the clock of its --cpu-prof samples). */
async function hrtimeMark(proc: Proc): Promise<number> {
  const line = proc.nextLine("MARK", 10_000);
  proc.send("mark");
  return Number(/t=(\d+)/.exec(await line)![1]);
}

// ---------------------------------------------------------------- big maps (G)

async function bigMaps(): Promise<Record<string, unknown>> {
  const srv = servers.get("redis")!;
  const pid = srv.proc.pid;
  const readFrame = getFrame("bench-big");
  const uncached: number[] = [];
  const cached: number[] = [];
  const wall: { uncached: number[]; cached: number[] } = { uncached: [], cached: [] };
  let bytes = 0;
  let value = 1_000_000;
  // Two reads at each revision: the first after a change (nothing cached), the second at the same revision.
  for (let i = 0; i < BUDGET.bigReads + 1; i++) {
    await srv.grpc.ok(PATHS.set, setFrame("bench-big", "k", value++));
    for (const [list, times] of [[uncached, wall.uncached], [cached, wall.cached]] as const) {
      const ns0 = schedNs(pid);
      const a = await srv.grpc.ok(PATHS.get, readFrame, 30_000);
      const ns1 = schedNs(pid);
      bytes = a.message.length;
      // The first pair warms up (JIT, buffers) and is not counted.
      if (i > 0) {
        list.push((ns1 - ns0) / 1e6);
        times.push(a.ms);
      }
    }
  }
  const ms = (xs: number[]) => ({ median: round3(median(xs)), max: round3(Math.max(...xs)), all: xs.map(round3) });

  // 16 concurrent readers of the big map (h2load, 16 x 1), while /healthz and a small session are called beside them.
  const readers = async (withWrites: boolean) => {
    const bodyFile = join(work, "big-get.bin");
    writeFileSync(bodyFile, readFrame);
    const health = healthProbe(srv.url);
    const small = new GrpcConnection(srv.url);
    const smallFrame = getFrame("bench-small");
    const smallProbe = pacedProbe(20, async () => {
      const a = await small.call(PATHS.get, smallFrame, 1000);
      return a.grpcStatus === 0 ? a.ms : undefined;
    });
    const writeProbe = withWrites
      ? pacedProbe(100, async () => {
          const a = await srv.grpc.call(PATHS.set, setFrame("bench-big", "k", value++), 5000);
          return a.grpcStatus === 0 ? a.ms : undefined;
        })
      : undefined;
    const m0 = mark(pid);
    let load: LoadResult;
    let probesStopped: Promise<[LatencyStats, LatencyStats | undefined]>;
    try {
      load = await h2load({ url: srv.url + PATHS.get, shape: M, n: 16 * BUDGET.readersPer, bodyFile, dir: work, timeoutMs: 180_000, latencies: true, allowErrors: true });
    } finally {
      // stop() ends each loop at once; their last calls finish outside the measured window, as before.
      probesStopped = Promise.all([smallProbe.stop(), writeProbe?.stop()]);
    }
    const m1 = mark(pid);
    const [smallSession, writes] = await probesStopped;
    small.close();
    const healthz = await health.stop();
    const cpu = cpuUse(m0, m1, load.calls);
    return {
      readers: 16,
      reads: load.calls,
      readErrors: load.errors,
      readsPerSecond: +load.rps.toFixed(1),
      readP50Ms: round3(load.p50Ms),
      readP99Ms: round3(load.p99Ms),
      serverCpuMsPerRead: round3(cpu.cpuUs / 1000),
      healthz,
      smallSession,
      ...(writes && { writes }),
      pass: healthz.p99Ms <= 100 && healthz.failures === 0 && smallSession.failures === 0 && load.errors === 0,
    };
  };
  const quiet = await readers(false);
  const changing = await readers(true);
  const out = {
    keys: 10_000,
    responseBytes: bytes,
    uncachedCpuMs: ms(uncached),
    cachedCpuMs: ms(cached),
    uncachedWallMs: ms(wall.uncached),
    cachedWallMs: ms(wall.cached),
    readers16: quiet,
    readers16WithWrites: changing,
    targets: {
      uncached: { target: "<= 30 ms CPU", measured: round3(median(uncached)), pass: median(uncached) <= 30 },
      cached: { target: "<= 1 ms CPU", measured: round3(median(cached)), pass: median(cached) <= 1 },
      readers16: { target: "/healthz p99 <= 100 ms, no failed or timed-out call to a small session", measured: quiet.healthz.p99Ms, pass: quiet.pass },
    },
  };
  log(
    `  big map (${(bytes / 2 ** 20).toFixed(2)} MiB): GetSettings CPU uncached ${out.uncachedCpuMs.median} ms, cached ${out.cachedCpuMs.median} ms; ` +
      `16 readers: healthz p99 ${quiet.healthz.p99Ms} ms, small session p99 ${quiet.smallSession.p99Ms} ms, ${quiet.smallSession.failures} failures`,
  );
  return out;
}

// ---------------------------------------------------------------- profile

async function profile(id: string): Promise<{ scenario: string; file: string; summary: ProfileSummary } | undefined> {
  if (id === "fanout-connect" || id === "fanout-sse") {
    // The server of a fan-out run, profiled over its write phase (10 writes/s to every watcher).
    const dir = join(RESULTS, `profile-${id}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const out = await fanout(id === "fanout-connect" ? "connect" : "sse", dir);
    const summary = out.profile as ProfileSummary | undefined;
    if (!summary) throw new Error(`no .cpuprofile in ${dir}`);
    log(`\nCPU profile of the server for ${id} (the write phase):\n`);
    log(profileMarkdown(summary));
    return { scenario: id, file: summary.file, summary };
  }
  const [sid, shapeId] = id.split("@");
  const sc = SCENARIOS.find((s) => s.id === sid);
  if (!sc) throw new Error(`--profile=${id}: no such scenario (${SCENARIOS.map((s) => s.id).join(", ")})`);
  const shape = sc.shapes.find((s) => s.id === (shapeId ?? sc.shapes[0]!.id));
  if (!shape) throw new Error(`--profile=${id}: ${sid} runs in ${sc.shapes.map((s) => s.id).join(", ")}`);
  const dir = join(RESULTS, `profile-${sid}@${shape.id}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The running server of that kind gives way (SQLite allows one process per DATA_DIR).
  const running = servers.get(sc.server);
  if (running) await stopServer(running);
  const srv = await startServer(sc.server, ["--cpu-prof", "--cpu-prof-interval=250", `--cpu-prof-dir=${dir}`]);
  servers.set(sc.server, srv);
  const def: RunDef = { key: `${sid}@${shape.id}`, scenario: sc, shape, bodyFile: join(work, `body-${sid}.bin`) };
  writeFileSync(def.bodyFile, sc.body);
  await drive(def, { durationS: BUDGET.warmS * 2, timeoutMs: 60_000 });
  await settle(srv);
  const from = await hrtimeMark(srv.proc);
  // About 3 s of server CPU, whatever the run mode (a quick run's calls would give few samples).
  const cpuUs = median(runs.filter((r) => r.key === def.key).map((r) => r.cpuUs));
  const n = sc.profileOnly ?? Math.round(Math.min(200_000, Math.max(nOf.get(def.key) ?? 0, 3e6 / (Number.isFinite(cpuUs) ? cpuUs : 100))));
  const r = await drive(def, { n, timeoutMs: 120_000 });
  const to = await hrtimeMark(srv.proc);
  servers.delete(sc.server);
  await stopServer(srv);
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const summary = summarizeProfile(join(dir, file), from, 25, to);
  log(`\nCPU profile of the server for ${def.key} (${r.calls} calls after a warm-up; ${join(dir, file)}):\n`);
  log(profileMarkdown(summary));
  return { scenario: def.key, file: join(dir, file), summary };
}

// ---------------------------------------------------------------- main

function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.split("\n")[0]!.trim();
}

function checkTools(): void {
  for (const [cmd, hint] of [["h2load", "nghttp2-client"], ["wrk", "wrk"], ["redis-server", "redis-server"], ["taskset", "util-linux"]] as const) {
    if (spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0) throw new Error(`${cmd} is needed: apt-get install ${hint}`);
  }
  if (os.cpus().length < 2) throw new Error("the bench pins the server to core 0 and the load to core 1: it needs 2 cores");
}

function ensureBuilt(): void {
  // The servers run compiled code: measuring a dist/ older than the sources would measure old code.
  if (ensureDist() !== 0) throw new Error("npm run build failed");
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  checkTools();
  ensureBuilt();
  pinSelf(1);
  mkdirSync(RESULTS, { recursive: true });
  work = mkdtempSync(join(os.tmpdir(), "cm-bench-"));
  const loadAvg = os.loadavg();
  log(`bench: ${QUICK ? "quick" : "full"} run, ${BUDGET.rounds} round(s); warm-up ${BUDGET.warmS} s then about ${BUDGET.runS} s per run; servers on core 0, load and Redis on core 1`);

  await startRedis();
  for (const id of ["bare", "grpcjs", "redis", "sqlite"] as const) servers.set(id, await startServer(id));
  for (const s of servers.values()) log(`  ${s.proc.name.padEnd(15)} pid ${s.proc.pid} ${s.url}`);
  await populate(servers.get("redis")!);
  await populate(servers.get("sqlite")!);

  // Every body once through a real client: h2load cannot see grpc-status in trailers.
  const scenarios = SCENARIOS.filter((s) => !s.profileOnly && (!ONLY || ONLY.includes(s.id) || s.id === "grpcjs"));
  const defs: RunDef[] = [];
  for (const sc of scenarios) {
    const bodyFile = join(work, `body-${sc.id}.bin`);
    writeFileSync(bodyFile, sc.body);
    const srv = servers.get(sc.server)!;
    if (sc.load === "h2load") await srv.grpc.ok(sc.path, sc.body as Buffer);
    else {
      const r = await httpRequest(srv.url + sc.path, { method: "POST", body: (sc.body as string).replaceAll("%d", "0") });
      if (r.status !== 200) throw new Error(`${sc.id}: ${r.status} ${r.body}`);
    }
    for (const shape of sc.shapes) defs.push({ key: `${sc.id}@${shape.id}`, scenario: sc, shape, bodyFile });
  }

  // Rounds: the 4 x 32 family, then the 16 x 1 family (with HTTP/1.1's 16 connections), each in an order
  // rotated every round; then raw EVALSHA and the half-rate run.
  const families = [defs.filter((d) => d.shape.id === S.id), defs.filter((d) => d.shape.id !== S.id)];
  for (let round = 1; round <= BUDGET.rounds; round++) {
    log(`round ${round} of ${BUDGET.rounds}`);
    const order = round % 2 ? families : [...families].reverse();
    for (const fam of order) {
      const step = Math.max(1, Math.ceil(fam.length / BUDGET.rounds));
      const offset = ((round - 1) * step) % Math.max(1, fam.length);
      for (let i = 0; i < fam.length; i++) await runOne(fam[(i + offset) % fam.length]!, round);
    }
    if (!ONLY) {
      await runRaw(round);
      await runHalfRate(defs.find((d) => d.key === `set-grpc@${S.id}`)!, round);
    }
  }

  const summary = summarize();
  const full = !ONLY;
  const results: Results = {
    when: new Date().toISOString(),
    quick: QUICK,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      redis: versionOf("redis-server", ["--version"]).split(" ").slice(0, 3).join(" "),
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
      cpu: "utime+stime of the server process (/proc/<pid>/stat) over the measured run / calls; schedstat of all threads as cross-check",
      ratios: "per round against @grpc/grpc-js in the same round and shape (HTTP/1.1's 16 connections against 16 x 1); median over rounds",
    },
    calls: Object.fromEntries([...nOf.entries()]),
    scenarios: summary,
    anchors: Object.fromEntries(Object.entries(summary).filter(([k]) => k.startsWith("bare@") || k.startsWith("grpcjs@"))),
    targets: full ? targets(summary) : {},
    sqlite: {},
    runs,
  };
  results.sqlite = {
    note: "DATA_DIR in a temp dir, synchronous=FULL; gRPC writes repeat one body (few change the map), Connect JSON writes all change it",
    setGrpc: summary[`set-grpc-sqlite@${S.id}`],
    getGrpc: summary[`get-grpc-sqlite@${S.id}`],
    setJson: summary[`set-json-sqlite@${H1.id}`],
    setBigJson: summary[`set-big-json-sqlite@${H1.id}`],
    bigOverSmallWrites: { ...paired(`set-big-json-sqlite@${H1.id}`, `set-json-sqlite@${H1.id}`, (x, y) => x.rps / y.rps), target: ">= 0.9" },
  };

  if (!SKIP.has("fanout")) {
    log("watch fan-out");
    results.fanout = { connect: await fanout("connect"), sse: await fanout("sse") };
  }
  if (!SKIP.has("bigmaps")) {
    log("big map");
    results.bigMaps = await bigMaps();
  }
  if (PROFILE) results.profile = await profile(PROFILE);
  results.seconds = Math.round((performance.now() - startedAt) / 1000);
  results.bigMapBytes = bigMapBytes;

  writeFileSync(join(RESULTS, "latest.json"), JSON.stringify(results, null, 2));
  printReport(results, log);
  writeProposal(results, join(RESULTS, "performance.md"));
  log(`\nwrote ${join(RESULTS, "latest.json")} and ${join(RESULTS, "performance.md")} (${results.seconds} s)`);
}

let cleaning: Promise<void> | undefined;
let interrupted = false;
async function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const s of servers.values()) s.grpc.close();
    await stopAll();
    if (work) rmSync(work, { recursive: true, force: true });
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
