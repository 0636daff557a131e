export declare function percentile(sorted: ArrayLike<number>, p: number): number;
export declare class Latencies {
  count: number;
  record(ms: number): void;
  summary(): { p50Ms: number; p99Ms: number; maxMs: number };
}
