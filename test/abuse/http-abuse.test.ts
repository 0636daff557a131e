// Hostile HTTP clients against the compiled server, on loopback, each bounded
// in count and time. Pass: health checks on fresh connections stay under
// 200 ms at p99 during the attack and under 100 ms within 2 s after it, every
// abusive connection or stream is closed within its timeout, and RSS stays
// bounded. The timeouts are shortened (1 s) so the test is short; the
// defaults are in the README.
import { randomUUID } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import type { Attack } from "../support/abuse/attacker.js";
import { launch, openFiles, recoveryMs, watchServer } from "../support/abuse/probe.js";
import { startMain } from "../support/process.js";
import { restClient } from "../support/rest.js";

const TIMEOUT_MS = 1000;
/** Timers fire late on a loaded 2-core machine; HTTP/1.1's checks also run only every TIMEOUT_MS / 2. */
const SLACK_MS = 1500;
const RSS_BOUND_MIB = 300;

let stop: (() => Promise<unknown>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

async function server(options: { maxOpenFiles?: number } = {}) {
  const main = startMain(
    { HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), HTTP_IDLE_TIMEOUT_MS: String(TIMEOUT_MS), HTTP_WRITE_STALL_MS: String(TIMEOUT_MS) },
    options,
  );
  stop = async () => {
    main.child.kill("SIGKILL");
    await main.exited;
  };
  const { address } = await main.line(/"msg":"listening"/);
  return { url: address as string, port: Number(new URL(address).port), pid: main.child.pid! };
}

/** Polls `read` until `ok` or `withinMs`; answers the last value read. */
async function settled(read: () => number, ok: (n: number) => boolean, withinMs: number): Promise<number> {
  const deadline = Date.now() + withinMs;
  let value = read();
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    value = read();
  }
  return value;
}

/** Runs one attack while probing; answers what the attacker saw and what the probes saw. */
async function underAttack(target: { port: number; pid: number }, attack: Attack) {
  const filesBefore = openFiles(target.pid);
  const run = launch(attack);
  let seen: Record<string, any>;
  let filesAfter: number;
  let probes: Awaited<ReturnType<ReturnType<typeof watchServer>["stop"]>>;
  try {
    await run.ready;
    const watcher = watchServer(target.port, target.pid);
    seen = await run.done;
    probes = await watcher.stop();
    // Before the attacker lets go, every connection it holds is closed on the server's side (in time).
    filesAfter = await settled(() => openFiles(target.pid), (n) => n < filesBefore + 10, TIMEOUT_MS + SLACK_MS);
  } finally {
    await run.finish();
  }
  const recovered = await recoveryMs(target.port);
  console.log(JSON.stringify({ mode: attack.mode, seen, probes: { ...probes, failures: probes.failures.length }, recoveredMs: Math.round(recovered), filesBefore, filesAfter }));
  expect(filesAfter).toBeLessThan(filesBefore + 10);
  expect(probes.failures).toEqual([]);
  expect(probes.p99).toBeLessThan(200);
  expect(recovered).toBeLessThan(2000);
  expect(probes.maxRssMiB).toBeLessThan(RSS_BOUND_MIB);
  return seen;
}

it("survives rapid reset spread over 100 connections, closing the attackers with GOAWAY", async () => {
  const target = await server();
  // Twice the rate of the attack reported in the issue (103k streams in 12 s), for 5 s.
  const seen = await underAttack(target, { mode: "rapid-reset", port: target.port, connections: 100, streamsPerSecond: 20_000, durationMs: 5000 });
  expect(seen.streams).toBeGreaterThan(50_000);
  // Past the per-connection or global reset cap, a connection is told to go away.
  expect(seen.goaways).toBeGreaterThan(0);
}, 60_000);

it("closes 5,000 connections that send the HTTP/2 preface and then nothing, under ulimit -n 1024", async () => {
  const target = await server({ maxOpenFiles: 1024 });
  const seen = await underAttack(target, { mode: "silent-preface", port: target.port, connections: 5000, deadlineMs: TIMEOUT_MS + SLACK_MS + 5000 });
  expect(seen.connectFailed).toBe(0);
  expect(seen.stillOpen).toBe(0);
  expect(seen.maxLifetimeMs).toBeLessThan(TIMEOUT_MS + SLACK_MS);
}, 60_000);

it("closes HTTP/2 and HTTP/1.1 clients that drip their headers a byte at a time", async () => {
  const target = await server();
  const seen = await underAttack(target, { mode: "header-drip", port: target.port, connections: 200, byteEveryMs: 100, deadlineMs: TIMEOUT_MS + SLACK_MS + 5000 });
  expect(seen.connectFailed).toBe(0);
  expect(seen.stillOpen).toBe(0);
  expect(seen.maxLifetimeMs).toBeLessThan(TIMEOUT_MS + SLACK_MS);
}, 60_000);

it("resets streams of a 4 MiB map whose reader never sends WINDOW_UPDATE, without holding a copy per stream", async () => {
  const target = await server();
  const rest = restClient(target.url);
  const sessionId = `big-${randomUUID()}`;
  expect((await rest("POST", "/api/sessions", { sessionId })).status).toBe(200);
  for (let batch = 0; batch < 10; batch++) {
    const settings = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${batch}-${i}`, "v".repeat(380)]));
    expect((await rest("POST", `/api/sessions/${sessionId}/settings`, { settings, mode: "merge" })).status).toBe(200);
  }
  const seen = await underAttack(target, {
    mode: "no-window-update", port: target.port, connections: 10, streamsPerConnection: 20, sessionId, deadlineMs: TIMEOUT_MS + SLACK_MS + 10_000,
  });
  expect(seen.closed).toBe(200);
  expect(seen.resetByServer).toBe(200);
  expect(seen.maxLifetimeMs).toBeLessThan(TIMEOUT_MS + SLACK_MS);
}, 60_000);
