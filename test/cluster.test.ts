// The whole contract suite and the watch suite on a real three-master Redis
// Cluster: every script touches one slot (the default scope's included),
// and two instances on the cluster see each other's writes and events.
import { afterAll, beforeAll, expect, it } from "vitest";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { contractSuite } from "./support/contract-suite.js";
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

it("really runs on the cluster", async () => {
  const server = await start();
  try {
    const ready = await fetch(`${server.url}/readyz`);
    expect(await ready.json()).toEqual({ status: "ok", store: "redis-cluster" });
  } finally {
    await server.close();
  }
});
