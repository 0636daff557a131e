// A real Sentinel deployment on loopback: a primary, a replica and one or
// more redis-sentinel processes (quorum 1) watching them, as REDIS_SENTINELS
// takes it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, redisServerPath, waitForPing } from "./redis.js";

const run = promisify(execFile);

export interface TestSentinel {
  /** host:port of each sentinel, and the monitored primary's name. */
  sentinels: string;
  sentinelPorts: number[];
  name: string;
  primaryPort: number;
  replicaPort: number;
  /** SIGKILLs the current primary. */
  killPrimary(): Promise<void>;
  /** The port of the server the sentinel (the first unless said) names as primary now. */
  primaryNow(sentinelPort?: number): Promise<number>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the process on `port`. */
  pause(port: number): void;
  resume(port: number): void;
  /** Has the sentinel on `sentinelPort` fail the primary over now, without asking the others (SENTINEL FAILOVER). */
  forceFailover(sentinelPort: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startSentinel({ sentinels = 1 }: { sentinels?: number } = {}): Promise<TestSentinel> {
  const binary = redisServerPath();
  const dir = mkdtempSync(join(tmpdir(), "cm-sentinel-"));
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const sentinelPorts: number[] = [];
  for (let i = 0; i < sentinels; i++) sentinelPorts.push(await freePort());
  const sentinelPort = sentinelPorts[0]!;
  const name = "cm-primary";
  const server = (port: number, extra: string[]) =>
    spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", `dump-${port}.rdb`, "--save", "", "--appendonly", "no", ...extra], { stdio: "ignore" });
  const children = new Map<number, ChildProcess>();
  children.set(primaryPort, server(primaryPort, []));
  children.set(replicaPort, server(replicaPort, ["--replicaof", "127.0.0.1", String(primaryPort)]));
  for (const port of sentinelPorts) {
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(conf, [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`,
      "",
    ].join("\n"));
    children.set(port, spawn(binary, [conf, "--sentinel"], { stdio: "ignore" }));
  }

  const stop = async () => {
    await Promise.all([...children.values()].map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return undefined;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      return exited;
    }));
    rmSync(dir, { recursive: true, force: true });
  };
  const primaryNow = async (via = sentinelPort) => {
    const { stdout } = await run("redis-cli", ["-p", String(via), "sentinel", "get-master-addr-by-name", name]);
    return Number(stdout.trim().split("\n")[1]);
  };
  try {
    for (const port of [primaryPort, replicaPort, ...sentinelPorts]) await waitForPing(`redis://127.0.0.1:${port}`);
    // The replica is in sync, and every sentinel has found it, before anything is tested.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { stdout: replication } = await run("redis-cli", ["-p", String(replicaPort), "info", "replication"]);
      const known = await Promise.all(sentinelPorts.map(async (port) => (await run("redis-cli", ["-p", String(port), "sentinel", "replicas", name])).stdout));
      if (replication.includes("master_link_status:up") && known.every((replicas) => replicas.includes(String(replicaPort)))) break;
      if (Date.now() > deadline) throw new Error(`the sentinel deployment did not settle:\n${replication}\n${known.join("\n")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    sentinels: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(","),
    sentinelPorts,
    name,
    primaryPort,
    replicaPort,
    primaryNow,
    async killPrimary() {
      const port = await primaryNow();
      const child = children.get(port)!;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
    pause: (port) => void children.get(port)!.kill("SIGSTOP"),
    resume: (port) => void children.get(port)!.kill("SIGCONT"),
    async forceFailover(via) {
      await run("redis-cli", ["-p", String(via), "sentinel", "failover", name]);
    },
    stop,
  };
}
