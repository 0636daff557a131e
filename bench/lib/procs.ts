// Processes the benchmark starts, and what it reads of them in /proc.
//
// Every process is started through `taskset -c <core>` (taskset execs, so the
// pid is the program's own), registered here, and killed by stopAll(): at the
// end, on an error, and on SIGINT/SIGTERM. Servers and clients written for the
// bench (child.mjs) also exit by themselves when their stdin closes, so none
// outlives the driver even if the driver is killed with SIGKILL.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";

export const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The port from the READY line (servers). */
  port: number;
  /** process.hrtime µs at READY (the clock of --cpu-prof samples). */
  readyAtUs: number;
  /** Resolves with the first stdout line starting with `prefix` from now on. */
  nextLine(prefix: string, timeoutMs: number): Promise<string>;
  /** One command line on the child's stdin (child.mjs: "gc", "mark"). */
  send(line: string): void;
  /** All stdout so far (clients print their results there). */
  output(): string;
  exited: Promise<number | null>;
}

const running = new Set<Proc>();

export interface StartOptions {
  /** The core to pin to (taskset -c). */
  core: 0 | 1;
  env?: Record<string, string>;
  cwd?: string;
  /** Wait for a "READY" line (bench servers and clients); otherwise return at once. */
  ready?: boolean;
  readyTimeoutMs?: number;
  /** Where the child's stderr goes (default: the driver's stderr). */
  stderr?: "inherit" | "ignore";
}

export async function start(name: string, argv: string[], options: StartOptions): Promise<Proc> {
  const child = spawn("taskset", ["-c", String(options.core), ...argv], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", options.stderr ?? "inherit"],
  });
  let out = "";
  let pending = "";
  const waiters: { prefix: string; resolve: (l: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => {
    out += d;
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      for (const w of [...waiters]) {
        if (line.startsWith(w.prefix)) {
          waiters.splice(waiters.indexOf(w), 1);
          clearTimeout(w.timer);
          w.resolve(line);
        }
      }
    }
  });
  child.stdin!.on("error", () => {});
  void exited.then((code) => {
    running.delete(proc);
    for (const w of waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`${name} exited (code ${code}) while the bench waited for "${w.prefix}"`));
    }
  });
  const proc: Proc = {
    name,
    child,
    pid: child.pid!,
    port: 0,
    readyAtUs: 0,
    exited,
    output: () => out,
    send: (line) => void child.stdin!.write(`${line}\n`),
    nextLine: (prefix, timeoutMs) =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null) return reject(new Error(`${name} has exited (code ${child.exitCode})`));
        const timer = setTimeout(() => {
          waiters.splice(waiters.findIndex((w) => w.timer === timer), 1);
          reject(new Error(`${name}: no "${prefix}" line within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push({ prefix, resolve, reject, timer });
      }),
  };
  running.add(proc);
  if (options.ready) {
    const line = await proc.nextLine("READY", options.readyTimeoutMs ?? 30_000);
    proc.port = Number(/port=(\d+)/.exec(line)?.[1] ?? 0);
    proc.readyAtUs = Number(/t=(\d+)/.exec(line)?.[1] ?? 0);
    checkPinned(proc, options.core);
  }
  return proc;
}

/** The pid must be the program itself (not a wrapper) and run on the one core it was given. */
export function checkPinned(proc: Proc, core: number): void {
  const comm = readFileSync(`/proc/${proc.pid}/comm`, "utf8").trim();
  if (comm === "taskset") throw new Error(`${proc.name}: pid ${proc.pid} is still taskset`);
  const allowed = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))?.[1];
  if (allowed !== String(core)) throw new Error(`${proc.name}: pid ${proc.pid} may run on cores ${allowed}, not only ${core}`);
}

/** A loopback port nothing listens on right now (for servers that cannot take port 0: redis-server, etcd). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Asks a child.mjs process for a full GC and its RSS afterwards. */
export async function gcRss(proc: Proc): Promise<number> {
  const reply = proc.nextLine("GC ", 30_000);
  proc.send("gc");
  const line = await reply;
  if (!line.includes("gc=true")) throw new Error(`${proc.name} runs without --expose-gc`);
  return Number(/rss=(\d+)/.exec(line)![1]);
}

/** process.hrtime µs of a child.mjs process now (the clock of its --cpu-prof samples). */
export async function hrtimeMark(proc: Proc): Promise<number> {
  const line = proc.nextLine("MARK", 10_000);
  proc.send("mark");
  return Number(/t=(\d+)/.exec(await line)![1]);
}

/** The process's resident set from /proc (bytes). */
export function rssOf(pid: number): number {
  const kb = Number(/VmRSS:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  return kb * 1024;
}

export async function stop(proc: Proc, graceMs = 5000): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill("SIGTERM");
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stop(p)));
}

/** Kills every registered child at once, synchronously (for process "exit"). */
export function killAllNow(): void {
  for (const p of running) {
    try {
      p.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

// ---------------------------------------------------------------- /proc readings

/** utime + stime of the process (all threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** Run time of all the process's threads from schedstat, in ns (the cross-check, and per-call readings). */
export function schedNs(pid: number): number {
  let total = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return total;
}

/** Jiffies of one core: [busy, total] from /proc/stat, to see who else used it. */
export function coreJiffies(core: number): [number, number] {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${core} `))!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return [total - v[3]! - v[4]!, total];
}

/** A snapshot of one server's CPU and of core 0, taken right before and right after a measured run. */
export interface CpuMark {
  ticks: number;
  ns: number;
  core0: [number, number];
  at: number;
}

export function mark(pid: number): CpuMark {
  return { ticks: cpuTicks(pid), ns: schedNs(pid), core0: coreJiffies(0), at: performance.now() };
}

export interface CpuUse {
  /** Server CPU per call from utime+stime (the figure every ratio uses). */
  cpuUs: number;
  /** The same from schedstat (ns resolution), as a cross-check. */
  schedUs: number;
  ticks: number;
  /** Share of core 0 that anything but this server used meanwhile (other sessions' work). */
  otherCore0Pct: number;
  seconds: number;
}

export function cpuUse(before: CpuMark, after: CpuMark, calls: number): CpuUse {
  const ticks = after.ticks - before.ticks;
  const core0Busy = after.core0[0] - before.core0[0];
  const core0Total = after.core0[1] - before.core0[1];
  return {
    cpuUs: (ticks * 1e6) / CLK_TCK / Math.max(1, calls),
    schedUs: (after.ns - before.ns) / 1000 / Math.max(1, calls),
    ticks,
    otherCore0Pct: core0Total > 0 ? Math.max(0, (100 * (core0Busy - ticks)) / core0Total) : 0,
    seconds: (after.at - before.at) / 1000,
  };
}

/**
 * Waits until the process is idle: less than 10 % of one core over a 10 ms
 * window (bounded by `timeoutMs`). A warm-up bounded in time ends with calls
 * still in flight; they must not land in the next measured run.
 */
export async function quiesce(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const ns0 = schedNs(pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 10));
    const busy = (schedNs(pid) - ns0) / 1e6 / (performance.now() - t0);
    if (busy < 0.1) return true;
  }
  return false;
}

/** Pins this process (all its threads) to a core; children started later inherit it. */
export function pinSelf(core: number): void {
  spawnSync("taskset", ["-a", "-p", "-c", String(core), String(process.pid)], { stdio: "ignore" });
}
