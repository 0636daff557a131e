// Joined whole-map reads: never answer a caller from a read that began before it arrived.
import { describe, expect, it } from "vitest";
import { SharedReads } from "../src/service/shared-reads.js";

/** A read the test finishes by hand; `value` is what the store held when the read started. */
function controlledStore() {
  let value = 0;
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  let started = 0;
  const start = () => {
    started++;
    const seen = value;
    return new Promise<number>((resolve, reject) => pending.push({ resolve: () => resolve(seen), reject }));
  };
  const settle = async (fail?: Error) => {
    const p = pending.shift()!;
    if (fail) p.reject(fail);
    else p.resolve(0);
    // Let the queued read (if any) start: it waits on the settled one.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { start, settle, write: () => value++, started: () => started };
}

describe("shared whole-map reads", () => {
  it("answers a caller who arrived during a read from a later read, shared by every such caller", async () => {
    const reads = new SharedReads<number>();
    const store = controlledStore();
    const first = reads.read("s", store.start);
    store.write(); // acknowledged while the first read runs: callers from now on must see it
    const late = Array.from({ length: 16 }, () => reads.read("s", store.start));
    expect(store.started()).toBe(1);
    await store.settle();
    expect(await first).toBe(0);
    expect(store.started()).toBe(2);
    await store.settle();
    expect(await Promise.all(late)).toEqual(Array(16).fill(1));
    expect(store.started()).toBe(2);
    expect(reads.size).toBe(0);
  });

  it("passes a failed read to the callers that joined it, and the next caller reads afresh", async () => {
    const reads = new SharedReads<number>();
    const store = controlledStore();
    const first = reads.read("s", store.start);
    const joined = [reads.read("s", store.start), reads.read("s", store.start)];
    await store.settle();
    await first;
    await store.settle(new Error("store down"));
    for (const j of joined) await expect(j).rejects.toThrow("store down");
    expect(reads.size).toBe(0);
    const again = reads.read("s", store.start);
    await store.settle();
    expect(await again).toBe(0);
    expect(store.started()).toBe(3);
  });

  it("keeps scopes apart", async () => {
    const reads = new SharedReads<number>();
    const store = controlledStore();
    const a = reads.read("a", store.start);
    const b = reads.read("b", store.start);
    expect(store.started()).toBe(2);
    expect(reads.size).toBe(2);
    await store.settle();
    await store.settle();
    expect([await a, await b]).toEqual([0, 0]);
    expect(reads.size).toBe(0);
  });
});
