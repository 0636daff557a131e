// T8, allocation per call: bytes the service on Redis allocates on its JS
// heap per SetSettings over gRPC (every write a change), per GetSettings of
// 10 keys over gRPC, and per watch delivery (Connect streaming). Garbage is
// what makes the GC tail of T7: every byte counts, also what a scavenge
// collects a moment later.
//
// How it counts (bench/child.mjs, "heap-count-start/stop"): v8.GCProfiler
// gives used_heap_size just before and just after every GC; the bytes
// allocated in a window are the growth between GCs (before GC i minus after
// GC i-1) summed, plus the growth since the last GC. Only the server process
// counts, over a run of n calls after a warm-up; off-heap memory (Buffer
// backing stores, native HTTP/2 state) is not in it.
//
// A watch delivery: the same paced gRPC writes to one session, once with
// `WATCHERS` Connect watchers on it and once with none; the difference over
// (writes x watchers) is the cost of delivering one change to one watcher.
import { until } from "../lib/clients.js";
import { join } from "node:path";
import { BUDGET, HEAP_PROF, log, RESULTS } from "../lib/flags.js";
import { summarizeHeapProfile } from "../lib/heap-profile.js";
import { drive, settle } from "../lib/measure.js";
import { distinctSets, getFrame, noopFrame, PATHS } from "../lib/messages.js";
import { start, type Proc } from "../lib/procs.js";
import { S, type RunDef } from "../lib/scenario.js";
import { ROOT, servers, type Server } from "../lib/servers.js";
import { watchStreams } from "./fanout.js";

export interface AllocRow {
  /** Calls (or deliveries) measured. */
  calls: number;
  bytesPerCall: number;
  /** GCs in the window, and their pause per call. */
  gcs: number;
  gcUsPerCall: number;
  /** Of those GCs, the mark-compacts (T7's tail), and the longest pause of any. */
  markCompacts: number;
  maxGcMs: number;
  /** The JS heap in use after the window's last GC. */
  heapAfterMb: number;
}

export interface AllocResults {
  method: string;
  /** The floor every gRPC call pays here (Node's HTTP/2 stream, the interceptors): BenchService/Noop. */
  noopGrpc: AllocRow;
  /** Anchor A, a bare node:http2 gRPC no-op: what Node's HTTP/2 layer allocates per call, below any code of ours. */
  bareNoop: AllocRow;
  setGrpc: AllocRow;
  getGrpc: AllocRow;
  watchDelivery: AllocRow & { watchers: number; writes: number };
}

const WATCHERS = 50;
/** Created by populate(); the fan-out runs watch it too, on servers of their own. */
const WATCHED = "bench-watch";

const def = (id: string, load: RunDef["scenario"]["load"]): RunDef => ({ key: `${id}@${S.id}`, scenario: { id, label: id, server: "redis", load, shapes: [S] }, shape: S });
const SET = def("alloc-set", { kind: "grpc-load", path: PATHS.set, frames: distinctSets(["bench-set"]) });
const BARE = { ...def("alloc-bare", { kind: "h2load", path: PATHS.noop, body: noopFrame }), scenario: { id: "alloc-bare", label: "alloc-bare", server: "bare" as const, load: { kind: "h2load" as const, path: PATHS.noop, body: noopFrame }, shapes: [S] } };
const NOOP = def("alloc-noop", { kind: "h2load", path: PATHS.noop, body: noopFrame });
const GET = def("alloc-get", { kind: "h2load", path: PATHS.get, body: getFrame("bench-get") });
const WATCHED_SET = def("alloc-watched-set", { kind: "grpc-load", path: PATHS.set, frames: distinctSets([WATCHED]) });

export interface HeapCount {
  bytes: number;
  gcs: number;
  gcMs: number;
  markCompacts: number;
  maxGcMs: number;
  heapAfter: number;
}

/** The server's JS heap allocation while `f` runs (after the server has settled from whatever came before). */
export async function counted(srv: Server, f: () => Promise<unknown>, name?: string): Promise<HeapCount> {
  await settle(srv);
  const profiled = HEAP_PROF && name !== undefined;
  if (profiled) srv.proc.send("alloc-start");
  srv.proc.send("heap-count-start");
  await f();
  if (profiled) {
    const file = join(RESULTS, `heap-${name}.heapprofile`);
    const written = srv.proc.nextLine("ALLOC ", 30_000);
    srv.proc.send(`alloc-stop ${file}`);
    await written;
    const s = summarizeHeapProfile(file, 25);
    log(`  ${file}: top self\n${s.self.map((x) => `    ${x.pct.toFixed(1).padStart(5)} % ${x.frame}`).join("\n")}`);
  }
  const reply = srv.proc.nextLine("HEAP ", 10_000);
  srv.proc.send("heap-count-stop");
  const line = await reply;
  const n = (k: string) => Number(new RegExp(`${k}=([\\d.]+)`).exec(line)?.[1] ?? NaN);
  if (line.includes("error")) throw new Error(`${srv.proc.name}: ${line}`);
  return { bytes: n("bytes"), gcs: n("gcs"), gcMs: n("gcMs"), markCompacts: n("markCompacts"), maxGcMs: n("maxGcMs"), heapAfter: n("heapAfter") };
}

const row = (h: HeapCount, calls: number): AllocRow => ({
  calls,
  bytesPerCall: Math.round(h.bytes / calls),
  gcs: h.gcs,
  gcUsPerCall: +((1000 * h.gcMs) / calls).toFixed(2),
  markCompacts: h.markCompacts,
  maxGcMs: h.maxGcMs,
  heapAfterMb: +(h.heapAfter / 2 ** 20).toFixed(1),
});

/** n calls of `d` as fast as the shape allows, after a warm-up. */
async function perCall(srv: Server, d: RunDef, n: number): Promise<AllocRow> {
  await drive(d, { durationS: BUDGET.warmS, timeoutMs: 60_000 });
  let calls = 0;
  const h = await counted(
    srv,
    async () => {
      calls = (await drive(d, { n, timeoutMs: 120_000 })).calls;
    },
    d.scenario.id,
  );
  return row(h, calls);
}

/** Paced writes to the watched session with `watchers` open, then with none: bytes per delivery. */
async function perDelivery(srv: Server, writes: number): Promise<AllocResults["watchDelivery"]> {
  const paced = () => drive(WATCHED_SET, { n: writes, rps: 200, timeoutMs: 120_000 });
  await drive(WATCHED_SET, { durationS: BUDGET.warmS, timeoutMs: 60_000 });
  const client: Proc = await start("watchers-alloc", [process.execPath, "bench/watchers.mjs", srv.url, WATCHED, String(WATCHERS), "connect", "2", "250"], { core: 1, cwd: ROOT });
  let watched: HeapCount;
  try {
    await client.nextLine("CREATED", 60_000);
    await paced(); // the watchers' own warm-up
    watched = await counted(srv, paced, "alloc-watched");
    const open = await watchStreams(srv.url);
    if (open < WATCHERS) throw new Error(`alloc: ${open} of ${WATCHERS} watch streams still open after the writes`);
  } finally {
    client.child.stdin!.end();
    await client.exited;
  }
  await until("the watch streams to close", async () => (await watchStreams(srv.url)) === 0, 20_000);
  const alone = await counted(srv, paced, "alloc-unwatched");
  const deliveries = writes * WATCHERS;
  return { ...row({ ...watched, bytes: watched.bytes - alone.bytes, gcMs: watched.gcMs - alone.gcMs }, deliveries), watchers: WATCHERS, writes };
}

export async function allocation(): Promise<AllocResults> {
  const srv = servers.get("redis");
  if (!srv) throw new Error("alloc: the service on Redis is not running");
  const n = BUDGET.allocCalls;
  const out: AllocResults = {
    method: "JS heap bytes allocated in the server (v8.GCProfiler: growth of used_heap_size between GCs, so collected garbage counts) / calls, after a warm-up",
    bareNoop: await perCall(servers.get("bare")!, BARE, n),
    noopGrpc: await perCall(srv, NOOP, n),
    setGrpc: await perCall(srv, SET, n),
    getGrpc: await perCall(srv, GET, n),
    watchDelivery: await perDelivery(srv, Math.round(n / 20)),
  };
  const kb = (x: number) => `${(x / 1024).toFixed(1)} KB`;
  log(
    `  allocation per call: bare node:http2 no-op ${kb(out.bareNoop.bytesPerCall)}, Noop ${kb(out.noopGrpc.bytesPerCall)}, SetSettings ${kb(out.setGrpc.bytesPerCall)}, GetSettings 10 keys ${kb(out.getGrpc.bytesPerCall)}, ` +
      `watch delivery ${kb(out.watchDelivery.bytesPerCall)} (${WATCHERS} watchers x ${out.watchDelivery.writes} writes)`,
  );
  return out;
}

/** T8's table: each path's bytes per call, above anchor A's, and the GCs of its window. */
export function allocLines(a: AllocResults | undefined): string[] {
  if (!a) return [];
  const kb = (x: number) => (x / 1024).toFixed(1);
  const floor = a.bareNoop.bytesPerCall;
  const rows: [string, AllocRow][] = [
    ["A: bare node:http2 gRPC no-op", a.bareNoop],
    ["BenchService/Noop, gRPC", a.noopGrpc],
    ["SetSettings 1 key, gRPC, Redis (every write a change)", a.setGrpc],
    ["GetSettings 10 keys, gRPC, Redis", a.getGrpc],
    ["a watch delivery (one change to one Connect watcher)", a.watchDelivery],
  ];
  return [
    "| allocation (JS heap) | KB per call | above A | GCs in the window | of them mark-compacts | GC pause µs per call | longest GC ms |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map(([name, r], i) => `| ${name} | ${kb(r.bytesPerCall)} | ${i === 0 || r === a.watchDelivery ? "" : kb(r.bytesPerCall - floor)} | ${r.gcs} | ${r.markCompacts} | ${r.gcUsPerCall} | ${r.maxGcMs} |`),
  ];
}
