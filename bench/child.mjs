// The driver's side channel to every process it starts (servers, anchors,
// clients), shared so each speaks the same small protocol:
//   stdout  "READY <name> port=<port> pid=<pid> t=<µs>"  once listening
//           (t is process.hrtime in µs, the clock of --cpu-prof samples)
//   stdin   one command per line: "gc" answers "GC rss=<bytes> heap=<bytes>"
//           after a full collection (needs --expose-gc); "mark" answers
//           "MARK t=<µs>" (where a profile's measured window starts)
//   exit    when stdin closes (the driver is gone, whatever killed it), or on
//           SIGINT/SIGTERM, after `close` (a --cpu-prof profile is written on
//           a normal exit only)
import { createInterface } from "node:readline";

const hrtimeUs = () => process.hrtime.bigint() / 1000n;

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
    }
  });
  lines.on("close", stop);
  process.stdout.write(`READY ${name} port=${port} pid=${process.pid} t=${hrtimeUs()}\n`);
}
