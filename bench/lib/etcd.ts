// etcd, the in-run anchor for durable writes: Debian's etcd-server 3.4 as a
// single member, a process of its own pinned to core 0 like the service, on
// free loopback ports, its data dir in the run's work dir (the filesystem of
// the service's SQLite DATA_DIR, so an fsync costs the same), with its
// default durability: the WAL is fsynced before a write is acknowledged.
// Written to over its v3 JSON gateway (HTTP/1.1) and its native gRPC
// (etcdserverpb.KV/Put), both on the client port.
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { join } from "node:path";
import { GrpcConnection, grpcFrame, httpRequest, until } from "./clients.js";
import type { WrkRequests } from "./load.js";
import { DISTINCT } from "./messages.js";
import { checkPinned, freePort, start } from "./procs.js";
import { work, type Server } from "./servers.js";

export const ETCD_PUT = "/etcdserverpb.KV/Put";

export async function startEtcd(): Promise<Server> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  // Flags as a one-member cluster needs them; every durability setting stays at its default.
  const proc = await start(
    "etcd",
    [
      "etcd", "--name", "bench", "--data-dir", join(work.dir, "etcd"),
      "--listen-client-urls", client, "--advertise-client-urls", client,
      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", `bench=${peer}`,
      "--logger=zap", "--log-level=error",
    ],
    { core: 0, stderr: "ignore" },
  );
  await until("etcd to answer /health", async () => (await httpRequest(`${client}/health`, { timeoutMs: 1000 })).body.includes('"health":"true"'), 30_000);
  checkPinned(proc, 0);
  return { id: "etcd", proc, url: client, grpc: new GrpcConnection(client), counts: () => etcdCounts(client), revision: () => etcdRevision(client) };
}

/** grpc_server_handled_total of etcd's KV service as "grpc/<method>/<code>" (code "ok" for OK, as the service counts). */
async function etcdCounts(url: string): Promise<Map<string, number>> {
  const r = await httpRequest(`${url}/metrics`);
  if (r.status !== 200) throw new Error(`etcd /metrics answered ${r.status}`);
  const counts = new Map<string, number>();
  for (const m of r.body.matchAll(/^grpc_server_handled_total\{([^}]*)\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.grpc_service !== "etcdserverpb.KV") continue;
    counts.set(`grpc/${labels.grpc_method}/${labels.grpc_code === "OK" ? "ok" : labels.grpc_code}`, Number(m[2]));
  }
  return counts;
}

/** The store's revision: every put makes one. */
async function etcdRevision(url: string): Promise<bigint> {
  const r = await httpRequest(`${url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: base64("bench-revision") }) });
  if (r.status !== 200) throw new Error(`etcd /v3/kv/range answered ${r.status}: ${r.body}`);
  return BigInt((JSON.parse(r.body) as { header: { revision: string } }).header.revision);
}

const base64 = (text: string) => Buffer.from(text).toString("base64");

/** etcdserverpb.PutRequest, encoded field by field: 1 key, 2 value (bytes). */
const putFrame = (key: string, value: string) =>
  grpcFrame(Buffer.from(new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(Buffer.from(key)).tag(2, WireType.LengthDelimited).bytes(Buffer.from(value)).finish()));

/** Distinct Puts for run number `seq` over `keys`, like messages.ts's distinctSets: frame i puts seq * DISTINCT + i. */
export const distinctPuts = (keys: string[]) => (seq: number): Buffer[] =>
  Array.from({ length: DISTINCT }, (_, i) => putFrame(keys[i % keys.length]!, String(seq * DISTINCT + i)));

/** The JSON gateway's put, one key per slot, the counter as the value (base64, as the gateway takes bytes). */
export const gatewayPuts = (keys: string[]): WrkRequests => ({
  slots: keys.map((k) => ({ path: "/v3/kv/put", body: `{"key":"${base64(k)}","value":"%d"}` })),
  counter: "base64",
});
