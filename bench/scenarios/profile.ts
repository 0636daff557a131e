// --profile[=<id>]: a V8 CPU profile of the server over one scenario's
// measured calls (after a warm-up), or over a fan-out's write phase, and its
// top frames.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BUDGET, log, RESULTS } from "../lib/flags.js";
import { drive, nOf, runs, settle } from "../lib/measure.js";
import { profileMarkdown, summarizeProfile, type ProfileSummary } from "../lib/profile.js";
import { hrtimeMark } from "../lib/procs.js";
import type { RunDef, Scenario } from "../lib/scenario.js";
import { servers, startServer, stopServer } from "../lib/servers.js";
import { median } from "../lib/stats.js";
import { fanout } from "./fanout.js";

export async function profile(id: string, scenarios: Scenario[]): Promise<{ scenario: string; file: string; summary: ProfileSummary } | undefined> {
  if (id === "fanout-connect" || id === "fanout-sse") {
    // The server of a fan-out run, profiled over its write phase (10 writes/s to every watcher).
    const dir = join(RESULTS, `profile-${id}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const out = await fanout(id === "fanout-connect" ? "connect" : "sse", dir);
    const summary = out.profile as ProfileSummary | undefined;
    if (!summary) throw new Error(`no .cpuprofile in ${dir}`);
    log(`\nCPU profile of the server for ${id} (the write phase):\n`);
    log(profileMarkdown(summary));
    return { scenario: id, file: summary.file, summary };
  }
  const [sid, shapeId] = id.split("@");
  const sc = scenarios.find((s) => s.id === sid);
  if (!sc) throw new Error(`--profile=${id}: no such scenario (${scenarios.map((s) => s.id).join(", ")})`);
  const kind = sc.server;
  if (kind === "etcd") throw new Error(`--profile=${id}: only Node servers are profiled, not etcd`);
  const shape = sc.shapes.find((s) => s.id === (shapeId ?? sc.shapes[0]!.id));
  if (!shape) throw new Error(`--profile=${id}: ${sid} runs in ${sc.shapes.map((s) => s.id).join(", ")}`);
  const dir = join(RESULTS, `profile-${sid}@${shape.id}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The running server of that kind gives way (SQLite allows one process per DATA_DIR).
  const running = servers.get(kind);
  if (running) await stopServer(running);
  const srv = await startServer(kind, ["--cpu-prof", "--cpu-prof-interval=250", `--cpu-prof-dir=${dir}`]);
  servers.set(kind, srv);
  const def: RunDef = { key: `${sid}@${shape.id}`, scenario: sc, shape };
  await drive(def, { durationS: BUDGET.warmS * 2, timeoutMs: 60_000 });
  await settle(srv);
  const from = await hrtimeMark(srv.proc);
  // About 3 s of server CPU, whatever the run mode (a quick run's calls would give few samples).
  const cpuUs = median(runs.filter((r) => r.key === def.key).map((r) => r.cpuUs));
  const n = sc.profileOnly ?? Math.round(Math.min(200_000, Math.max(nOf.get(def.key) ?? 0, 3e6 / (Number.isFinite(cpuUs) ? cpuUs : 100))));
  const r = await drive(def, { n, timeoutMs: 120_000 });
  const to = await hrtimeMark(srv.proc);
  servers.delete(kind);
  await stopServer(srv);
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const summary = summarizeProfile(join(dir, file), from, 25, to);
  log(`\nCPU profile of the server for ${def.key} (${r.calls} calls after a warm-up; ${join(dir, file)}):\n`);
  log(profileMarkdown(summary));
  return { scenario: def.key, file: join(dir, file), summary };
}
