// Watchers that never read, against many 50 KB writes, on the compiled server
// and the embedded store. Pass: the server's RSS grows by less than RSS_GROWTH_MIB,
// every health check and every unrelated write is answered (within 5 s and
// with 200), and every slow watcher is cut off with WATCH_BACKLOG, over gRPC,
// Connect (HTTP/2 and JSON over HTTP/1.1), gRPC-Web, connect-node's wires
// (gRPC with JSON, Connect with gzip) and SSE alike. Latencies are printed, not
// asserted: they are the benchmark's to measure on a quiet machine.
//
// `npm test` runs 4,000 writes; `npm run soak` runs the 20,000 (SOAK=1).
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { rssMiB, watchServer } from "../support/abuse/probe.js";
import { pausedH2, pausedSse, pausedWatch, type PausedWatch } from "../support/paused-watch.js";
import { startMain } from "../support/process.js";
import { restClient } from "../support/rest.js";
import { makeClients } from "../support/server.js";

const WRITES = process.env.SOAK ? 20_000 : 4000;
const VALUE = "x".repeat(50 * 1024);
/**
 * What the writes and the stalled watchers may add to the server's resident memory over what it
 * held before them: each watcher's backlog is bounded (WATCH_BACKLOG_BYTES, 4 MiB) and it is cut
 * off; unbounded, this grew by gigabytes.
 */
const RSS_GROWTH_MIB = 350;
const KINDS = ["grpc", "connect-proto-h2", "connect-json", "grpc-web", "grpc-json", "connect-gzip", "sse"] as const;

let main: ReturnType<typeof startMain>;
let url: string;
beforeAll(async () => {
  // A watcher cut off for its backlog keeps its last bytes until it reads them (or HTTP_WRITE_STALL_MS
  // passes): a long stall here lets every watcher show, at the end, how its stream ended.
  main = startMain({ HTTP_WRITE_STALL_MS: "600000" });
  url = (await main.line(/"msg":"listening"/)).address;
});
afterAll(async () => {
  main?.child.kill("SIGKILL");
  await main?.exited;
});

function pause(kind: (typeof KINDS)[number], sessionId: string): Promise<PausedWatch> {
  switch (kind) {
    case "grpc":
      return pausedH2(url, sessionId, "grpc");
    case "connect-proto-h2":
      return pausedH2(url, sessionId, "connect");
    case "grpc-json":
    case "connect-gzip":
      return pausedH2(url, sessionId, kind);
    case "sse":
      return pausedSse(url, sessionId);
    default:
      return pausedWatch(makeClients(url, kind), sessionId);
  }
}

// One watcher per protocol, then 70 (10 per protocol).
it.each([1, 10])(`cuts off %i watcher(s) per protocol that never read, against ${WRITES} writes of 50 KB, in bounded memory`, async (perKind) => {
  const rest = restClient(url);
  const sessionId = `slow-${randomUUID()}`;
  const unrelated = `quiet-${randomUUID()}`;
  for (const id of [sessionId, unrelated]) expect((await rest("POST", "/api/sessions", { sessionId: id })).status).toBe(200);
  const watchers = await Promise.all(KINDS.flatMap((kind) => Array.from({ length: perKind }, () => pause(kind, sessionId))));

  const rssBefore = rssMiB(main.child.pid!);
  let probeWrites = 0;
  const watcher = watchServer(Number(new URL(url).port), main.child.pid!, {
    everyMs: 50,
    also: async () => {
      const res = await rest("POST", `/api/sessions/${unrelated}/settings`, { key: "n", value: ++probeWrites });
      if (res.status !== 200) throw new Error(`unrelated write: ${res.status}`);
    },
  });
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < WRITES) {
      const i = next++;
      const res = await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "big", value: `${i}${VALUE}` });
      if (res.status !== 200) throw new Error(`write ${i}: ${res.status}`);
    }
  }));
  const probes = await watcher.stop();
  const ends = await Promise.all(watchers.map((w) => w.resume()));
  console.log(JSON.stringify({ watchers: watchers.length, writes: WRITES, probes: { ...probes, failures: probes.failures.length } }));

  expect(probes.failures).toEqual([]);
  expect(probes.maxRssMiB - rssBefore).toBeLessThan(RSS_GROWTH_MIB);
  expect(new Set(ends.map((e) => e.ended))).toEqual(new Set(["ResourceExhausted WATCH_BACKLOG", "watch_backlog"]));
  // Each got a whole, ordered run of changes before it was cut off, far short of the last write.
  for (const [i, e] of ends.entries()) {
    expect(e.revisions).toEqual(e.revisions.map((_, k) => watchers[i]!.created + 1 + k));
    expect(e.revisions.length).toBeLessThan(WRITES / 2);
  }
}, 600_000);
