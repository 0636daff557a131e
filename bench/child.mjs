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
//           "snapshot <file>" writes a heap snapshot, "SNAPSHOT <file>"
//   exit    when stdin closes (the driver is gone, whatever killed it), or on
//           SIGINT/SIGTERM, after `close` (a --cpu-prof profile is written on
//           a normal exit only)
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { writeHeapSnapshot } from "node:v8";
import { createInterface } from "node:readline";

const hrtimeUs = () => process.hrtime.bigint() / 1000n;

let allocations;

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
