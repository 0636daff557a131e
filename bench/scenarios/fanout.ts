// Watch fan-out: `BUDGET.watchers` watchers of one session, held by a client
// process of its own on core 1 (bench/watchers.mjs), once on the
// Connect-streaming path and once on SSE; and `BUDGET.feedWatchers` watchers
// of the store-wide change feed; each on a fresh server: server RSS per
// watcher, CPU per delivered change, delivery latency at 10 writes/s, and
// /healthz meanwhile. With `profileDir`, the server runs with --cpu-prof and
// its write phase is summarized.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { httpRequest, until } from "../lib/clients.js";
import { BUDGET, log } from "../lib/flags.js";
import { healthProbe } from "../lib/probes.js";
import { summarizeProfile } from "../lib/profile.js";
import { cpuUse, gcRss, hrtimeMark, mark, start } from "../lib/procs.js";
import { ROOT, startServer, stopServer } from "../lib/servers.js";
import { round3 } from "../lib/stats.js";

/** Watch streams the server has open now, over every protocol (its /metrics). */
export async function watchStreams(url: string): Promise<number> {
  const r = await httpRequest(`${url}/metrics`);
  let n = 0;
  for (const m of r.body.matchAll(/^settings_watch_streams\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

export type FanoutMode = "connect" | "sse" | "feed";

const PATHS: Record<FanoutMode, string> = {
  connect: "Connect streaming (binary, over node:http2, 250 streams per connection)",
  sse: "SSE /api/sessions/:id/settings/events (node:http, one connection each)",
  feed: "WatchChanges, the store-wide feed (Connect streaming, binary, 250 streams per connection)",
};

export async function fanout(mode: FanoutMode, profileDir?: string): Promise<Record<string, unknown>> {
  const count = mode === "feed" ? BUDGET.feedWatchers : BUDGET.watchers;
  // A fresh server per path, so that what the watchers hold is all that grows.
  const srv = await startServer("redis", profileDir ? ["--cpu-prof", "--cpu-prof-interval=250", `--cpu-prof-dir=${profileDir}`] : []);
  const window = { from: 0, to: 0 };
  try {
    // A few watchers on the same path first, then gone: what the first watch sets up once
    // (the Redis subscriber, code paths compiled) is not counted per watcher.
    const warm = await start(`watchers-${mode}-warm-up`, [process.execPath, "bench/watchers.mjs", srv.url, "bench-watch", "20", mode, "2", "250"], { core: 1, cwd: ROOT });
    await warm.nextLine("CREATED", 60_000);
    warm.child.stdin!.end();
    await warm.exited;
    await until("the warm-up watches to close", async () => (await watchStreams(srv.url)) === 0, 20_000);
    const rssBefore = await gcRss(srv.proc);
    const client = await start(`watchers-${mode}`, [process.execPath, "bench/watchers.mjs", srv.url, "bench-watch", String(count), mode, "2", "250"], { core: 1, cwd: ROOT });
    const created = await client.nextLine("CREATED", 180_000);
    const rssAfter = await gcRss(srv.proc);
    const streams = await watchStreams(srv.url);
    const health = healthProbe(srv.url);
    const m0 = mark(srv.proc.pid);
    const c0 = mark(client.pid);
    if (profileDir) window.from = await hrtimeMark(srv.proc);
    const result = client.nextLine("RESULT", (BUDGET.fanoutS + 60) * 1000);
    client.send(`go 10 ${BUDGET.fanoutS}`);
    const line = await result;
    const m1 = mark(srv.proc.pid);
    const c1 = mark(client.pid);
    if (profileDir) window.to = await hrtimeMark(srv.proc);
    const healthz = await health.stop();
    client.child.stdin!.end();
    await client.exited;
    const r = JSON.parse(line.slice("RESULT ".length)) as Record<string, number | string | string[]>;
    const cpu = cpuUse(m0, m1, Number(r.deliveries) || 1);
    const clientCpu = cpuUse(c0, c1, Number(r.deliveries) || 1);
    // Share of one core each used while the writes were delivered: a client near 100 % would time its own queue.
    const busyPct = (u: typeof cpu) => +((100 * u.schedUs * (Number(r.deliveries) || 1)) / 1e6 / u.seconds).toFixed(0);
    const out = {
      path: PATHS[mode],
      watchers: count,
      streamsOnServer: streams,
      openMs: Number(/ms=(\d+)/.exec(created)?.[1]),
      rssBeforeMb: +(rssBefore / 2 ** 20).toFixed(1),
      rssAfterMb: +(rssAfter / 2 ** 20).toFixed(1),
      rssPerWatcherKb: +((rssAfter - rssBefore) / count / 1024).toFixed(2),
      writesPerSecond: 10,
      writes: r.writes,
      deliveries: r.deliveries,
      expectedDeliveries: r.expected,
      watchersBehind: r.behind,
      streamsEnded: r.ended,
      errors: r.errors,
      deliveryP50Ms: round3(Number(r.p50Ms)),
      deliveryP99Ms: round3(Number(r.p99Ms)),
      deliveryMaxMs: round3(Number(r.maxMs)),
      serverCpuUsPerDelivery: +cpu.schedUs.toFixed(2),
      clientCpuUsPerDelivery: +clientCpu.schedUs.toFixed(2),
      serverBusyPct: busyPct(cpu),
      clientBusyPct: busyPct(clientCpu),
      healthz,
      targets: {
        rssPerWatcher: { target: "<= 10 KB", pass: (rssAfter - rssBefore) / count / 1024 <= 10 },
        deliveryP99: { target: "<= 250 ms", pass: Number(r.p99Ms) <= 250 && r.deliveries === r.expected },
        healthzP99: { target: "<= 100 ms", pass: healthz.p99Ms <= 100 && healthz.failures === 0 },
      },
    };
    log(
      `  fan-out ${mode}: ${count} watchers, RSS ${out.rssBeforeMb} -> ${out.rssAfterMb} MB (${out.rssPerWatcherKb} KB each); ` +
        `delivery p50 ${out.deliveryP50Ms} p99 ${out.deliveryP99Ms} max ${out.deliveryMaxMs} ms (${r.deliveries}/${r.expected}); healthz p99 ${healthz.p99Ms} ms; ` +
        `busy: server ${out.serverBusyPct}%, client ${out.clientBusyPct}% of a core`,
    );
    if (profileDir) {
      await stopServer(srv);
      const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
      if (file) (out as Record<string, unknown>).profile = summarizeProfile(join(profileDir, file), window.from, 25, window.to);
    }
    return out;
  } finally {
    await stopServer(srv);
  }
}
