// A watcher that stops reading falls behind; past its backlog bound the
// server ends its stream with resource_exhausted (WATCH_BACKLOG), or an SSE
// `event: error`, and the client resumes from the last revision it got with
// fromRevision, losing nothing still in history. On every transport.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pausedH2, pausedSse, pausedWatch, type PausedWatch } from "./support/paused-watch.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { newId, range, watch } from "./support/watch-suite.js";

/** 300 changes of 64 KiB (19 MiB) overflow any socket buffers on loopback, and a 20-event backlog. */
const WRITES = 300;
const VALUE = "x".repeat(64 * 1024);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    backend: "sqlite",
    // A stream ended for its backlog waits for its reader, who resumes below, rather than being dropped.
    env: { WATCH_BACKLOG_EVENTS: "20", HISTORY_LIMIT: String(WRITES + 10), HTTP_WRITE_STALL_MS: "60000" },
  });
});
afterAll(async () => {
  await server?.close();
});

/** settings_watch_backlog_cutoffs_total, summed over protocols. */
async function cutOffs(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return [...text.matchAll(/^settings_watch_backlog_cutoffs_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

const KINDS = ["grpc", "connect-proto-h2", "connect-json", "grpc-web", "sse"] as const;

/** A watcher that takes `created` and then reads nothing, over each protocol. */
function pause(kind: (typeof KINDS)[number], sessionId: string): Promise<PausedWatch> {
  switch (kind) {
    case "grpc":
      return pausedH2(server.url, sessionId, "grpc");
    case "connect-proto-h2":
      return pausedH2(server.url, sessionId, "connect");
    case "sse":
      return pausedSse(server.url, sessionId);
    default:
      return pausedWatch(server.clients(kind), sessionId);
  }
}

describe.each(KINDS)("a watcher over %s that stops reading", (kind) => {
  it("is cut off with WATCH_BACKLOG, and resumes from its last revision without a gap", async () => {
    const sessionId = newId();
    const c = server.clients();
    await c.sessions.createSession({ sessionId });
    const cutOffsBefore = await cutOffs();
    const paused = await pause(kind, sessionId);
    let last = 0n;
    for (let i = 0; i < WRITES; i++) {
      last = (await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "big", value: { kind: { case: "stringValue", value: `${i}${VALUE}` } } } } })).revision;
    }
    const rest = await paused.resume();
    expect(rest.ended).toBe(kind === "sse" ? "watch_backlog" : "ResourceExhausted WATCH_BACKLOG");
    // What it did get is whole and in order, and it stopped short of the end.
    const got = rest.revisions.at(-1) ?? paused.created;
    expect(rest.revisions).toEqual(range(paused.created + 1, got));
    expect(got).toBeLessThan(Number(last));
    expect(await cutOffs()).toBe(cutOffsBefore + 1);

    const resumed = watch(server.clients("grpc"), { sessionId, fromRevision: BigInt(got) });
    await resumed.until(() => resumed.changes.length >= Number(last) - got);
    resumed.stop();
    expect(resumed.changes.map((m) => Number(m.entry!.revision))).toEqual(range(got + 1, Number(last)));
  }, 60_000);
});
