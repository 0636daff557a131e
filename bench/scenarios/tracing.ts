// What tracing costs (issue 25). The same loads as set-grpc, get-grpc and
// set-rest run on three more instances of the service on the same Redis, each
// pinned to core 0 like the others:
//   - tracing on, sampling nothing (OTEL_TRACES_EXPORTER=otlp,
//     OTEL_TRACES_SAMPLER=always_off): the interceptor, the propagator and a
//     non-recording span per call, the least a configured tracer costs;
//   - tracing on, every call sampled (always_on) and exported over OTLP/HTTP
//     to a sink on core 1 (bench/otlp-sink.mjs): the server serializes and
//     sends every span itself, so its CPU includes the export;
//   - their twin, as the service runs by default (tracing off: none of it
//     installed), which serves exactly what they serve.
// Each traced run is paired with the same round's run of the twin, CPU per
// call over CPU per call, all three with as many calls as the base scenario.
// Against the default instance instead, which also serves every other
// scenario, two identical servers measured 1.11 apart (median of 7 rounds,
// set-grpc): so the twin, and its ratio to the default is shown as the noise.
// TR1 bounds "off" (sampling nothing) at 1.02, TR2 "on at 100 %" at 1.15.
import type { Target, Summary } from "../lib/report.js";
import type { Scenario } from "../lib/scenario.js";
import { start } from "../lib/procs.js";
import { ROOT, servers, startServer } from "../lib/servers.js";
import { paired } from "../lib/targets.js";
import { CPU_SCENARIOS } from "./cpu.js";

const BASES = ["set-grpc", "get-grpc", "set-rest"];
const TWIN = { id: "twin", server: "redis-otel-twin", label: "tracing off, the traced instances' twin" } as const;
const VARIANTS = [
  { id: "off", server: "redis-otel-off", label: "tracing on, sampling nothing", sampler: "always_off", limit: 1.02 },
  { id: "on", server: "redis-otel-on", label: "tracing on, every call sampled and exported", sampler: "always_on", limit: 1.15 },
] as const;

/** Each base scenario in its first shape, on each traced instance and their twin, with the base's calls. */
export const TRACING_SCENARIOS: Scenario[] = CPU_SCENARIOS.filter((s) => BASES.includes(s.id)).flatMap((base) =>
  [TWIN, ...VARIANTS].map((v) => ({ ...base, id: `${base.id}-otel-${v.id}`, label: `${base.label}, ${v.label}`, server: v.server, shapes: [base.shapes[0]!], callsOf: base.id })),
);

/** The base scenario of a traced one or its twin (set-grpc-otel-on: set-grpc). */
const baseOf = (id: string) => id.replace(/-otel-\w+$/, "");

export const usesTracing = (scenarios: Scenario[]) => scenarios.some((s) => s.server.startsWith("redis-otel"));

/** The OTLP sink on core 1, and the two traced instances of the service and their twin on core 0. */
export async function startTracingServers(): Promise<void> {
  const sink = await start("otlp-sink", [process.execPath, "bench/otlp-sink.mjs"], { core: 1, cwd: ROOT, ready: true });
  servers.set(TWIN.server, await startServer(TWIN.server, [], {}));
  for (const v of VARIANTS) {
    servers.set(v.server, await startServer(v.server, [], {
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_TRACES_SAMPLER: v.sampler,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${sink.port}/v1/traces`,
      OTEL_SERVICE_NAME: `bench-${v.server}`,
    }));
  }
}

export interface TracingRow {
  base: string;
  variant: "off" | "on";
  /** CPU per call, µs: the twin's (tracing off), and the traced instance's (medians over rounds). */
  baseCpuUs?: number;
  tracedCpuUs?: number;
  /** Traced CPU per call / the twin's, paired per round. */
  ratio: { median: number; perRound: number[] };
  /** The twin's CPU per call / the default instance's: two untraced servers, the measurement's noise. */
  twinNoise: { median: number; perRound: number[] };
}

/** One row per base scenario and variant that ran beside its twin. */
export function tracingRows(sum: Record<string, Summary>): TracingRow[] {
  return TRACING_SCENARIOS.filter((s) => {
    const shape = s.shapes[0]!.id;
    return !s.id.endsWith(`-otel-${TWIN.id}`) && sum[`${s.id}@${shape}`] && sum[`${baseOf(s.id)}-otel-${TWIN.id}@${shape}`];
  }).map((s) => {
    const shape = s.shapes[0]!.id;
    const base = baseOf(s.id);
    const twin = `${base}-otel-${TWIN.id}@${shape}`;
    return {
      base,
      variant: s.id.endsWith("-on") ? "on" : "off",
      baseCpuUs: sum[twin]?.cpuUs,
      tracedCpuUs: sum[`${s.id}@${shape}`]?.cpuUs,
      ratio: paired(`${s.id}@${shape}`, twin, (x, y) => x.cpuUs / y.cpuUs),
      twinNoise: sum[`${base}@${shape}`] ? paired(twin, `${base}@${shape}`, (x, y) => x.cpuUs / y.cpuUs) : { median: NaN, perRound: [] },
    };
  });
}

/** TR1 and TR2, each the worst of its scenarios; undefined unless every pair ran. */
export function tracingTargets(rows: TracingRow[]): Record<string, Target> | undefined {
  if (rows.length !== BASES.length * VARIANTS.length) return undefined;
  const out: Record<string, Target> = {};
  for (const [name, v] of [["TR1", VARIANTS[0]], ["TR2", VARIANTS[1]]] as const) {
    const of = rows.filter((r) => r.variant === v.id);
    const worst = of.reduce((w, r) => (r.ratio.median > w.ratio.median ? r : w));
    const measured = of.some((r) => !Number.isFinite(r.ratio.median)) ? NaN : worst.ratio.median;
    out[name] = {
      name: `server CPU per call, ${v.label} / its untraced twin (worst of ${of.map((r) => r.base).join(", ")})`,
      measured,
      shown: `${measured.toFixed(3)} (${worst.base})`,
      target: `<= ${v.limit}`,
      pass: measured <= v.limit,
      detail: Object.fromEntries(of.map((r) => [r.base, r.ratio])),
    };
  }
  return out;
}

/** The console's table of the pairs. */
export function tracingLines(rows: TracingRow[]): string[] {
  if (rows.length === 0) return [];
  const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d));
  return [
    "| tracing | scenario | twin (off): CPU µs/call | traced: CPU µs/call | ratio (median) | per round | twin / default (noise) |",
    "|---|---|---:|---:|---:|---|---:|",
    ...rows.map(
      (r) =>
        `| ${r.variant === "off" ? "on, sampling nothing" : "on, 100 % sampled"} | ${r.base} | ${f(r.baseCpuUs)} | ${f(r.tracedCpuUs)} | ${f(r.ratio.median, 3)} | ${r.ratio.perRound.map((x) => f(x, 3)).join(" / ")} | ${f(r.twinNoise.median, 3)} |`,
    ),
  ];
}
