// A real Redis Cluster on loopback, built the way an operator would: one
// `redis-server --cluster-enabled yes` per node, then `redis-cli --cluster
// create ... --cluster-yes`. Three masters by default; with `replicas`, three
// masters and three replicas with AOF (`appendfsync always`) and a small
// cluster-node-timeout, so a SIGKILLed master is replaced in a few seconds.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePort, redisServerPath, waitForPing } from "./redis.js";

const run = promisify(execFile);

/** How long a master may be silent before it is failed over; small, so a test's failover is quick. */
const NODE_TIMEOUT_MS = 1500;

export interface TestCluster {
  /** host:port,host:port,host:port, as REDIS_CLUSTER_NODES takes it. */
  nodes: string;
  /** The port of the master serving `key` now. */
  masterOf(key: string): Promise<number>;
  /** The ports of the masters serving slots now. */
  masters(): Promise<number[]>;
  /** Freezes the node on `port` (SIGSTOP): its connections stay open, nothing is answered. */
  pause(port: number): void;
  /** SIGKILLs the master on `port` (frozen or not). */
  kill(port: number): Promise<void>;
  /** Waits until a replica serves the slots of the master killed on `port`, and the cluster is ok; answers its port. */
  failedOver(port: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startCluster({ replicas = false }: { replicas?: boolean } = {}): Promise<TestCluster> {
  const binary = redisServerPath();
  const dir = mkdtempSync(join(tmpdir(), "cm-cluster-"));
  const ports: number[] = [];
  for (let i = 0; i < (replicas ? 6 : 3); i++) ports.push(await freePort());
  const persistence = replicas
    ? ["--appendonly", "yes", "--appendfsync", "always", "--cluster-node-timeout", String(NODE_TIMEOUT_MS), "--cluster-replica-validity-factor", "0"]
    : ["--appendonly", "no"];
  const children = new Map<number, ChildProcess>(ports.map((port) => [port, spawn(binary, [
    "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
    "--cluster-config-file", `nodes-${port}.conf`, "--dir", dir, "--save", "",
    "--appendfilename", `appendonly-${port}.aof`, "--appenddirname", `aof-${port}`, ...persistence,
  ], { stdio: "ignore" })]));
  const paused = new Set<number>();
  /** The nodes that answer: not killed, not frozen. */
  const alive = () => ports.filter((p) => !paused.has(p) && children.get(p)!.exitCode === null && children.get(p)!.signalCode === null);
  const stop = async () => {
    await Promise.all([...children.values()].map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return undefined;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      return exited;
    }));
    rmSync(dir, { recursive: true, force: true });
  };
  const cli = async (port: number, ...args: string[]) => (await run("redis-cli", ["-p", String(port), ...args], { timeout: 5000 })).stdout;
  /** Slot ranges with the port of the master serving each, as a live node sees them. */
  const slotMap = async () => {
    const client = new Redis(alive()[0]!, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, commandTimeout: 5000 });
    client.on("error", () => {});
    try {
      await client.connect();
      return (await client.cluster("SLOTS")).map(([from, to, master]) => ({ from, to, port: master![1] }));
    } finally {
      client.disconnect();
    }
  };
  const settled = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + 30_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`the cluster did not settle: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /** Every live node says the cluster is ok and every replica is in sync with its master. */
  const healthy = async () => {
    for (const port of alive()) {
      if (!(await cli(port, "cluster", "info")).includes("cluster_state:ok")) return false;
      const replication = await cli(port, "info", "replication");
      if (replication.includes("role:slave") && !replication.includes("master_link_status:up")) return false;
    }
    return true;
  };
  try {
    for (const port of ports) await waitForPing(`redis://127.0.0.1:${port}`);
    await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", replicas ? "1" : "0", "--cluster-yes"]);
    await settled("every node ok and in sync", healthy);
    if (replicas) await settled("every master has its replica", async () => (await cli(ports[0]!, "cluster", "nodes")).split("\n").filter((l) => l.includes(" slave ")).length === 3);
  } catch (err) {
    await stop();
    throw err;
  }
  /** The first slot each killed master served. */
  const killedFrom = new Map<number, number>();
  const masterOf = async (key: string) => {
    const slot = Number((await cli(alive()[0]!, "cluster", "keyslot", key)).trim());
    return (await slotMap()).find((r) => r.from <= slot && slot <= r.to)!.port;
  };
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(","),
    masterOf,
    masters: async () => [...new Set((await slotMap()).map((r) => r.port))],
    pause(port) {
      paused.add(port);
      children.get(port)!.kill("SIGSTOP");
    },
    async kill(port) {
      const first = (await slotMap()).find((r) => r.port === port);
      if (!first) throw new Error(`${port} is not a master`);
      killedFrom.set(port, first.from);
      const child = children.get(port)!;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
    async failedOver(port) {
      let promoted = port;
      await settled(`a replica takes over from ${port}`, async () => {
        promoted = (await slotMap()).find((r) => r.from === killedFrom.get(port))?.port ?? port;
        return promoted !== port && (await healthy());
      });
      return promoted;
    },
    stop,
  };
}

