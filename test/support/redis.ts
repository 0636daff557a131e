// A throwaway redis-server on a free loopback port, started by the tests
// themselves. With REDIS_URL set, that server is used instead; tests then
// isolate themselves by key prefix and never flush it.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

export interface TestRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL unless graceful); data survives only with persistence. */
  stop(graceful?: boolean): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Thaws it (SIGCONT): everything sent meanwhile is then run. */
  resume(): void;
}

const INSTALL_HINT =
  "redis-server is required for the tests: install it with `apt-get install -y redis-server`, or set REDIS_URL";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function redisServerPath(): string {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
  if (!found) throw new Error(INSTALL_HINT);
  return found;
}

export async function waitForPing(url: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis at ${url} did not answer: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      client.disconnect();
    }
  }
}

export async function startRedis(options: { persist?: boolean; extraArgs?: string[] } = {}): Promise<TestRedis> {
  const external = process.env.REDIS_URL;
  if (external && !options.persist && !options.extraArgs) {
    await waitForPing(external);
    const cannot = () => {
      throw new Error("this test starts its own redis-server; it cannot pause the one in REDIS_URL");
    };
    return { url: external, port: Number(new URL(external).port || 6379), stop: async () => {}, start: async () => {}, pause: cannot, resume: cannot };
  }
  const binary = redisServerPath();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "cm-redis-"));
  const args = [
    "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
    ...(options.persist ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
    ...(options.extraArgs ?? []),
  ];
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(binary, args, { stdio: "ignore" });
    await waitForPing(url);
  };
  const stop = async (graceful = false) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill(graceful ? "SIGTERM" : "SIGKILL");
    await exited;
  };
  await start();
  const stopAll = async (graceful?: boolean) => stop(graceful);
  process.once("exit", () => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  return { url, port, stop: stopAll, start, pause: () => child?.kill("SIGSTOP"), resume: () => child?.kill("SIGCONT") };
}

/**
 * Bytes that clients sent to the server on loopback `port` and that it has not
 * read yet, over the connections whose client address (host:port, as CLIENT
 * LIST's addr) passes `from`: with the server frozen (SIGSTOP), commands that
 * were written to it and await an answer.
 */
export function unreadBytes(port: number, from: (address: string) => boolean): number {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  const address = (field: string) => {
    const [ip, p] = field.split(":");
    return `${ip!.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join(".")}:${parseInt(p!, 16)}`;
  };
  return readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1).reduce((sum, line) => {
    const [, local, remote, state, queues] = line.trim().split(/\s+/);
    if (state !== "01" || !local?.endsWith(`:${hex(port)}`) || !from(address(remote!))) return sum;
    return sum + parseInt(queues!.split(":")[1]!, 16);
  }, 0);
}

/** Runs `fn` on a direct connection to the Redis (or sentinel) on loopback `port`. */
export async function onPort<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(port, "127.0.0.1");
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}
