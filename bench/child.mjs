// The driver's side channel to every process it starts (servers, anchors,
// clients), shared so each speaks the same small protocol:
//   stdout  "READY <name> port=<port> pid=<pid> t=<µs>"  once listening
//           (t is process.hrtime in µs, the clock of --cpu-prof samples)
//   stdin   one command per line: "gc" answers "GC rss=<bytes> heap=<bytes>"
//           after a full collection (needs --expose-gc); "mark" answers
//           "MARK t=<µs>" (where a profile's measured window starts);
//           "alloc-start" / "alloc-stop <file>" sample where the process
//           allocates (V8's sampling heap profiler, including objects the GC
//           has already collected) and write the .heapprofile, "ALLOC <file>";
//           "snapshot <file>" writes a heap snapshot, "SNAPSHOT <file>";
//           "heap-count-start" / "heap-count-stop" count every byte allocated
//           on the JS heap in between, "HEAP bytes=<n> gcs=<n> gcMs=<ms> ...":
//           used_heap_size just before each GC minus just after the one
//           before (v8.GCProfiler), plus the growth since the last, so what
//           scavenges and mark-compacts collect is counted too; also the
//           mark-compacts among the GCs, the longest pause, and the heap used
//           after the last GC
//   exit    when stdin closes (the driver is gone, whatever killed it), or on
//           SIGINT/SIGTERM, after `close` (a --cpu-prof profile is written on
//           a normal exit only)
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { GCProfiler, getHeapStatistics, writeHeapSnapshot } from "node:v8";
import { createInterface } from "node:readline";

const hrtimeUs = () => process.hrtime.bigint() / 1000n;

let allocations;
let heapCount;

/** Bytes allocated on the JS heap since `heapCount` started, and the GCs meanwhile (see the header). */
function heapCountStop() {
  const { statistics } = heapCount.profiler.stop();
  let bytes = 0;
  let after = heapCount.used;
  let gcUs = 0;
  let maxUs = 0;
  let markCompacts = 0;
  for (const s of statistics) {
    bytes += s.beforeGC.heapStatistics.usedHeapSize - after;
    after = s.afterGC.heapStatistics.usedHeapSize;
    gcUs += s.cost;
    maxUs = Math.max(maxUs, s.cost);
    if (s.gcType === "MarkSweepCompact") markCompacts++;
  }
  bytes += getHeapStatistics().used_heap_size - after;
  heapCount = undefined;
  return `HEAP bytes=${bytes} gcs=${statistics.length} gcMs=${(gcUs / 1000).toFixed(1)} markCompacts=${markCompacts} maxGcMs=${(maxUs / 1000).toFixed(1)} heapAfter=${after}`;
}

export function announce(name, port, close = async () => {}) {
  let closing = false;
  const stop = async () => {
    if (closing) return;
    closing = true;
    try {
      await Promise.race([close(), new Promise((r) => setTimeout(r, 3000).unref())]);
    } finally {
      process.exit(0);
    }
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const cmd = line.trim();
    if (cmd === "gc") {
      globalThis.gc?.();
      const m = process.memoryUsage();
      process.stdout.write(`GC rss=${m.rss} heap=${m.heapUsed} gc=${typeof globalThis.gc === "function"}\n`);
    } else if (cmd === "mark") {
      process.stdout.write(`MARK t=${hrtimeUs()}\n`);
    } else if (cmd.startsWith("snapshot ")) {
      const file = writeHeapSnapshot(cmd.slice("snapshot ".length));
      process.stdout.write(`SNAPSHOT ${file}\n`);
    } else if (cmd === "heap-count-start") {
      heapCount = { profiler: new GCProfiler(), used: 0 };
      heapCount.profiler.start();
      heapCount.used = getHeapStatistics().used_heap_size;
    } else if (cmd === "heap-count-stop") {
      process.stdout.write(`${heapCount ? heapCountStop() : "HEAP error not started"}\n`);
    } else if (cmd === "alloc-start") {
      allocations ??= new Session();
      allocations.connect();
      allocations.post("HeapProfiler.startSampling", {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    } else if (cmd.startsWith("alloc-stop ")) {
      const file = cmd.slice("alloc-stop ".length);
      allocations?.post("HeapProfiler.stopSampling", (err, result) => {
        if (!err) writeFileSync(file, JSON.stringify(result.profile));
        allocations.disconnect();
        process.stdout.write(`ALLOC ${err ? `error ${err.message}` : file}\n`);
      });
    }
  });
  lines.on("close", stop);
  process.stdout.write(`READY ${name} port=${port} pid=${process.pid} t=${hrtimeUs()}\n`);
}
