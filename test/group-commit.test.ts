// Group commit's bounds, on the real SQLite store: a batch holds at most
// BATCH_MAX_WRITES writes and BATCH_MAX_BYTES (one bigger write goes alone),
// and the queue behind a commit holds at most QUEUE_MAX_WRITES: past it a
// write is refused at once as STORE_UNAVAILABLE and is not applied.
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { DomainError } from "../src/domain/errors.js";
import { BATCH_MAX_BYTES, BATCH_MAX_WRITES, QUEUE_MAX_WRITES } from "../src/store/local/group-commit.js";
import type { LocalStore } from "../src/store/local/local-store.js";
import { openSqliteStore } from "../src/store/open-store.js";
import { tempDataDir } from "./support/server.js";

let store: LocalStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

async function open(env: Record<string, string> = {}) {
  store = await openSqliteStore({ ...loadConfig({ SQLITE_SYNCHRONOUS: "NORMAL", ...env }), dataDir: tempDataDir() });
  const batches: { writes: number; bytes: number }[] = [];
  store.observe({ batch: (writes, bytes) => batches.push({ writes, bytes }) });
  await store.createSession({ sessionId: "s", cwd: "", systemOwned: false, createdAt: new Date(), overrides: {} });
  return { store, batches };
}

const ref = { sessionId: "s", scope: "session" as const };
const write = (s: LocalStore, key: string, value: unknown) =>
  s.mutate(ref, { op: "set", key, value: value as never }, { actor: "t", source: "t" }).then(
    (r) => ({ ok: r.revision }),
    (e: unknown) => ({ error: e instanceof DomainError ? e.reason : String(e) }),
  );

describe("group commit on SQLite", () => {
  it("commits a burst in batches of at most BATCH_MAX_WRITES, every write applied once and in order", async () => {
    const { store, batches } = await open();
    const n = BATCH_MAX_WRITES * 2 + 7;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => write(store, `k${i % 50}`, i)));
    expect(results.map((r) => ("ok" in r ? r.ok : r.error))).toEqual(Array.from({ length: n }, (_, i) => BigInt(i + 1)));
    const sizes = batches.slice(1).map((b) => b.writes); // the first batch was the create
    expect(Math.max(...sizes)).toBe(BATCH_MAX_WRITES);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(n);
  });

  it("bounds a batch by bytes; a write bigger than the bound goes alone", async () => {
    const { store, batches } = await open({ MAX_SETTINGS_BYTES: String(64 * 1024 * 1024), MAX_BODY_BYTES: String(16 * 1024 * 1024) });
    const big = "x".repeat(BATCH_MAX_BYTES / 3);
    const huge = "y".repeat(BATCH_MAX_BYTES + 1024);
    const results = await Promise.all([...Array.from({ length: 7 }, (_, i) => write(store, `big${i}`, big)), write(store, "huge", huge)]);
    expect(results.every((r) => "ok" in r)).toBe(true);
    const after = batches.slice(1);
    expect(after.map((b) => b.writes)).toEqual([2, 2, 2, 1, 1]);
    for (const b of after.slice(0, 4)) expect(b.bytes).toBeLessThanOrEqual(BATCH_MAX_BYTES);
    expect(after[4]!.bytes).toBeGreaterThan(BATCH_MAX_BYTES);
  });

  it("refuses writes past QUEUE_MAX_WRITES at once, as not applied", async () => {
    const { store } = await open({ MAX_SETTINGS_KEYS: String(QUEUE_MAX_WRITES + 100) });
    const extra = 5;
    const results = await Promise.all(Array.from({ length: QUEUE_MAX_WRITES + extra }, (_, i) => write(store, `k${i}`, i)));
    const refused = results.flatMap((r, i) => ("error" in r ? [[i, r.error] as const] : []));
    expect(refused).toEqual(Array.from({ length: extra }, (_, i) => [QUEUE_MAX_WRITES + i, "STORE_UNAVAILABLE"]));
    const map = await store.readSettings(ref);
    expect("settings" in map && Object.keys(map.settings).length).toBe(QUEUE_MAX_WRITES);
    expect("settings" in map && map.settings[`k${QUEUE_MAX_WRITES}`]).toBeUndefined();
  });
});
