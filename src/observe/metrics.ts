// Prometheus metrics through prom-client, on a registry of the server's own
// (so that several servers in one process, as in the tests, never collide).
// Served at GET /metrics, which like the health checks needs no token.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export interface Metrics {
  registry: Registry;
  /** Every call, by protocol (grpc, grpc-web, connect, rest), procedure and Connect code. */
  calls: Counter<"protocol" | "procedure" | "code">;
  callSeconds: Histogram<"protocol" | "procedure">;
  /** Every store operation, by operation and outcome (ok or the error's reason). */
  storeSeconds: Histogram<"operation" | "outcome">;
  /** Watch streams open now, by protocol. */
  watchStreams: Gauge<"protocol">;
  /** Whole-map reads, answered from the snapshot cache or read in full. */
  mapReads: Counter<"cached">;
  watchCutOffs: Counter<"protocol">;
  /** Calls refused for their caller's rate limit, by kind (writes, watches) and actor (bounded: see service/rate-limits.ts). */
  rateLimited: Counter<"kind" | "actor">;
  /** Writes per group commit (the embedded store): how many share one transaction and its fsync. */
  batchWrites: Histogram;
}

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** `ready` answers whether the store answers now; it is asked at each scrape. */
export function createMetrics(ready: () => Promise<boolean>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: "settings_store_ready",
    help: "1 while the settings store answers, else 0 (checked at each scrape).",
    registers: [registry],
    async collect() {
      this.set((await ready()) ? 1 : 0);
    },
  });
  return {
    registry,
    calls: new Counter({
      name: "settings_calls_total",
      help: "Calls by protocol, procedure and Connect code.",
      labelNames: ["protocol", "procedure", "code"],
      registers: [registry],
    }),
    callSeconds: new Histogram({
      name: "settings_call_duration_seconds",
      help: "Call latency by protocol and procedure.",
      labelNames: ["protocol", "procedure"],
      buckets: SECONDS,
      registers: [registry],
    }),
    storeSeconds: new Histogram({
      name: "settings_store_operation_duration_seconds",
      help: "Store operation latency by operation and outcome.",
      labelNames: ["operation", "outcome"],
      buckets: SECONDS,
      registers: [registry],
    }),
    mapReads: new Counter({
      name: "settings_map_reads_total",
      help: "Whole-map reads: cached=true when the map was still at the revision held in memory.",
      labelNames: ["cached"],
      registers: [registry],
    }),
    watchStreams: new Gauge({
      name: "settings_watch_streams",
      help: "Watch streams open now, by protocol.",
      labelNames: ["protocol"],
      registers: [registry],
    }),
    batchWrites: new Histogram({
      name: "settings_store_batch_writes",
      help: "Writes committed together in one transaction (one fsync) by the embedded store's group commit.",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: "settings_rate_limited_total",
      help: "Calls refused with RATE_LIMITED, by kind (writes, watches) and actor (the authenticated actor; else certificate or anonymous).",
      labelNames: ["kind", "actor"],
      registers: [registry],
    }),
    watchCutOffs: new Counter({
      name: "settings_watch_backlog_cutoffs_total",
      help: "Watch streams ended because their reader fell behind past WATCH_BACKLOG_EVENTS or WATCH_BACKLOG_BYTES.",
      labelNames: ["protocol"],
      registers: [registry],
    }),
  };
}

/**
 * A metric's child per label values, made once: prom-client's labelled calls
 * (`inc({...})`, `observe({...}, v)`, `startTimer`) build label objects and
 * closures on every call, which is garbage on every RPC. Label values are few
 * (protocols, procedures, codes, store operations and outcomes).
 */
export class Children<T> {
  private readonly root = new Map<string, Map<string, T | Map<string, T>>>();
  constructor(private readonly make: (...values: string[]) => T) {}

  get(a: string, b: string, c?: string): T {
    let byA = this.root.get(a);
    if (!byA) this.root.set(a, (byA = new Map()));
    if (c === undefined) {
      let child = byA.get(b) as T | undefined;
      if (child === undefined) byA.set(b, (child = this.make(a, b)));
      return child;
    }
    let byB = byA.get(b) as Map<string, T> | undefined;
    if (!byB) byA.set(b, (byB = new Map()));
    let child = byB.get(c);
    if (child === undefined) byB.set(c, (child = this.make(a, b, c)));
    return child;
  }
}

