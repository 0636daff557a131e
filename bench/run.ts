// npm run bench [-- --quick] [-- --profile[=<scenario>]]
//
// Starts a throwaway redis-server and the server (in this process, so its CPU
// is this process's CPU), then drives each scenario with h2load or wrk for a
// fixed time after a warm-up. Every target is a ratio of two scenarios
// measured side by side in this one run, because the machines are shared and
// noisy. Prints one table and writes bench/results/latest.json.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import os from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { BenchService, NoopRequestSchema } from "../gen/codexmanager/bench/v1/bench_pb.js";
import { SessionService } from "../gen/codexmanager/settings/v1/session_pb.js";
import {
  GetSettingsRequestSchema,
  PathOp,
  SetSettingsRequestSchema,
  SettingsService,
} from "../gen/codexmanager/settings/v1/settings_pb.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/observe/log.js";
import { LocalStore } from "../src/store/local/local-store.js";
import { MemoryBackend } from "../src/store/memory/memory-backend.js";
import { RedisKeys } from "../src/store/redis/keys.js";
import { mutationCall } from "../src/store/redis/mutation-call.js";
import { RedisStore } from "../src/store/redis/redis-store.js";
import { registerScripts } from "../src/store/redis/scripts.js";
import type { Store } from "../src/store/store.js";
import { restRoutes } from "../src/transport/rest/routes.js";
import { startServer, type RunningServer } from "../src/transport/server.js";
import { startRedis } from "../test/support/redis.js";
import { grpcFrame, h2load, wrk, type LoadResult } from "./load.js";

const quick = process.argv.includes("--quick");
// --profile samples set1-grpc's first round; --profile=<scenario> another one.
const profileArg = process.argv.find((a) => a.startsWith("--profile"));
const profileTarget = profileArg === undefined ? undefined : profileArg.includes("=") ? profileArg.split("=")[1] : "set1-grpc";
// --only=a,b runs just those scenarios (for quick comparisons while tuning); targets need all.
const only = process.argv.find((a) => a.startsWith("--only="))?.split("=")[1]?.split(",");
const SECONDS = quick ? 2 : 4;
const WARMUP = quick ? 1 : 1;
const ROUNDS = quick ? 1 : 5;
const SESSIONS_FOR_MEMORY = quick ? 1000 : 10_000;
const WATCHERS = quick ? 200 : 1000;
const RESULTS = join(import.meta.dirname, "results");
const work = mkdtempSync(join(os.tmpdir(), "cm-bench-"));

interface Scenario extends LoadResult {
  cpuPercent: number;
  note?: string;
}

const sdk = (url: string) => {
  const t = createGrpcTransport({ baseUrl: url });
  return { settings: createClient(SettingsService, t), sessions: createClient(SessionService, t), bench: createClient(BenchService, t) };
};

type Load = (afterWarmup: () => Promise<void>) => Promise<LoadResult>;

/**
 * Runs load and reports this process's CPU (the server's) over the measured
 * interval, and for writes the share that changed the map (revision delta).
 */
async function measure(load: Load, revision?: () => Promise<bigint>): Promise<Scenario> {
  let before = process.cpuUsage();
  let started = performance.now();
  let revisionBefore = 0n;
  const result = await load(async () => {
    if (revision) revisionBefore = await revision();
    before = process.cpuUsage();
    started = performance.now();
  });
  const cpu = process.cpuUsage(before);
  const scenario: Scenario = { ...result, cpuPercent: (100 * (cpu.user + cpu.system)) / ((performance.now() - started) * 1000) };
  if (revision) {
    const changed = Number((await revision()) - revisionBefore);
    scenario.note = `${((100 * changed) / Math.max(1, result.requests)).toFixed(0)}% of writes changed the map`;
  }
  return scenario;
}

/** The median round by calls/s, with the median p50 and p99 of all rounds. */
function medianOf(results: Scenario[]): Scenario {
  const mid = <T>(xs: T[], key: (x: T) => number) => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!;
  const byRps = mid(results, (r) => r.rps);
  return {
    ...byRps,
    p50Ms: mid(results.map((r) => r.p50Ms), (x) => x),
    p99Ms: mid(results.map((r) => r.p99Ms), (x) => x),
    note: results.length > 1 ? `median of ${results.length} rounds${byRps.note ? `; ${byRps.note}` : ""}` : byRps.note,
  };
}

async function withCpuProfile<T>(file: string, fn: () => Promise<T>): Promise<[T, string[]]> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  const result = await fn();
  const { profile: cpuProfile } = await session.post("Profiler.stop");
  session.disconnect();
  writeFileSync(file, JSON.stringify(cpuProfile));
  // Self time per function, from the sampled profile.
  const selfTime = new Map<string, number>();
  const byId = new Map(cpuProfile.nodes.map((n) => [n.id, n]));
  const counts = new Map<number, number>();
  for (const id of cpuProfile.samples ?? []) counts.set(id, (counts.get(id) ?? 0) + 1);
  const total = cpuProfile.samples?.length ?? 1;
  for (const [id, n] of counts) {
    const f = byId.get(id)!.callFrame;
    const name = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/main\//, "")}:${f.lineNumber + 1}`;
    selfTime.set(name, (selfTime.get(name) ?? 0) + n);
  }
  const top = [...selfTime.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([name, n]) => `${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}`);
  return [result, top];
}

async function rss(): Promise<number> {
  global.gc?.();
  await new Promise((r) => setTimeout(r, 200));
  return process.memoryUsage().rss;
}

async function populate(url: string, prefix: string, count: number): Promise<void> {
  const c = sdk(url);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const sessionId = `${prefix}-${i}`;
      await c.sessions.createSession({ sessionId });
      const settings = Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`key${k}`, { n: k, text: "value" }]));
      await c.settings.setSettings({ sessionId, update: { case: "object", value: { settings } } });
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

async function startBenchServer(store: Store, redisUrl?: string): Promise<RunningServer> {
  const config = loadConfig({ PORT: "0", LOG_LEVEL: "warn", ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_PREFIX: "bench:" } : {}) });
  return startServer({
    config,
    store,
    log: createLogger(config.logLevel),
    routes: restRoutes,
    extraServices: [[BenchService, { noop: async () => ({}) }]],
  });
}

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const redis = await startRedis();
  const config = loadConfig({ REDIS_URL: redis.url, REDIS_PREFIX: "bench:", LOG_LEVEL: "warn" });
  const store = await RedisStore.connect(config);
  const server = await startBenchServer(store, redis.url);
  const url = server.url;
  const c = sdk(url);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`bench: ${quick ? "quick" : "full"} run, ${SECONDS}s per scenario after ${WARMUP}s warm-up, server at ${url}`);

  // Data: a 10-key map, a 10,000-key map, and a session for nested writes.
  const tenKeys = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`key${i}`, { n: i, text: "value" }]));
  for (const id of ["bench-set", "bench-get", "bench-path", "bench-big", "bench-watch"]) await c.sessions.createSession({ sessionId: id });
  for (const id of ["bench-set", "bench-get"]) await c.settings.setSettings({ sessionId: id, update: { case: "object", value: { settings: tenKeys } } });
  // 9,999 keys plus the written key "k": the map sits exactly at the 10,000-key limit.
  for (let batch = 0; batch < 10; batch++) {
    const settings = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`key${batch * 1000 + i}`, { n: i, text: "value" }]));
    if (batch === 9) delete settings.key9999;
    await c.settings.setSettings({ sessionId: "bench-big", update: { case: "object", value: { settings } } });
  }

  const entry = (sessionId: string, v: number) =>
    create(SetSettingsRequestSchema, { sessionId, update: { case: "entry", value: { key: "k", value: create(ValueSchema, { kind: { case: "numberValue", value: v } }) } } });
  const pathMerge = (v: number) =>
    create(SetSettingsRequestSchema, {
      sessionId: "bench-path",
      update: { case: "path", value: { path: "team.review", op: PathOp.MERGE, value: create(ValueSchema, { kind: { case: "structValue", value: { fields: { owner: { kind: { case: "numberValue", value: v } } } } } }) } },
    });
  // Sixteen h2load processes side by side, one call in flight each: write bodies differ in
  // value, and between two writes of one process others have written, so nearly every write
  // is a real change. (With many calls in flight per connection, most writes would repeat the
  // value just written and measure the cheaper "unchanged" path.)
  const VALUES = Array.from({ length: 16 }, (_, i) => i + 1);
  const grpc = (method: string, bodies: Buffer[]): Load => (afterWarmup) =>
    h2load({ url: `${url}/${method}`, bodies, streams: 1, seconds: SECONDS, warmupSeconds: WARMUP, dir: work, afterWarmup });
  const frames = (make: (v: number) => Parameters<typeof toBinary>[1]) =>
    VALUES.map((v) => grpcFrame(toBinary(SetSettingsRequestSchema, make(v) as never)));
  const json = (path: string, body: string): Load => (afterWarmup) =>
    wrk({ url: `${url}${path}`, body, connections: 16, seconds: SECONDS, warmupSeconds: WARMUP, dir: work, afterWarmup });
  const revisionOf = (sessionId: string) => async () => (await c.settings.getSettings({ sessionId })).revision;

  // h2load cannot see gRPC status in trailers, so every body is first sent once through a real client.
  for (const v of [1, 2]) {
    await c.settings.setSettings(entry("bench-set", v));
    await c.settings.setSettings(entry("bench-big", v));
    await c.settings.setSettings(pathMerge(v));
  }
  await c.bench.noop({});
  const bigSize = Object.keys((await c.settings.getSettings({ sessionId: "bench-big" })).settings ?? {}).length;
  if (bigSize !== 10_000) throw new Error(`bench-big holds ${bigSize} keys, not 10,000`);

  const scenarios: Record<string, Scenario> = {};
  const record = (name: string, s: Scenario) => {
    scenarios[name] = s;
    log(`  ${name.padEnd(14)} ${s.rps.toFixed(0).padStart(7)} calls/s  p50 ${s.p50Ms.toFixed(2)} ms  p99 ${s.p99Ms.toFixed(2)} ms  cpu ${s.cpuPercent.toFixed(0)}%  errors ${s.errors}${s.note ? `  (${s.note})` : ""}`);
  };
  const noopFrame = grpcFrame(toBinary(NoopRequestSchema, create(NoopRequestSchema)));
  const getFrame = grpcFrame(toBinary(GetSettingsRequestSchema, create(GetSettingsRequestSchema, { sessionId: "bench-get" })));
  const SET = "codexmanager.settings.v1.SettingsService/SetSettings";
  const plan: [string, () => Promise<Scenario>][] = [
    ["noop-grpc", () => measure(grpc("codexmanager.bench.v1.BenchService/Noop", VALUES.map(() => noopFrame)))],
    ["set1-grpc", () => measure(grpc(SET, frames((v) => entry("bench-set", v))), revisionOf("bench-set"))],
    ["get-grpc", () => measure(grpc("codexmanager.settings.v1.SettingsService/GetSettings", VALUES.map(() => getFrame)))],
    ["set1-big-grpc", () => measure(grpc(SET, frames((v) => entry("bench-big", v))), revisionOf("bench-big"))],
    ["path-grpc", () => measure(grpc(SET, frames(pathMerge)), revisionOf("bench-path"))],
    ["noop-json", () => measure(json("/codexmanager.bench.v1.BenchService/Noop", "{}"))],
    ["set1-json", () => measure(json(`/${SET}`, '{"sessionId":"bench-set","entry":{"key":"k","value":%d}}'), revisionOf("bench-set"))],
    ["set1-rest", () => measure(json("/api/sessions/bench-set/settings", '{"key":"k","value":%d}'), revisionOf("bench-set"))],
  ];
  // Scenarios run in rotation, ROUNDS times, and each figure is the median of its rounds:
  // a burst of noise on this shared machine then lands on every scenario alike, not on one.
  const rounds = new Map<string, Scenario[]>();
  let profileTop: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round} of ${ROUNDS}`);
    for (const [name, run] of plan) {
      if (only && !only.includes(name)) continue;
      let result: Scenario;
      if (round === 1 && name === profileTarget) {
        [result, profileTop] = await withCpuProfile(join(RESULTS, `${name}.cpuprofile`), run);
      } else {
        result = await run();
      }
      rounds.set(name, [...(rounds.get(name) ?? []), result]);
      log(`    ${name.padEnd(14)} ${result.rps.toFixed(0).padStart(7)} calls/s`);
    }
  }
  for (const [name, results] of rounds) record(name, medianOf(results));
  if (only) {
    await server.close();
    await store.close();
    await redis.stop();
    process.exit(0);
  }

  // The same Lua script, called directly through ioredis with 64 in flight.
  const raw = registerScripts(new Redis(redis.url));
  const keys = new RedisKeys("bench:").session("bench-set");
  const ref = { sessionId: "bench-set", scope: "session" as const };
  let calls = 0;
  const rawStart = performance.now();
  const deadline = rawStart + SECONDS * 1000;
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (performance.now() < deadline) {
      const [script, args] = mutationCall(keys, ref, { op: "set", key: "k", value: calls }, { actor: "bench", source: "bench" }, config, new Date());
      await raw[script](...args);
      calls++;
    }
  }));
  const rawSeconds = (performance.now() - rawStart) / 1000;
  const rawCpu = process.cpuUsage(cpuBefore);
  raw.disconnect();
  record("raw-evalsha", { rps: calls / rawSeconds, p50Ms: NaN, p99Ms: NaN, requests: calls, errors: 0, cpuPercent: (100 * (rawCpu.user + rawCpu.system)) / (rawSeconds * 1e6), note: "client-side CPU" });

  // Memory.
  const info = async () => Number(/used_memory:(\d+)/.exec(await new Redis(redis.url).info("memory").then((s) => s))?.[1]);
  const redisBefore = await info();
  const rssRedisBefore = await rss();
  await populate(url, "mem", SESSIONS_FOR_MEMORY);
  const rssRedisAfter = await rss();
  const redisAfter = await info();

  const embedded = new LocalStore(new MemoryBackend(), loadConfig({}));
  const embeddedServer = await startBenchServer(embedded);
  const rssEmbeddedBefore = await rss();
  await populate(embeddedServer.url, "mem", SESSIONS_FOR_MEMORY);
  const rssEmbeddedAfter = await rss();
  await embeddedServer.close();

  const rssWatchBefore = await rss();
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "watchers.ts"), url, "bench-watch", String(WATCHERS)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`watchers exited with ${code}`)));
  });
  const rssWatchAfter = await rss();
  child.kill("SIGKILL");

  const mb = (n: number) => +(n / 1024 / 1024).toFixed(1);
  const memory = {
    sessions: SESSIONS_FOR_MEMORY,
    redisServerRssMb: { before: mb(rssRedisBefore), after: mb(rssRedisAfter) },
    embeddedServerRssMb: { before: mb(rssEmbeddedBefore), after: mb(rssEmbeddedAfter) },
    embeddedBytesPerSession: Math.round((rssEmbeddedAfter - rssEmbeddedBefore) / SESSIONS_FOR_MEMORY),
    redisUsedMemoryBytesPerSession: Math.round((redisAfter - redisBefore) / SESSIONS_FOR_MEMORY),
    watchers: WATCHERS,
    watchRssMb: { before: mb(rssWatchBefore), after: mb(rssWatchAfter) },
    bytesPerWatcher: Math.round((rssWatchAfter - rssWatchBefore) / WATCHERS),
  };

  const s = scenarios;
  // Each ratio pairs the two scenarios round by round (measured minutes apart at most) and
  // takes the median of those per-round ratios; raw-evalsha runs once, against set1's median.
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const paired = (a: string, b: string, f: (x: Scenario, y: Scenario) => number) => {
    const ra = rounds.get(a) ?? [s[a]!];
    const rb = rounds.get(b) ?? [s[b]!];
    return +median(ra.map((x, i) => f(x, rb[Math.min(i, rb.length - 1)]!))).toFixed(3);
  };
  const ratio = (a: string, b: string) => paired(a, b, (x, y) => x.rps / y.rps);
  const targets = {
    P1: { name: "set1-grpc / noop-grpc", measured: ratio("set1-grpc", "noop-grpc"), target: ">= 0.80" },
    P2: { name: "get-grpc / noop-grpc", measured: ratio("get-grpc", "noop-grpc"), target: ">= 0.85" },
    P3: { name: "set1-big-grpc / set1-grpc", measured: ratio("set1-big-grpc", "set1-grpc"), target: ">= 0.90" },
    P4: { name: "set1-grpc p99 / p50", measured: paired("set1-grpc", "set1-grpc", (x) => x.p99Ms / x.p50Ms), target: "<= 4" },
    P5: { name: "min(set1-json / noop-json, set1-rest / set1-json)", measured: Math.min(ratio("set1-json", "noop-json"), ratio("set1-rest", "set1-json")), target: ">= 0.80" },
    P6: { name: "raw-evalsha / set1-grpc", measured: ratio("raw-evalsha", "set1-grpc"), target: ">= 10" },
  };
  const pass = (t: { measured: number; target: string }) => {
    const [op, value] = t.target.split(" ");
    return op === ">=" ? t.measured >= Number(value) : t.measured <= Number(value);
  };
  const judged = Object.fromEntries(Object.entries(targets).map(([k, t]) => [k, { ...t, pass: pass(t) }]));

  log("\n| scenario | calls/s | p50 ms | p99 ms | server CPU | errors |\n|---|---:|---:|---:|---:|---:|");
  for (const [name, r] of Object.entries(s)) {
    log(`| ${name} | ${r.rps.toFixed(0)} | ${Number.isNaN(r.p50Ms) ? "-" : r.p50Ms.toFixed(2)} | ${Number.isNaN(r.p99Ms) ? "-" : r.p99Ms.toFixed(2)} | ${r.cpuPercent.toFixed(0)}% | ${r.errors} |`);
  }
  log("\n| target | ratio | measured | target | result |\n|---|---|---:|---|---|");
  for (const [k, t] of Object.entries(judged)) log(`| ${k} | ${t.name} | ${t.measured} | ${t.target} | ${t.pass ? "PASS" : "FAIL"} |`);
  log(`\nHeadroom: one Redis runs the write script ${targets.P6.measured}x faster than one instance serves writes, so it can feed about ${Math.floor(targets.P6.measured)} instances.`);
  log(`Memory: server RSS with Redis ${memory.redisServerRssMb.before} -> ${memory.redisServerRssMb.after} MB over ${SESSIONS_FOR_MEMORY} sessions x 10 keys; embedded ${memory.embeddedServerRssMb.before} -> ${memory.embeddedServerRssMb.after} MB (${memory.embeddedBytesPerSession} B/session); Redis used_memory ${memory.redisUsedMemoryBytesPerSession} B/session; ${WATCHERS} watch streams ${memory.watchRssMb.before} -> ${memory.watchRssMb.after} MB (${memory.bytesPerWatcher} B/watcher).`);
  if (profileTop.length) log(`\n${profileTarget} CPU profile, top self time (bench/results/${profileTarget}.cpuprofile):\n${profileTop.join("\n")}`);

  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version };
  writeFileSync(join(RESULTS, "latest.json"), JSON.stringify({ when: new Date().toISOString(), quick, machine, seconds: SECONDS, rounds: ROUNDS, scenarios, rawRounds: Object.fromEntries(rounds), memory, targets: judged, profile: profileTarget && { scenario: profileTarget, top: profileTop } }, null, 2));
  log(`\nwrote ${join(RESULTS, "latest.json")}`);

  await server.close();
  await store.close();
  await redis.stop();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
