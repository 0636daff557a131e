// Reading a V8 .cpuprofile (node --cpu-prof of the server): top self-time
// frames and top inclusive frames, over the samples of the measured window
// only (fromUs..toUs, process.hrtime µs, the clock the samples use), so that
// start-up, data loading, the warm-up and shutdown do not count.
// Also runnable: node --import tsx bench/lib/profile.ts FILE [--from-us T] [--top 15]
import { readFileSync } from "node:fs";

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Frame {
  frame: string;
  /** % of busy samples (idle left out). */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  samples: number;
  idlePct: number;
  self: Frame[];
  inclusive: Frame[];
}

function frameName(cf: CpuProfile["nodes"][number]["callFrame"]): string {
  const url = cf.url
    .replace(/^file:\/\/.*node_modules\//, "")
    .replace(/^file:\/\/.*?\/dist\//, "dist/")
    .replace(/^node:/, "node:");
  return `${cf.functionName || "(anonymous)"}${url ? ` ${url}:${cf.lineNumber + 1}` : ""}`;
}

export function summarizeProfile(file: string, fromUs = 0, top = 15, toUs = Infinity): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let t = p.startTime;
  let kept = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    if (t < fromUs || t > toUs) continue;
    kept++;
    const node = byId.get(p.samples[i]!)!;
    if (node.callFrame.functionName === "(idle)") {
      idle++;
      continue;
    }
    const key = frameName(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + 1);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = frameName(byId.get(id)!.callFrame);
      if (k.startsWith("(root)") || seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
    }
  }
  const busy = Math.max(1, kept - idle);
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, n]) => ({ frame, pct: +((100 * n) / busy).toFixed(1) }));
  return { file, samples: kept, idlePct: +((100 * idle) / Math.max(1, kept)).toFixed(1), self: rank(self), inclusive: rank(inclusive) };
}

export function profileMarkdown(s: ProfileSummary): string {
  const rows = (fs: Frame[]) => fs.map((f, i) => `| ${i + 1} | ${f.pct.toFixed(1)} | \`${f.frame.replace(/\|/g, "\\|")}\` |`).join("\n");
  return [
    `${s.file}: ${s.samples} samples in the measured window, ${s.idlePct}% idle`,
    "",
    "Top self time (% of busy samples):",
    "",
    "| # | self % | frame |",
    "|---|---:|---|",
    rows(s.self),
    "",
    "Top inclusive time (% of busy samples):",
    "",
    "| # | incl. % | frame |",
    "|---|---:|---|",
    rows(s.inclusive),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (n: string) => {
    const i = process.argv.indexOf(`--${n}`);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  console.log(profileMarkdown(summarizeProfile(process.argv[2]!, Number(arg("from-us") ?? 0), Number(arg("top") ?? 15))));
}
