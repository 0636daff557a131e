// Hostile HTTP clients against the compiled server, on loopback, each bounded
// in count and time, and each run over every path a request can take (the
// fast paths, connect-node's gRPC with JSON and gzip, REST; see
// support/abuse/paths.ts). Pass: every health check on a fresh connection
// during the attack is answered (within its 5 s timeout), the server answers
// again at once after it, every abusive connection or stream is closed within
// its timeout, RSS stays bounded, and memory held for an attack is let go.
// Latencies are printed, not asserted (they are the benchmark's). The timeouts
// are shortened (1 s) so the test is short; the defaults are in the README.
import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { Attack } from "../support/abuse/attacker.js";
import { COPIES, PATHS, type PathName } from "../support/abuse/paths.js";
import { cpuSeconds, launch, openFiles, recoveryMs, RSS_GROWTH_MIB, rssMiB, watchServer } from "../support/abuse/probe.js";
import { startMain } from "../support/process.js";
import { restClient } from "../support/rest.js";

const TIMEOUT_MS = 1000;
/** Timers fire late on a loaded 2-core machine; HTTP/1.1's checks also run only every TIMEOUT_MS / 2. */
const SLACK_MS = 1500;
/** What connect-node holds per stream while a 4 MiB answer waits: its own encoding of the map, and copies of it. */
const COPY_MIB = 16;

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
async function underAttack(target: { port: number; pid: number }, attack: Attack, { rssGrowthMiB = RSS_GROWTH_MIB } = {}) {
  const rssBefore = rssMiB(target.pid);
  const filesBefore = openFiles(target.pid);
  const cpuBefore = cpuSeconds(target.pid);
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
  const cpu = cpuSeconds(target.pid) - cpuBefore;
  const path = "path" in attack ? attack.path : undefined;
  console.log(JSON.stringify({ mode: attack.mode, path, seen, probes: { ...probes, failures: probes.failures.length }, recoveredMs: Math.round(recovered), cpuSeconds: cpu, filesBefore, filesAfter }));
  expect(filesAfter).toBeLessThan(filesBefore + 10);
  expect(probes.failures).toEqual([]);
  expect(recovered).toBeLessThan(10_000);
  expect(probes.maxRssMiB - rssBefore).toBeLessThan(rssGrowthMiB);
  return Object.assign(seen, { rssBefore });
}

describe.each(PATHS)("over %s", (path: PathName) => {
  it("survives rapid reset spread over 100 connections, closing the attackers with GOAWAY", async () => {
    const target = await server();
    // Twice the rate of the attack reported in the issue (103k streams in 12 s), for 3 s.
    const seen = await underAttack(target, { mode: "rapid-reset", port: target.port, connections: 100, streamsPerSecond: 20_000, durationMs: 3000, path });
    expect(seen.streams).toBeGreaterThan(30_000);
    // Past the per-connection or global reset cap, a connection is told to go away.
    expect(seen.goaways).toBeGreaterThan(0);
  }, 60_000);

  it("closes 200 connections whose requests never send their bodies", async () => {
    const target = await server();
    const seen = await underAttack(target, { mode: "silent-request", port: target.port, connections: 200, path, sessionId: `silent-${randomUUID()}`, deadlineMs: 2 * TIMEOUT_MS + SLACK_MS + 5000 });
    expect(seen.connectFailed).toBe(0);
    expect(seen.stillOpen).toBe(0);
    // The stream is reset at the request timeout; the connection, idle from then on, at the idle timeout.
    expect(seen.maxLifetimeMs).toBeLessThan(2 * TIMEOUT_MS + SLACK_MS);
  }, 60_000);

  it("resets streams of a 4 MiB map whose reader never sends WINDOW_UPDATE, and lets go of their memory", async () => {
    const target = await server();
    const rest = restClient(target.url);
    const sessionId = `big-${randomUUID()}`;
    expect((await rest("POST", "/api/sessions", { sessionId })).status).toBe(200);
    // Random values: gzip does not shrink the answer below a window.
    for (let batch = 0; batch < 10; batch++) {
      const settings = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${batch}-${i}`, randomBytes(285).toString("base64")]));
      expect((await rest("POST", `/api/sessions/${sessionId}/settings`, { settings, mode: "merge" })).status).toBe(200);
    }
    // gRPC and Connect with protobuf share one encoding of the map between every reader; the
    // others build its bytes per call, so fewer of their streams hold it at once.
    const copies = COPIES.has(path);
    const [connections, streamsPerConnection] = copies ? [4, 5] : [10, 20];
    const streams = connections * streamsPerConnection;
    const seen = await underAttack(
      target,
      { mode: "no-window-update", port: target.port, connections, streamsPerConnection, sessionId, path, deadlineMs: 60_000 },
      { rssGrowthMiB: copies ? RSS_GROWTH_MIB + streams * COPY_MIB : RSS_GROWTH_MIB },
    );
    expect(seen.closed).toBe(streams);
    expect(seen.resetByServer).toBe(streams);
    // Each stream is reset HTTP_WRITE_STALL_MS after its answer began to wait.
    expect(seen.maxLifetimeMs).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    // What the attack held is let go (V8 frees big buffers at its next full collection).
    const letGo = seen.rssBefore + RSS_GROWTH_MIB;
    expect(await settled(() => rssMiB(target.pid), (n) => n < letGo, 60_000)).toBeLessThan(letGo);
  }, 180_000);
});

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

describe.each([true, false])("header blocks that expand (4 KB to 400 KiB), SETTINGS acknowledged: %s", (acknowledge) => {
  it("are never answered, on 10 connections for 5 s, in bounded memory", async () => {
    const target = await server();
    const seen = await underAttack(target, { mode: "header-flood", port: target.port, connections: 10, durationMs: 5000, acknowledge });
    expect(seen.sent).toBeGreaterThan(1000);
    expect(seen.answered).toBe(0);
  }, 60_000);
});
