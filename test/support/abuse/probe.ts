// What an operator watches while a server is abused: health-check latency on
// fresh connections, the server's resident memory, and how soon it recovers.
// The attack itself runs in another process (attacker.ts), so these timings
// are not taken on a busy event loop.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import type { Attack } from "./attacker.js";

/** One GET /healthz on a new connection, as a load balancer would send it; its latency in ms. */
export function healthz(port: number, timeoutMs = 5000): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/healthz", agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once("end", () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`healthz ${res.statusCode}`))));
    });
    req.once("timeout", () => req.destroy(new Error(`healthz took over ${timeoutMs} ms`)));
    req.once("error", reject);
  });
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** CPU time (user and system) the process has used, in seconds. */
export function cpuSeconds(pid: number): number {
  // Fields after the command's closing parenthesis: state is 3rd, utime 14th and stime 15th of the line.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * What an attack may add to the server's resident memory, over what it held before the attack
 * (which grows with what the server loads, not with the attack). Unbounded, these attacks took
 * gigabytes; bounded, they take well under half of this.
 */
export const RSS_GROWTH_MIB = 250;

export function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

/** Times a call; failures are recorded by message. */
async function timed(call: () => Promise<unknown>, latencies: number[], failures: string[]): Promise<void> {
  const started = performance.now();
  await call().then(() => latencies.push(performance.now() - started), (err: Error) => failures.push(err.message));
}

/**
 * Probes health every `everyMs` (and `also`, another call that must stay quick,
 * such as an unrelated write) and samples the server's RSS until stopped.
 */
export function watchServer(port: number, pid: number, { everyMs = 25, also }: { everyMs?: number; also?: () => Promise<unknown> } = {}) {
  const latencies: number[] = [];
  const other: number[] = [];
  const failures: string[] = [];
  let maxRss = rssMiB(pid);
  let running = true;
  const loop = (async () => {
    while (running) {
      const next = performance.now() + everyMs;
      await timed(() => healthz(port), latencies, failures);
      if (also) await timed(also, other, failures);
      maxRss = Math.max(maxRss, rssMiB(pid));
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return {
        probes: latencies.length, failures, p50: percentile(latencies, 50), p99: percentile(latencies, 99),
        alsoP99: percentile(other, 99), maxRssMiB: maxRss,
      };
    },
  };
}

/** Time from now until three health checks in a row answer, each under `underMs` (generous: a bound, not a latency). */
export async function recoveryMs(port: number, underMs = 1000, withinMs = 10_000): Promise<number> {
  const started = performance.now();
  let streak = 0;
  while (streak < 3) {
    if (performance.now() - started > withinMs) return Number.POSITIVE_INFINITY;
    const ms = await healthz(port).catch(() => Number.POSITIVE_INFINITY);
    streak = ms < underMs ? streak + 1 : 0;
  }
  return performance.now() - started;
}

export interface AttackRun {
  ready: Promise<Record<string, any>>;
  done: Promise<Record<string, any>>;
  /** Lets the attacker go: it closes what it still holds and exits. */
  finish(): Promise<void>;
}

/** File descriptors the server holds: a socket it only half-closed still counts. */
export function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Starts attacker.ts in its own process; its `ready` and `done` lines resolve the promises. */
export function launch(attack: Attack): AttackRun {
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "attacker.ts"), JSON.stringify(attack)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const lines: Record<string, any>[] = [];
  const waiters: (() => void)[] = [];
  let buffered = "";
  child.stdout.on("data", (d) => {
    buffered += d;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      lines.push(JSON.parse(buffered.slice(0, nl)));
      buffered = buffered.slice(nl + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  let closed = false;
  child.once("close", () => {
    closed = true;
    waiters.splice(0).forEach((w) => w());
  });
  const line = async (event: string) => {
    for (;;) {
      const found = lines.find((l) => l.event === event);
      if (found) return found;
      if (closed) throw new Error(`the attacker exited without "${event}": ${stderr}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const gone = new Promise<void>((resolve) => child.once("close", () => resolve()));
  return {
    ready: line("ready"),
    done: line("done"),
    async finish() {
      child.stdin.end();
      await gone;
    },
  };
}
