// Frame-level HTTP/2 fuzzing against the compiled server (a child process):
// random sequences of valid and invalid frames (test/support/h2-fuzz.ts) over
// many connections at once, for FUZZ_MS. Pass: the process never exits,
// /healthz answers throughout, and the server's RSS grows by less than
// RSS_GROWTH_MIB over what it held before the run. The seed is printed, and
// named in every failure; replay a run with FUZZ_SEED=<seed>.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { healthz, RSS_GROWTH_MIB, rssMiB } from "./support/abuse/probe.js";
import { FRAME, RawH2 } from "./support/h2-frames.js";
import { connectionScript, prng } from "./support/h2-fuzz.js";
import { startMain } from "./support/process.js";
import { restClient } from "./support/rest.js";

const SEED = Number(process.env.FUZZ_SEED ?? randomBytes(4).readUInt32BE(0));
const FUZZ_MS = Number(process.env.FUZZ_MS ?? 20_000);
const CONNECTIONS = 16;

let main: ReturnType<typeof startMain>;
let url: string;
let port: number;
beforeAll(async () => {
  // Short bounds, so that what the fuzzer leaves open is closed within the run.
  main = startMain({ HTTP_REQUEST_TIMEOUT_MS: "1000", HTTP_IDLE_TIMEOUT_MS: "1000", HTTP_WRITE_STALL_MS: "1000" });
  url = (await main.line(/"msg":"listening"/)).address;
  port = Number(new URL(url).port);
});
afterAll(async () => {
  main?.child.kill("SIGKILL");
  await main?.exited;
});

it(`survives random HTTP/2 frames on ${CONNECTIONS} connections at once, answering health checks in bounded memory`, async () => {
  console.log(`h2 fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  const rest = restClient(url);
  // A session whose map (about 200 KB) is worth reading, so that answers meet flow control.
  const sessionId = `fuzz-${randomUUID()}`;
  expect((await rest("POST", "/api/sessions", { sessionId })).status).toBe(200);
  const settings = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, "v".repeat(400)]));
  expect((await rest("POST", `/api/sessions/${sessionId}/settings`, { settings, mode: "merge" })).status).toBe(200);

  const rng = prng(SEED);
  const deadline = Date.now() + FUZZ_MS;
  const stats = { connections: 0, writes: 0, answers: 0, resets: 0, goaways: 0, probes: 0 };
  const failures: string[] = [];
  const rssBefore = rssMiB(main.child.pid!);
  let maxRss = rssBefore;

  const fuzzer = async () => {
    while (Date.now() < deadline && main.child.exitCode === null) {
      // The k-th connection to start gets the k-th seed drawn from SEED: its script is replayable.
      const own = prng(Math.floor(rng() * 2 ** 32));
      const script = connectionScript(own, sessionId);
      const c = await RawH2.open(port, false).catch(() => undefined);
      if (!c) break; // the server is gone: the checks below say why
      stats.connections++;
      try {
        for (const [i, write] of script.entries()) {
          c.send(write);
          stats.writes++;
          // Now and then the valid requests that open the script get their answers first.
          if (i === 0 && own() < 0.5) await c.roundTrip(1000);
          else if (own() < 0.3) await new Promise((r) => setImmediate(r));
        }
        // Whatever the server makes of it, it answers a PING or closes the connection.
        await c.roundTrip(1000);
      } finally {
        stats.answers += c.frames.filter((f) => f.type === FRAME.HEADERS).length;
        stats.resets += c.frames.filter((f) => f.type === FRAME.RST_STREAM).length;
        stats.goaways += c.frames.filter((f) => f.type === FRAME.GOAWAY).length;
        c.destroy();
      }
    }
  };
  const prober = async () => {
    while (Date.now() < deadline && main.child.exitCode === null) {
      await healthz(port).then(() => stats.probes++, (err: Error) => failures.push(err.message));
      try {
        maxRss = Math.max(maxRss, rssMiB(main.child.pid!));
      } catch {
        break; // the process is gone: the checks below say why
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await Promise.all([...Array.from({ length: CONNECTIONS }, fuzzer), prober()]);
  const after = await healthz(port).catch((err: Error) => `after the run: ${err.message}`);
  // A process that failed a probe may be exiting still: its exit (and stderr) is what to report.
  for (const started = Date.now(); (failures.length > 0 || typeof after !== "number") && main.child.exitCode === null && Date.now() - started < 30_000; ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log(JSON.stringify({ seed: SEED, ...stats, failures: failures.length, rssBeforeMiB: Math.round(rssBefore), maxRssMiB: Math.round(maxRss) }));

  const seed = `seed ${SEED}`;
  expect(main.child.exitCode, `${seed}: ${main.output().stderr.slice(-2000)}`).toBeNull();
  expect(failures, `${seed}: ${main.output().stderr.slice(-3000)}`).toEqual([]);
  expect(typeof after, `${seed}: ${String(after)}`).toBe("number");
  expect(maxRss - rssBefore, seed).toBeLessThan(RSS_GROWTH_MIB);
  // The fuzzer did reach the paths: some requests were answered, some streams reset.
  expect(stats.answers, seed).toBeGreaterThan(0);
  expect(stats.resets + stats.goaways, seed).toBeGreaterThan(0);
}, 60_000);
