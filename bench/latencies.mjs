// Latencies in ms as the bench's own client processes collect them
// (grpc-load.mjs, watchers.mjs), and the one percentile rule every figure
// uses (nearest rank; lib/stats.ts re-exports it for the driver).

/** The p-th percentile of ascending values (nearest rank); NaN when there are none. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** A list of samples that grows as needed, without an array of boxed numbers. */
export class Latencies {
  #values = new Float64Array(1 << 16);
  count = 0;

  record(ms) {
    if (this.count === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.count++] = ms;
  }

  /** p50, p99 and max of what was recorded. */
  summary() {
    const sorted = this.#values.slice(0, this.count).sort();
    return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: this.count ? sorted[this.count - 1] : NaN };
  }
}
