// Reading a V8 sampling heap profile (.heapprofile, HeapProfiler.stopSampling;
// bench/child.mjs "alloc-start/alloc-stop"): the frames that allocate the
// most, by self bytes and inclusive bytes, each as a share of all sampled.
//   node --import tsx bench/lib/heap-profile.ts FILE [--top 20]
import { readFileSync } from "node:fs";
import type { Frame } from "./profile.js";

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const frameName = (cf: HeapNode["callFrame"]) =>
  `${cf.functionName || "(anonymous)"}${cf.url ? ` ${cf.url.replace(/^file:\/\/.*node_modules\//, "").replace(/^file:\/\/.*?\/dist\//, "dist/")}:${cf.lineNumber + 1}` : ""}`;

export function summarizeHeapProfile(file: string, top = 20): { totalBytes: number; self: Frame[]; inclusive: Frame[] } {
  const head = (JSON.parse(readFileSync(file, "utf8")) as { head: HeapNode }).head;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const walk = (n: HeapNode, path: Set<string>): number => {
    const k = frameName(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + n.selfSize);
    const inner = new Set(path).add(k);
    let sum = n.selfSize;
    for (const c of n.children) sum += walk(c, inner);
    if (!path.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + sum);
    return sum;
  };
  const total = walk(head, new Set());
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .filter(([k]) => !k.startsWith("(root)"))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, n]) => ({ frame, pct: +((100 * n) / Math.max(1, total)).toFixed(1) }));
  return { totalBytes: total, self: rank(self), inclusive: rank(inclusive) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf("--top");
  const s = summarizeHeapProfile(process.argv[2]!, i < 0 ? 20 : Number(process.argv[i + 1]));
  console.log(`sampled ${s.totalBytes} bytes\n\nself:`);
  for (const f of s.self) console.log(`${f.pct.toFixed(1).padStart(5)} % ${f.frame}`);
  console.log("\ninclusive:");
  for (const f of s.inclusive) console.log(`${f.pct.toFixed(1).padStart(5)} % ${f.frame}`);
}
