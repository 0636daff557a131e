// The command line of `npm run bench`, and where the run prints.
//   --quick              one short round (CI's smoke run)
//   --profile[=<id>]     also a V8 CPU profile of the server for one scenario (default set-grpc)
//   --heap-prof          also a sampling heap profile of each T8 window (results/heap-*.heapprofile)
//   --rounds=N           rounds instead of 5 (full) or 1 (quick)
//   --only=<ids>         only these scenarios (comma-separated ids; no targets then)
//   --skip=<parts>       leave out fanout, bigmaps, durable (the etcd comparison), tracing, typed (schemas) and/or alloc (T8)
import { join } from "node:path";

const argv = process.argv.slice(2);

export const QUICK = argv.includes("--quick");
const profileArg = argv.find((a) => a === "--profile" || a.startsWith("--profile="));
export const PROFILE = profileArg === undefined ? undefined : profileArg.includes("=") ? profileArg.slice("--profile=".length) : "set-grpc";
export const HEAP_PROF = argv.includes("--heap-prof");
export const ONLY = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");
export const SKIP = new Set(argv.find((a) => a.startsWith("--skip="))?.slice("--skip=".length).split(",") ?? []);

/** Times and counts: a full run, or the quick smoke run. */
export const BUDGET = QUICK
  ? { rounds: 1, warmS: 0.5, runS: 0.8, cpuFloorS: 0.3, rawCalls: 15_000, watchers: 200, feedWatchers: 100, fanoutS: 2, bigReads: 3, readersPer: 2, allocCalls: 4000 }
  : { rounds: 5, warmS: 1, runS: 2.5, cpuFloorS: 1.5, rawCalls: 60_000, watchers: 2000, feedWatchers: 1000, fanoutS: 10, bigReads: 10, readersPer: 10, allocCalls: 20_000 };
const roundsArg = argv.find((a) => a.startsWith("--rounds="));
if (roundsArg) BUDGET.rounds = Number(roundsArg.split("=")[1]);

/** Where a run writes latest.json, performance.md and profiles (git-ignored). */
export const RESULTS = join(import.meta.dirname, "..", "results");

export const log = (line = "") => process.stdout.write(`${line}\n`);
