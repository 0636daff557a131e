// Big map: GetSettings of a 10,000-key map (about 4 MiB) on Redis: server CPU
// of the first read after a change (uncached) and of a second read at the
// same revision (cached); then 16 concurrent readers (h2load 16 x 1) with
// /healthz and a small session's GetSettings probed beside them, once quiet
// and once with a change every 100 ms.
import { BUDGET, log } from "../lib/flags.js";
import { h2load, type LoadResult } from "../lib/load.js";
import { getFrame, PATHS, setFrame } from "../lib/messages.js";
import { getSettingsProbe, healthProbe, pacedProbe } from "../lib/probes.js";
import { cpuUse, mark, schedNs } from "../lib/procs.js";
import { M } from "../lib/scenario.js";
import { servers, work } from "../lib/servers.js";
import { median, round3, type LatencyStats } from "../lib/stats.js";

export async function bigMaps(): Promise<Record<string, unknown>> {
  const srv = servers.get("redis")!;
  const pid = srv.proc.pid;
  const readFrame = getFrame("bench-big");
  const uncached: number[] = [];
  const cached: number[] = [];
  const wall: { uncached: number[]; cached: number[] } = { uncached: [], cached: [] };
  let bytes = 0;
  let value = 1_000_000;
  // Two reads at each revision: the first after a change (nothing cached), the second at the same revision.
  for (let i = 0; i < BUDGET.bigReads + 1; i++) {
    await srv.grpc.ok(PATHS.set, setFrame("bench-big", "k", value++));
    for (const [list, times] of [[uncached, wall.uncached], [cached, wall.cached]] as const) {
      const ns0 = schedNs(pid);
      const a = await srv.grpc.ok(PATHS.get, readFrame, 30_000);
      const ns1 = schedNs(pid);
      bytes = a.message.length;
      // The first pair warms up (JIT, buffers) and is not counted.
      if (i > 0) {
        list.push((ns1 - ns0) / 1e6);
        times.push(a.ms);
      }
    }
  }
  const ms = (xs: number[]) => ({ median: round3(median(xs)), max: round3(Math.max(...xs)), all: xs.map(round3) });

  // 16 concurrent readers of the big map (h2load, 16 x 1), while /healthz and a small session are called beside them.
  const readers = async (withWrites: boolean) => {
    const health = healthProbe(srv.url);
    const smallProbe = getSettingsProbe(srv.url, "bench-small", undefined, 20);
    const writeProbe = withWrites
      ? pacedProbe(100, async () => {
          const a = await srv.grpc.call(PATHS.set, setFrame("bench-big", "k", value++), 5000);
          return a.grpcStatus === 0 ? a.ms : undefined;
        })
      : undefined;
    const m0 = mark(pid);
    let load: LoadResult;
    let probesStopped: Promise<[LatencyStats, LatencyStats | undefined]>;
    try {
      load = await h2load({ url: srv.url + PATHS.get, shape: M, n: 16 * BUDGET.readersPer, body: readFrame, dir: work.dir, timeoutMs: 180_000, latencies: true, allowErrors: true });
    } finally {
      // stop() ends each loop at once; their last calls finish outside the measured window, as before.
      probesStopped = Promise.all([smallProbe.stop(), writeProbe?.stop()]);
    }
    const m1 = mark(pid);
    const [smallSession, writes] = await probesStopped;
    const healthz = await health.stop();
    const cpu = cpuUse(m0, m1, load.calls);
    return {
      readers: 16,
      reads: load.calls,
      readErrors: load.errors,
      readsPerSecond: +load.rps.toFixed(1),
      readP50Ms: round3(load.p50Ms),
      readP99Ms: round3(load.p99Ms),
      serverCpuMsPerRead: round3(cpu.cpuUs / 1000),
      healthz,
      smallSession,
      ...(writes && { writes }),
      pass: healthz.p99Ms <= 100 && healthz.failures === 0 && smallSession.failures === 0 && load.errors === 0,
    };
  };
  const quiet = await readers(false);
  const changing = await readers(true);
  const out = {
    keys: 10_000,
    responseBytes: bytes,
    uncachedCpuMs: ms(uncached),
    cachedCpuMs: ms(cached),
    uncachedWallMs: ms(wall.uncached),
    cachedWallMs: ms(wall.cached),
    readers16: quiet,
    readers16WithWrites: changing,
    targets: {
      uncached: { target: "<= 30 ms CPU", measured: round3(median(uncached)), pass: median(uncached) <= 30 },
      cached: { target: "<= 1 ms CPU", measured: round3(median(cached)), pass: median(cached) <= 1 },
      readers16: { target: "/healthz p99 <= 100 ms, no failed or timed-out call to a small session", measured: quiet.healthz.p99Ms, pass: quiet.pass },
    },
  };
  log(
    `  big map (${(bytes / 2 ** 20).toFixed(2)} MiB): GetSettings CPU uncached ${out.uncachedCpuMs.median} ms, cached ${out.cachedCpuMs.median} ms; ` +
      `16 readers: healthz p99 ${quiet.healthz.p99Ms} ms, small session p99 ${quiet.smallSession.p99Ms} ms, ${quiet.smallSession.failures} failures`,
  );
  return out;
}
