// The few statistics every figure uses: medians over rounds, percentiles of
// latencies, and the latency summary of a probe loop.
import { percentile } from "../latencies.mjs";

export { percentile };

export const median = (xs: number[]): number => {
  const a = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (a.length === 0) return NaN;
  return a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
};

export const round3 = (x: number): number => (Number.isFinite(x) ? +x.toFixed(3) : x);


export interface LatencyStats {
  samples: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function latencyStats(ms: number[], failures: number): LatencyStats {
  const s = [...ms].sort((a, b) => a - b);
  return { samples: s.length, failures, p50Ms: round3(percentile(s, 50)), p99Ms: round3(percentile(s, 99)), maxMs: round3(s[s.length - 1] ?? NaN) };
}
