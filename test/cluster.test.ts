// The whole contract suite and the watch suite on a real three-master Redis
// Cluster: every script touches one slot (the default scope's included),
// and two instances on the cluster see each other's writes and events.
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { contractSuite } from "./support/contract-suite.js";
import { feedSuite } from "./support/feed-suite.js";
import { schemaSuite } from "./support/schema-suite.js";
import { createSettingsSdk } from "../src/client/index.js";
import { makeTransport } from "./support/server.js";
import { startTestServer } from "./support/server.js";
import { twoInstancesSuite, watchSuite } from "./support/watch-suite.js";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const start = (env?: Record<string, string>) => startTestServer({ backend: "redis-cluster", clusterNodes: cluster.nodes, env });
contractSuite("Redis Cluster", start, ["grpc", "connect-json"]);
watchSuite("Redis Cluster", start, ["grpc"]);
twoInstancesSuite("one Redis Cluster", start);
feedSuite("Redis Cluster", start, ["grpc"], { shared: true });
schemaSuite("Redis Cluster", start, ["grpc"]);

it("keeps one change feed per shard: a cursor names every shard, and each scope's changes come in order", async () => {
  const server = await start();
  try {
    const sdk = createSettingsSdk(makeTransport(server.url, "grpc"));
    const { cursor } = await sdk.changes.list("", 1);
    // Three masters: three shards, each named in the cursor.
    expect(cursor.split(".").slice(1).map((p) => p.split("~")[0])).toHaveLength(3);
    const ids = Array.from({ length: 12 }, (_, i) => `shard-${i}-${Date.now()}`);
    for (const id of ids) await sdk.sessions.create({ sessionId: id });
    for (let n = 1; n <= 3; n++) for (const id of ids) await sdk.session(id).settings.set("n", n);
    const seen = new Map<string, bigint[]>();
    const shards = new Set<string>();
    const controller = new AbortController();
    let count = 0;
    for await (const c of sdk.changes.watch({ after: cursor, signal: controller.signal })) {
      if (!ids.includes(c.sessionId)) continue;
      seen.set(c.sessionId, [...(seen.get(c.sessionId) ?? []), c.revision]);
      shards.add(c.cursor);
      if (++count === ids.length * 4) controller.abort();
    }
    for (const id of ids) expect(seen.get(id), id).toEqual([0n, 1n, 2n, 3n]);
  } finally {
    await server.close();
  }
});

it("really runs on the cluster", async () => {
  const server = await start();
  try {
    const ready = await fetch(`${server.url}/readyz`);
    expect(await ready.json()).toEqual({ status: "ok", store: "redis-cluster" });
  } finally {
    await server.close();
  }
});

it("loads its functions library again on every master that forgot it (FUNCTION FLUSH), and writes to every shard go on", async () => {
  const server = await start();
  try {
    const sdk = createSettingsSdk(makeTransport(server.url, "grpc"));
    const masters = await cluster.masters();
    // One session on each master, so each forgotten library is met by a write.
    const byMaster = new Map<number, string>();
    for (let i = 0; i < 200 && byMaster.size < masters.length; i++) {
      const id = `flushed-${i}-${Date.now()}`;
      const port = await cluster.masterOf(`{s:${id}}`);
      if (!byMaster.has(port)) byMaster.set(port, id);
    }
    expect(byMaster.size).toBe(masters.length);
    const ids = [...byMaster.values()];
    for (const id of ids) await sdk.sessions.create({ sessionId: id });
    for (const port of masters) {
      const node = new Redis(port, "127.0.0.1");
      await node.call("FUNCTION", "FLUSH");
      node.disconnect();
    }
    for (const id of ids) expect((await sdk.session(id).settings.set("n", 1)).revision).toBe(1n);
    for (const id of ids) expect(await sdk.session(id).settings.getKey("n")).toMatchObject({ found: true, value: 1 });
  } finally {
    await server.close();
  }
});
