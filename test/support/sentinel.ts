// A real Sentinel deployment on loopback: a primary, a replica and one
// redis-sentinel (quorum 1) watching them, as REDIS_SENTINELS takes it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, redisServerPath, waitForPing } from "./redis.js";

const run = promisify(execFile);

export interface TestSentinel {
  /** host:port of the sentinel, and the monitored primary's name. */
  sentinels: string;
  name: string;
  primaryPort: number;
  replicaPort: number;
  /** SIGKILLs the current primary. */
  killPrimary(): Promise<void>;
  /** The port of the server the sentinel names as primary now. */
  primaryNow(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSentinel(): Promise<TestSentinel> {
  const binary = redisServerPath();
  const dir = mkdtempSync(join(tmpdir(), "cm-sentinel-"));
  const [primaryPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
  const name = "cm-primary";
  const server = (port: number, extra: string[]) =>
    spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", `dump-${port}.rdb`, "--save", "", "--appendonly", "no", ...extra], { stdio: "ignore" });
  const children = new Map<number, ChildProcess>();
  children.set(primaryPort, server(primaryPort, []));
  children.set(replicaPort, server(replicaPort, ["--replicaof", "127.0.0.1", String(primaryPort)]));
  const conf = join(dir, "sentinel.conf");
  writeFileSync(conf, [
    `port ${sentinelPort}`,
    "bind 127.0.0.1",
    `dir ${dir}`,
    `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
    `sentinel down-after-milliseconds ${name} 1000`,
    `sentinel failover-timeout ${name} 5000`,
    `sentinel parallel-syncs ${name} 1`,
    "",
  ].join("\n"));
  children.set(sentinelPort, spawn(binary, [conf, "--sentinel"], { stdio: "ignore" }));

  const stop = async () => {
    await Promise.all([...children.values()].map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return undefined;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      return exited;
    }));
    rmSync(dir, { recursive: true, force: true });
  };
  const primaryNow = async () => {
    const { stdout } = await run("redis-cli", ["-p", String(sentinelPort), "sentinel", "get-master-addr-by-name", name]);
    return Number(stdout.trim().split("\n")[1]);
  };
  try {
    for (const port of [primaryPort, replicaPort, sentinelPort]) await waitForPing(`redis://127.0.0.1:${port}`);
    // The replica is in sync, and the sentinel has found it, before anything is tested.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { stdout: replication } = await run("redis-cli", ["-p", String(replicaPort), "info", "replication"]);
      const { stdout: replicas } = await run("redis-cli", ["-p", String(sentinelPort), "sentinel", "replicas", name]);
      if (replication.includes("master_link_status:up") && replicas.includes(String(replicaPort))) break;
      if (Date.now() > deadline) throw new Error(`the sentinel deployment did not settle:\n${replication}\n${replicas}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    sentinels: `127.0.0.1:${sentinelPort}`,
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
    stop,
  };
}
