// Durable writes against etcd, in the same run (issue 21): the service on its
// SQLite default store (synchronous=FULL) and etcd 3.4 (WAL fsync before every
// acknowledgement), both pinned to core 0, writing to the same filesystem.
// Every write is a real change, spread over 16 sessions (etcd: 16 keys):
//   - REST over HTTP/1.1 (wrk, 16 and 256 connections): POST
//     /api/sessions/<id>/settings vs etcd's JSON gateway POST /v3/kv/put;
//   - gRPC (grpc-load, 16 x 1 and 16 x 16: 16 and 256 writers): SetSettings
//     vs etcd's native etcdserverpb.KV/Put.
// While the service is saturated, /healthz and a one-key GetSettings on
// another session are probed every 10 ms (D3).
import { distinctPuts, ETCD_PUT, gatewayPuts } from "../lib/etcd.js";
import { SHAPES } from "../lib/load.js";
import { distinctSets, PATHS } from "../lib/messages.js";
import { DURABLE_KEYS } from "../lib/populate.js";
import type { DurableRow, Summary, Target } from "../lib/report.js";
import type { Scenario } from "../lib/scenario.js";
import { round3 } from "../lib/stats.js";
import { paired } from "../lib/targets.js";

const HTTP1 = [SHAPES.h1c16, SHAPES.h1c256];
const GRPC = [SHAPES.c16m1, SHAPES.c16m16];
const restSets = { slots: DURABLE_KEYS.map((id) => ({ path: `/api/sessions/${id}/settings`, body: '{"key":"k","value":%d}' })) };
const common = { writes: DURABLE_KEYS, durable: true } as const;

export const DURABLE_SCENARIOS: Scenario[] = [
  { id: "durable-etcd-rest", label: "etcd put, v3 JSON gateway h1, 16 keys", server: "etcd", load: { kind: "wrk", requests: gatewayPuts(DURABLE_KEYS) }, shapes: HTTP1, procedure: ["grpc", "Put"], ...common },
  { id: "durable-sqlite-rest", label: "SetSettings 1 key, REST h1, SQLite, 16 sessions", server: "sqlite", load: { kind: "wrk", requests: restSets }, shapes: HTTP1, procedure: ["rest", "SetSettings"], probes: true, ...common },
  { id: "durable-etcd-grpc", label: "etcd KV/Put, gRPC, 16 keys", server: "etcd", load: { kind: "grpc-load", path: ETCD_PUT, frames: distinctPuts(DURABLE_KEYS) }, shapes: GRPC, procedure: ["grpc", "Put"], ...common },
  { id: "durable-sqlite-grpc", label: "SetSettings 1 key, gRPC, SQLite, 16 sessions", server: "sqlite", load: { kind: "grpc-load", path: PATHS.set, frames: distinctSets(DURABLE_KEYS) }, shapes: GRPC, procedure: ["grpc", "SetSettings"], probes: true, ...common },
];

/** Each comparison: the same transport and number of writers, ours against etcd's. */
const PAIRS = [
  ...HTTP1.map((shape) => ({ transport: "HTTP/1.1" as const, writers: shape.c, ours: `durable-sqlite-rest@${shape.id}`, etcd: `durable-etcd-rest@${shape.id}` })),
  ...GRPC.map((shape) => ({ transport: "gRPC" as const, writers: shape.c * shape.m, ours: `durable-sqlite-grpc@${shape.id}`, etcd: `durable-etcd-grpc@${shape.id}` })),
];

/** One row per transport and number of writers, with the per-round ratios' medians. */
export function durableRows(sum: Record<string, Summary>): DurableRow[] {
  return PAIRS.filter((p) => sum[p.ours] && sum[p.etcd]).map((p) => {
    const s = sum[p.ours]!;
    const e = sum[p.etcd]!;
    return {
      transport: p.transport,
      writers: p.writers,
      etcd: { rps: e.rps, cpuUs: e.cpuUs, p99Ms: e.p99Ms, changedPct: e.changedPct },
      sqlite: { rps: s.rps, cpuUs: s.cpuUs, p99Ms: s.p99Ms, changedPct: s.changedPct, healthzP99Ms: s.healthzP99Ms, getSettingsP99Ms: s.getSettingsP99Ms, probeFailures: s.probeFailures },
      writesRatio: paired(p.ours, p.etcd, (x, y) => x.rps / y.rps),
      cpuRatio: paired(p.ours, p.etcd, (x, y) => x.cpuUs / y.cpuUs),
      p99Ratio: paired(p.ours, p.etcd, (x, y) => x.p99Ms / y.p99Ms),
    };
  });
}

const where = (r: DurableRow) => `${r.transport} x ${r.writers}`;

/** D1..D4, each the worst of its comparisons; undefined when the durable scenarios did not all run. */
export function durableTargets(rows: DurableRow[]): Record<string, Target> | undefined {
  if (rows.length !== PAIRS.length) return undefined;
  // The worst comparison of a figure (NaN, and so a failed target, when one of them has no value).
  const worst = (pick: (r: DurableRow) => number, of: DurableRow[], dir: "min" | "max") => {
    const all = Object.fromEntries(of.map((r) => [where(r), round3(pick(r))]));
    const at = of.reduce((w, r) => (dir === "min" ? pick(r) < pick(w) : pick(r) > pick(w)) ? r : w);
    const value = of.some((r) => !Number.isFinite(pick(r))) ? NaN : round3(pick(at));
    return { value, at: where(at), all };
  };
  const d1 = worst((r) => r.writesRatio.median, rows, "min");
  const d2 = worst((r) => r.cpuRatio.median, rows, "max");
  const healthz = worst((r) => r.sqlite.healthzP99Ms ?? NaN, rows, "max");
  const get = worst((r) => r.sqlite.getSettingsP99Ms ?? NaN, rows, "max");
  const failures = rows.reduce((n, r) => n + (r.sqlite.probeFailures ?? 0), 0);
  const d4 = worst((r) => r.p99Ratio.median, rows.filter((r) => r.writers === 16), "max");
  return {
    D1: { name: "SQLite durable writes/s / etcd's, every write a change (worst of HTTP/1.1 and gRPC at 16 and 256 writers)", measured: d1.value, shown: `${d1.value.toFixed(2)} (${d1.at})`, target: ">= 1.5", pass: d1.value >= 1.5, detail: d1.all },
    D2: { name: "server CPU per durable write / etcd's (worst of the four)", measured: d2.value, shown: `${d2.value.toFixed(2)} (${d2.at})`, target: "<= 1.0", pass: d2.value <= 1, detail: d2.all },
    D3: {
      name: "while SQLite writes are saturated: /healthz p99; one-key GetSettings p99 on another session (worst of the four)",
      measured: healthz.value,
      shown: `${healthz.value.toFixed(1)} ms; ${get.value.toFixed(1)} ms${failures ? `; ${failures} failed` : ""}`,
      target: "<= 10 ms; <= 20 ms",
      pass: healthz.value <= 10 && get.value <= 20 && failures === 0,
      detail: { healthzP99Ms: healthz.all, getSettingsP99Ms: get.all, failures },
    },
    D4: { name: "p99 write latency at 16 writers / etcd's (worse of HTTP/1.1 and gRPC)", measured: d4.value, shown: `${d4.value.toFixed(2)} (${d4.at})`, target: "<= 1.0", pass: d4.value <= 1, detail: d4.all },
  };
}
