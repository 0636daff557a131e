// Property-based: the write engine (run by the memory and SQLite stores) is
// the oracle for the Redis Lua scripts. Random sequences over every kind of
// write run on all three stores side by side, and every step must agree
// exactly, with no sorting: the result or the error's reason, message and
// facts, the whole retained history (change order included) and the events
// watchers receive.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import type { Scope, Tuple } from "../src/domain/types.js";
import { createOperations } from "../src/service/operations.js";
import { openMemoryStore, openSqliteStore } from "../src/store/open-store.js";
import { attempt, createOn, ENV, expectSameState, openAll as openStores, optionsOf, step, waitFor, type Subject } from "./support/property-steps.js";
import { startRedis, type TestRedis } from "./support/redis.js";

let redis: TestRedis;
const dataRoot = mkdtempSync(join(tmpdir(), "cm-prop-"));
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dataRoot, { recursive: true, force: true });
});
const openAll = (clock: () => Date) => openStores(clock, redis.url, dataRoot);

it("the Redis scripts equal the write engine on random sequences of every kind of write", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
      let t = Date.UTC(2026, 0, 1);
      const subjects = await openAll(() => new Date(t));
      try {
        const sessionId = `p-${randomUUID()}`;
        for (const s of subjects) await createOn(s, sessionId, t);
        const [oracle, ...others] = subjects as [Subject, ...Subject[]];
        for (const [i, st] of steps.entries()) {
          t += 1000;
          const ref = { sessionId, scope: st.scope };
          const options = optionsOf(st, (await oracle.store.readSettings(ref)).revision);
          const label = `step ${i}: ${JSON.stringify(st)}`;
          const want = await attempt(oracle.store, ref, st.mutation, options);
          for (const other of others) expect(await attempt(other.store, ref, st.mutation, options), `${other.name}, ${label}`).toEqual(want);
          const history = await oracle.store.listHistory(ref, 10);
          for (const other of others) expect(await other.store.listHistory(ref, 10), `${other.name} history, ${label}`).toEqual(history);
        }
        await expectSameState(oracle, others, sessionId);
        // Redis delivers its events over pub/sub: wait until as many have arrived, then compare them in order.
        for (const other of others) {
          await waitFor(() => other.events.length >= oracle.events.length);
          expect(other.events, `${other.name} events`).toEqual(oracle.events);
        }
      } finally {
        await Promise.all(subjects.map((s) => s.store.close()));
      }
    }),
    { numRuns: 120 },
  );
}, 240_000);

// Group commit: writes sent together go into one transaction, each planned
// against the state the earlier ones left. The same writes, sent in random
// groups without waiting, must answer exactly what they answer one at a time
// (request ids repeated within a group included), with the same history,
// state and events, in the same order.
it("writes committed together in one batch answer exactly what they answer one at a time", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 16 }), fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 16, maxLength: 16 }), async (steps, groups) => {
      const t = Date.UTC(2026, 0, 1);
      const config = loadConfig(ENV);
      const oracle: Subject = { name: "one at a time", store: openMemoryStore(config, () => new Date(t)), events: [] };
      const batched: Subject[] = [
        { name: "memory, batched", store: openMemoryStore(config, () => new Date(t)), events: [] },
        { name: "sqlite, batched", store: await openSqliteStore({ ...config, dataDir: mkdtempSync(join(dataRoot, "batch-")), sqliteSynchronous: "NORMAL" }, undefined, () => new Date(t)), events: [] },
      ];
      try {
        const sessionId = `b-${randomUUID()}`;
        for (const s of [oracle, ...batched]) await createOn(s, sessionId, t);
        const sent = [];
        for (const st of steps) {
          const ref = { sessionId, scope: st.scope };
          const options = optionsOf(st, (await oracle.store.readSettings(ref)).revision);
          sent.push({ ref, st, options, want: await attempt(oracle.store, ref, st.mutation, options) });
        }
        for (const subject of batched) {
          const batchSizes: number[] = [];
          subject.store.observe!({ batch: (writes) => batchSizes.push(writes) });
          for (let i = 0, g = 0; i < sent.length; i += groups[g++]!) {
            const group = sent.slice(i, i + groups[g]!);
            const got = await Promise.all(group.map((w) => attempt(subject.store, w.ref, w.st.mutation, w.options)));
            group.forEach((w, j) => expect(got[j], `${subject.name}: ${JSON.stringify(w.st)}`).toEqual(w.want));
            // Each group really was one transaction.
            expect(batchSizes.pop(), `${subject.name} batch`).toBe(group.length);
          }
        }
        await expectSameState(oracle, batched, sessionId);
        for (const subject of batched) expect(subject.events, `${subject.name} events`).toEqual(oracle.events);
      } finally {
        await Promise.all([oracle, ...batched].map((s) => s.store.close()));
      }
    }),
    { numRuns: 60 },
  );
}, 240_000);

// Reads at a past revision: for random writes on each store, the scope read
// at every retained revision (current state with later history undone)
// equals the state recorded when that revision was current.
it("a scope read at any retained revision equals the scope as it was then", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
      const t = Date.UTC(2026, 0, 1);
      const subjects = await openAll(() => new Date(t));
      try {
        const sessionId = `h-${randomUUID()}`;
        for (const s of subjects) await createOn(s, sessionId, t);
        for (const subject of subjects) {
          const ops = createOperations(subject.store, loadConfig(ENV));
          const seen = new Map<string, Map<bigint, unknown>>([["session", new Map()], ["default", new Map()]]);
          const record = async (scope: Scope) => {
            const tuple = await subject.store.readTuple({ sessionId, scope });
            seen.get(scope)!.set(tuple.revision, tuple);
          };
          await record("session");
          await record("default");
          for (const st of steps) {
            const ref = { sessionId, scope: st.scope };
            await attempt(subject.store, ref, st.mutation, optionsOf(st, (await subject.store.readSettings(ref)).revision));
            await record(st.scope);
          }
          for (const [scope, byRevision] of seen) {
            const ref = { sessionId, scope: scope as Scope };
            const oldest = (await subject.store.listHistory(ref, 100)).entries.at(-1)?.revision ?? (await subject.store.readTuple(ref)).revision;
            for (const [revision, tuple] of byRevision) {
              if (revision < oldest - 1n) continue;
              const view = await ops.getControls(sessionId, undefined, scope === "session" ? revision : undefined);
              const read = await ops.getSettings(ref, undefined, undefined, revision);
              const settings = "settings" in read ? read.settings : undefined;
              const got = scope === "session" ? { ...view.session, settings } : { ...(tuple as Tuple), settings };
              expect(got, `${subject.name} ${scope} at ${revision}`).toEqual(tuple);
            }
          }
        }
      } finally {
        await Promise.all(subjects.map((s) => s.store.close()));
      }
    }),
    { numRuns: 60 },
  );
}, 240_000);
