// bench/results/performance.md: the README's "Performance" section as this
// run would write it, from the same tables the console shows.
import { writeFileSync } from "node:fs";
import { allocLines } from "../scenarios/alloc.js";
import { typedLines } from "../scenarios/typed.js";
import { bigMapLines, durableLines, fanoutTable, scenarioTable, sqliteLines, targetTable, type Results } from "./report.js";

export function writePerformanceMd(r: Results, file: string): void {
  const m = r.machine as Record<string, any>;
  const meth = r.method as Record<string, any>;
  const text = [
    "## Performance",
    "",
    "`npm run bench` (about 10 minutes; `npm run bench -- --quick` is a smoke run of about 1.5 minutes that CI runs,",
    "where only a crash or a broken rule fails) starts everything it measures itself: a `redis-server` on a free loopback",
    "port, the service compiled from `dist/` (`npm run build`) through `bench/server.mjs` (the only place that serves",
    "the bench's no-op `BenchService`), the same service on the embedded SQLite store, two anchors that answer the same",
    "gRPC no-op: **A**, a bare `node:http2` handler (the floor), and **B**, an `@grpc/grpc-js` server (the yardstick),",
    "and **etcd** 3.4 (Debian's `etcd-server`, one member, its default fsync before every acknowledgement), the anchor",
    "for durable writes. Results go to the console and to `bench/results/latest.json` (git-ignored): `targets.T1`..`T8`",
    "and `D1`..`D4`, every scenario's calls/s, p50/p99, server CPU per call and share of writes that changed the map,",
    "the anchors, `durable`, the SQLite figures, `fanout` and `bigMaps`. `--profile[=<scenario>]` adds a V8 CPU profile",
    "of the server for one scenario and prints its top frames.",
    "",
    "**Method.** Each server is its own process pinned to core 0 (`taskset -c 0`); Redis, the load generator and the",
    "driver are pinned to core 1. The load is one process per run: `h2load` for gRPC reads and no-ops (4 connections x",
    "32 streams, and 16 x 1, one prebuilt body); `bench/grpc-load.mjs` for gRPC writes (HTTP/2 frames on a TCP socket,",
    "cycling through 1,024 distinct prebuilt bodies, new values every run, so every write is a real change); `wrk` for",
    "HTTP/1.1 (Connect JSON, REST, etcd's JSON gateway; a counter in every body). Every run has a warm-up of fixed time",
    "and is then bounded in calls (set in round 1 from the warm-up's rate) and in time. Server CPU per call is",
    "utime+stime of the whole server process (all threads) from `/proc/<pid>/stat` across the run divided by the calls",
    "answered (schedstat of all threads agrees within about 1 %). The server's own counters (`/metrics`; etcd's",
    "`grpc_server_handled_total`) must show every call ok, and every write scenario must change the map on at least",
    "99 % of its calls (revision delta / calls answered), or the bench fails; one explicit row repeats one value",
    `(\`unchanged\`). ${meth.rounds} round${meth.rounds === 1 ? "" : "s"}; every scenario once per round, in an order rotated each round; each figure is the`,
    "median over rounds, and each ratio is taken per round against B (or etcd) in the same round and shape, then the",
    "median. CPU per call is what most targets use: on this shared 2-core machine calls/s is bounded by the load",
    "generator for the fast servers and moves with the neighbours' load.",
    "",
    `Latest ${r.quick ? "quick (smoke) run, not for quoting" : "full run"} (${m.cpus} vCPU ${m.cpuModel}, ${m.memoryGb} GiB, Node ${m.node}, ${m.redis}, ${m.etcd ?? "no etcd"}, ${m.h2load}, ${m.wrk}; ${r.when}; ${r.seconds ?? "?"} s):`,
    "",
    ...scenarioTable(r),
    "",
    ...targetTable(r),
    "",
    "**Durable writes against etcd.** 16 sessions (etcd: 16 keys), every write a change; REST `POST",
    "/api/sessions/<id>/settings` against etcd's JSON gateway `POST /v3/kv/put` over HTTP/1.1 (wrk, 16 and 256",
    "connections), and gRPC `SetSettings` against etcd's `etcdserverpb.KV/Put` (grpc-load, 16 x 1 and 16 x 16). While",
    "the service is saturated, `/healthz` and a one-key GetSettings on another session are probed every 10 ms:",
    "",
    ...durableLines(r),
    "",
    ...sqliteLines(r),
    "",
    ...(r.typed ? [...typedLines(r.typed), ""] : []),
    ...(r.alloc
      ? [
          "**Allocation per call (T8).** Bytes the server allocates on its JS heap per call, collected garbage included",
          "(`v8.GCProfiler`: the growth of the heap between GCs, summed over a run of calls after a warm-up); A, a bare",
          "`node:http2` no-op, is what Node's HTTP/2 layer alone allocates per call:",
          "",
          ...allocLines(r.alloc),
          "",
        ]
      : []),
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
