// From the runs to the figures: every scenario's medians over rounds, its
// per-round ratio to the grpc-js anchor, and the targets T1..T7 (ratios or
// bounds measured within the run). The durable-write targets D1..D4 are in
// scenarios/durable.ts.
import type { AllocResults } from "../scenarios/alloc.js";
import { runs } from "./measure.js";
import type { RunRecord, Summary, Target } from "./report.js";
import { anchorKey, H1, M, S, type Scenario } from "./scenario.js";
import { median, round3 } from "./stats.js";
import { instancesPerRedis, REDIS_PLAN } from "../scenarios/redis-headroom.js";

const EXTRA_LABELS: Record<string, string> = {
  "raw-write": "raw FCALL of the write function (ioredis, 64 in flight)",
  "set-grpc@half-rate": "SetSettings 1 key, gRPC, Redis, at half its max rate (every write a change)",
};

/** Medians over rounds of every scenario@shape that ran. */
export function summarize(scenarios: Scenario[]): Record<string, Summary> {
  const out: Record<string, Summary> = {};
  const optional = (rs: RunRecord[], f: (r: RunRecord) => number | undefined) => (f(rs[0]!) === undefined ? undefined : median(rs.map((r) => f(r)!)));
  for (const key of [...new Set(runs.map((r) => r.key))]) {
    const rs = runs.filter((r) => r.key === key);
    const first = rs[0]!;
    const sc = scenarios.find((s) => s.id === first.scenario);
    // No ratio for the etcd comparison, nor for raw EVALSHA (its shape has no anchor run).
    const anchor = sc?.durable ? undefined : anchorKey(first.shape);
    const ratios = anchor
      ? rs.map((r) => {
          const b = runs.find((x) => x.key === anchor && x.round === r.round);
          return b ? r.cpuUs / b.cpuUs : NaN;
        })
      : [];
    out[key] = {
      key,
      label: sc?.label ?? EXTRA_LABELS[key] ?? key,
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
      redisUs: optional(rs, (r) => r.redisUs),
      clientUs: optional(rs, (r) => r.clientUs),
      changedPct: optional(rs, (r) => r.changedPct),
      loadBusyPct: optional(rs, (r) => r.loadBusyPct),
      healthzP99Ms: optional(rs, (r) => r.healthz?.p99Ms),
      getSettingsP99Ms: optional(rs, (r) => r.getSettings?.p99Ms),
      probeFailures: first.healthz ? rs.reduce((n, r) => n + r.healthz!.failures + (r.getSettings?.failures ?? 0), 0) : undefined,
    };
  }
  return out;
}

/** Median over rounds of f(run of a, run of b in the same round). */
export function paired(a: string, b: string, f: (x: RunRecord, y: RunRecord) => number): { median: number; perRound: number[] } {
  const values = runs
    .filter((r) => r.key === a)
    .map((x) => {
      const y = runs.find((r) => r.key === b && r.round === x.round);
      return y ? f(x, y) : NaN;
    });
  return { median: round3(median(values)), perRound: values.map(round3) };
}

export function targets(sum: Record<string, Summary>): Record<string, Target> {
  const t: Record<string, Target> = {};
  const worst = (keys: string[]) => Math.max(...keys.map((k) => sum[k]?.ratioToGrpcJs ?? NaN));
  const perShape = (id: string) => Object.fromEntries([S, M].map((sh) => [sh.id, sum[`${id}@${sh.id}`]?.ratioToGrpcJs ?? null]));
  const cpuTarget = (name: string, id: string, limit: number): Target => {
    const measured = round3(worst([`${id}@${S.id}`, `${id}@${M.id}`]));
    return { name, measured, target: `<= ${limit.toFixed(1)}`, pass: measured <= limit, detail: { byShape: perShape(id), note: "worse of the two shapes" } };
  };
  t.T1 = cpuTarget("gRPC no-op (BenchService/Noop) CPU/call / grpc-js no-op", "noop-grpc", 1.5);
  t.T2 = cpuTarget("SetSettings over gRPC (Redis), every write a change, server CPU/call / grpc-js no-op", "set-grpc", 2.0);
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
  const bigCpu = paired(`set-big-json@${H1.id}`, `set-json@${H1.id}`, (x, y) => x.cpuUs / y.cpuUs);
  const bigGrpc = paired(`set-big-grpc@${S.id}`, `set-grpc@${S.id}`, (x, y) => x.rps / y.rps);
  t.T5 = {
    name: "1-key write into a 10,000-key map: calls/s / the 10-key map's (Redis; Connect JSON, every write a change)",
    measured: big.median,
    target: ">= 0.9",
    pass: big.median >= 0.9,
    shown: `${big.median.toFixed(2)} (CPU/call ratio ${bigCpu.median.toFixed(2)})`,
    detail: {
      perRound: big.perRound,
      // The same pair in CPU per call (server, and Redis): calls/s with 16 calls in flight follows latency, which the neighbours move.
      serverCpuRatio: bigCpu.median,
      redisCpuRatio: paired(`set-big-json@${H1.id}`, `set-json@${H1.id}`, (x, y) => x.redisUs! / y.redisUs!).median,
      grpc: bigGrpc.median,
      grpcPerRound: bigGrpc.perRound,
    },
  };
  // T6: Redis's own µs per write call (INFO commandstats), and what it means for scale-out.
  const rawRuns = runs.filter((r) => r.key === "raw-write");
  const scriptUs = round3(median(rawRuns.map((r) => r.scriptUs ?? NaN)));
  const rawSum = sum["raw-write"];
  const serviceRps = sum[`set-grpc@${S.id}`]?.rps;
  const instances = serviceRps ? round3(instancesPerRedis(scriptUs, serviceRps)) : undefined;
  t.T6 = {
    name: "Redis CPU per write function call (INFO commandstats: FCALL usec / calls), µs",
    measured: scriptUs,
    shown: `${scriptUs.toFixed(1)} µs; one Redis at ${100 * REDIS_PLAN}% carries ${instances?.toFixed(1) ?? "?"} instances`,
    target: "<= 10",
    pass: scriptUs <= 10,
    detail: {
      perRound: rawRuns.map((r) => round3(r.scriptUs ?? NaN)),
      writesPerSecondAt80Pct: Math.round((REDIS_PLAN * 1e6) / scriptUs),
      serviceRps,
      instancesPerRedisAt80Pct: instances,
      rawRps: rawSum?.rps,
      rawOverServiceRps: paired("raw-write", `set-grpc@${S.id}`, (x, y) => x.rps / y.rps).median,
      redisProcessUsPerRawCall: rawSum?.redisUs,
      clientUsPerRawCall: rawSum?.clientUs,
      redisUsPerServiceWrite: sum[`set-json@${H1.id}`]?.redisUs,
      note: "instances = 0.8e6 / (µs per write) / (one instance's SetSettings gRPC 4 x 32 calls/s); Redis and the raw client share core 1",
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

/**
 * T8: JS heap bytes allocated per call (scenarios/alloc.ts), judged on the totals as the issue states
 * them; beside each, what it allocates above anchor A (bare node:http2 answering a no-op), which is
 * Node's own share of any gRPC call and alone above 8 KB.
 */
export function allocationTarget(a: AllocResults): Target {
  const set = a.setGrpc.bytesPerCall;
  const get = a.getGrpc.bytesPerCall;
  const floor = a.bareNoop.bytesPerCall;
  const kb = (x: number) => `${(x / 1024).toFixed(1)} KB`;
  return {
    name: "JS heap bytes allocated per SetSettings over gRPC (every write a change) and per GetSettings 10 keys over gRPC (Redis)",
    measured: set,
    shown: `${kb(set)} (A + ${kb(set - floor)}); GetSettings ${kb(get)} (A + ${kb(get - floor)}); A, bare node:http2 no-op, ${kb(floor)}`,
    target: "<= 8 KB, and GetSettings <= 4 KB",
    pass: set <= 8 * 1024 && get <= 4 * 1024,
    detail: { ...a, aboveBareNoop: { setGrpc: set - floor, getGrpc: get - floor, noopGrpc: a.noopGrpc.bytesPerCall - floor } },
  };
}
