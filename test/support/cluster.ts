// A real three-master Redis Cluster on loopback, built the way an operator
// would: three `redis-server --cluster-enabled yes`, then
// `redis-cli --cluster create ... --cluster-yes`.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, redisServerPath, waitForPing } from "./redis.js";

const run = promisify(execFile);

export interface TestCluster {
  /** host:port,host:port,host:port, as REDIS_CLUSTER_NODES takes it. */
  nodes: string;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<TestCluster> {
  const binary = redisServerPath();
  const dir = mkdtempSync(join(tmpdir(), "cm-cluster-"));
  const ports = [await freePort(), await freePort(), await freePort()];
  const children: ChildProcess[] = ports.map((port) =>
    spawn(binary, [
      "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
      "--cluster-config-file", `nodes-${port}.conf`, "--dir", dir, "--save", "", "--appendonly", "no",
    ], { stdio: "ignore" }),
  );
  const stop = async () => {
    await Promise.all(children.map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return undefined;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      return exited;
    }));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await waitForPing(`redis://127.0.0.1:${port}`);
    await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"]);
    const deadline = Date.now() + 15_000;
    for (const port of ports) {
      for (;;) {
        const { stdout } = await run("redis-cli", ["-p", String(port), "cluster", "info"]);
        if (stdout.includes("cluster_state:ok")) break;
        if (Date.now() > deadline) throw new Error(`cluster on ${port} did not become ok:\n${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: ports.map((p) => `127.0.0.1:${p}`).join(","), stop };
}
