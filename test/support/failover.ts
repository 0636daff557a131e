// Load and watchers for failover tests: writers that record how every call
// ended, the checks that what they were told was true, and watchers that
// resume after `unavailable` the way a client should.
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import type { Clients } from "./server.js";
import { num } from "./watch-suite.js";
import { until } from "./until.js";

export { until };

/**
 * Waits until `call` is served, trying it again while it is refused as
 * unavailable (the store reconnecting); any other failure fails at once. A
 * timeout names the last refusal, and what `explain` finds then.
 */
export async function untilServed(call: () => Promise<unknown>, what: string, options: { timeoutMs?: number; explain?: () => Promise<string> } = {}): Promise<void> {
  let last = "";
  await until(async () => {
    try {
      await call();
      return true;
    } catch (err) {
      if ((err as ConnectError).code !== Code.Unavailable) throw err;
      last = (err as ConnectError).rawMessage;
      return false;
    }
  }, what, options.timeoutMs).catch(async (err: Error) => {
    throw new Error(`${err.message}; last refusal: ${last}${options.explain ? `; ${await options.explain()}` : ""}`);
  });
}

export interface Outcome {
  sessionId: string;
  key: string;
  requestId: string;
  value: number;
  code: "ok" | keyof typeof Code;
  message: string;
  at: number;
}

/**
 * `count` writers, writer w on servers[w % servers.length], each writing its
 * own keys with a request id to the sessions in turn, until stopped.
 */
export function writers(servers: Clients[], sessionIds: string[], count: number) {
  const outcomes: Outcome[] = [];
  let stop = false;
  const done = Promise.all(
    Array.from({ length: count }, async (_, w) => {
      const c = servers[w % servers.length]!;
      for (let i = 0; !stop; i++) {
        const sessionId = sessionIds[(w + i) % sessionIds.length]!;
        const o: Outcome = { sessionId, key: `w${w}-${i}`, requestId: randomUUID(), value: i, code: "ok", message: "", at: 0 };
        try {
          await c.settings.setSettings({ sessionId, requestId: o.requestId, update: { case: "entry", value: { key: o.key, value: num(i) } } });
        } catch (err) {
          o.code = Code[(err as ConnectError).code] as keyof typeof Code;
          o.message = (err as ConnectError).rawMessage;
          // Refusals come at once while a master is away: back off a little, as a client should.
          await new Promise((r) => setTimeout(r, 5));
        }
        o.at = Date.now();
        outcomes.push(o);
      }
    }),
  );
  return { outcomes, done, stop: () => void (stop = true) };
}

/**
 * What each answer said held: acknowledged writes are stored (none lost),
 * refused ones are not, unknown ones land exactly once when retried with
 * their request id, nothing was written twice, and history is contiguous up
 * to the session's revision.
 */
export async function checkOutcomes(c: Clients, sessionId: string, outcomes: Outcome[]): Promise<void> {
  const mine = outcomes.filter((o) => o.sessionId === sessionId);
  const unknown = mine.filter((o) => o.code === "DeadlineExceeded");
  for (const o of unknown) {
    const retry = await c.settings.setSettings({ sessionId, requestId: o.requestId, update: { case: "entry", value: { key: o.key, value: num(o.value) } } });
    expect(retry.replayed || retry.changed, o.key).toBe(true);
  }
  const read = await c.settings.getSettings({ sessionId });
  const stored = read.settings!;
  expect(mine.filter((o) => o.code === "ok" && stored[o.key] !== o.value)).toEqual([]);
  expect(mine.filter((o) => o.code === "Unavailable" && o.key in stored)).toEqual([]);
  expect(unknown.filter((o) => stored[o.key] !== o.value)).toEqual([]);
  const history = await c.settings.listHistory({ sessionId, limit: 1000 });
  const revisions = history.entries.map((e) => Number(e.revision));
  expect(revisions).toEqual(Array.from({ length: Number(read.revision) }, (_, i) => Number(read.revision) - i));
  const keys = history.entries.flatMap((e) => e.changes.map((ch) => ch.key));
  expect(new Set(keys).size).toBe(keys.length);
  expect(keys.length).toBe(Object.keys(stored).length);
}

/**
 * A watcher that resumes with fromRevision = the last revision it got
 * whenever its stream ends with `unavailable` (or cannot be opened yet), as
 * the README tells clients to. Any other end is kept as `fatal`.
 */
export function resumingWatch(c: Clients, sessionId: string) {
  const abort = new AbortController();
  const revisions: number[] = [];
  let unavailable = 0;
  let opened = false;
  let fatal: unknown;
  const done = (async () => {
    while (!abort.signal.aborted) {
      try {
        const fromRevision = BigInt(revisions.at(-1) ?? 0);
        for await (const msg of c.settings.watchSettings({ sessionId, fromRevision }, { signal: abort.signal })) {
          if (msg.created) opened = true;
          else if (msg.entry) revisions.push(Number(msg.entry.revision));
        }
        fatal = new Error("the stream ended without an error");
        return;
      } catch (err) {
        if (abort.signal.aborted) return;
        if ((err as ConnectError).code !== Code.Unavailable) {
          fatal = err;
          return;
        }
        unavailable += 1;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();
  return {
    sessionId,
    revisions,
    get opened() { return opened; },
    get unavailable() { return unavailable; },
    get fatal() { return fatal; },
    async stop() {
      abort.abort();
      await done;
    },
  };
}

export type ResumingWatch = ReturnType<typeof resumingWatch>;

/** Every change of the session up to `revision` reached the watcher once, in order. */
export async function untilWhole(w: ResumingWatch, revision: number): Promise<void> {
  await until(() => w.fatal !== undefined || (w.revisions.at(-1) ?? 0) >= revision, `the watcher of ${w.sessionId} to reach revision ${revision} (at ${w.revisions.at(-1)})`);
  expect(w.fatal).toBeUndefined();
  expect(w.revisions).toEqual(Array.from({ length: revision }, (_, i) => i + 1));
}
