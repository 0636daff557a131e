// The embedded default keeps what it acknowledged: the real server process on
// a SQLite DATA_DIR, 16 or 256 REST writers (so group commit batches many
// writes per transaction), then SIGKILL (or SIGTERM) mid-load and a restart
// on the same directory. Also: one process per DATA_DIR.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { startMain } from "./support/process.js";
import { restClient, type Rest } from "./support/rest.js";
import { tempDataDir } from "./support/server.js";
import { until } from "./support/until.js";

const HISTORY_LIMIT = 50;

interface Seeded {
  live: string;
  gone: string;
  system: string;
}

async function seed(rest: Rest): Promise<Seeded> {
  const ids = { live: `live-${randomUUID()}`, gone: `gone-${randomUUID()}`, system: `system-${randomUUID()}` };
  for (const [sessionId, extra] of [[ids.live, {}], [ids.gone, {}], [ids.system, { systemOwned: true }]] as const) {
    expect((await rest("POST", "/api/sessions", { sessionId, ...extra })).status).toBe(200);
  }
  expect((await rest("DELETE", `/api/sessions/${ids.gone}`)).status).toBe(200);
  return ids;
}

/**
 * Each writer writes its own key with 1, 2, 3, ... and remembers the last
 * value acknowledged; every fourth write is a nested path write instead.
 * Writers stop at their first failure (the server is gone).
 */
function startWriters(rest: Rest, sessionId: string, writers: number) {
  const acked = new Array<number>(writers).fill(0);
  let total = 0;
  const done = Promise.all(
    acked.map(async (_, w) => {
      for (let n = 1; ; n++) {
        const body = n % 4 === 0 ? { path: `w${w}`, value: n } : { key: `w${w}`, value: n, source: "crash-test" };
        try {
          const res = await rest("POST", `/api/sessions/${sessionId}/settings`, body);
          if (res.status !== 200) throw new Error(`status ${res.status}`);
        } catch {
          return;
        }
        acked[w] = n;
        total++;
      }
    }),
  );
  return { acked, done, total: () => total };
}

async function checkAfterRestart(dataDir: string, ids: Seeded, acked: number[]): Promise<void> {
  const again = startMain({ DATA_DIR: dataDir, HISTORY_LIMIT: String(HISTORY_LIMIT) });
  try {
    const { address } = await again.line(/"msg":"listening"/);
    const rest = restClient(address);
    const read = await rest("GET", `/api/sessions/${ids.live}/settings`);
    expect(read.status).toBe(200);
    // Every acknowledged write is there; a write in flight at the kill may or may not be.
    acked.forEach((n, w) => expect([n, n + 1], `writer ${w}`).toContain(read.body.settings[`w${w}`] ?? 0));
    expect((await rest("GET", `/api/sessions/${ids.gone}/settings`)).status).toBe(410);
    expect((await rest("GET", `/api/sessions/${ids.system}/settings`)).status).toBe(403);

    // History is whole and agrees with the revision: newest first, consecutive, ending at it.
    const revision = read.body.revision as number;
    const history = await rest("GET", `/api/sessions/${ids.live}/settings/history?limit=${HISTORY_LIMIT}`);
    const revisions = (history.body.entries as { revision: number }[]).map((e) => e.revision);
    expect(revisions).toEqual(Array.from({ length: Math.min(revision, HISTORY_LIMIT) }, (_, i) => revision - i));

    // And the store goes on from there.
    const next = await rest("POST", `/api/sessions/${ids.live}/settings`, { key: "after", value: true });
    expect(next.body.revision).toBe(revision + 1);
  } finally {
    again.child.kill("SIGTERM");
    await again.exited;
  }
}

describe("the SQLite store under a crash", () => {
  it.each([
    ["SIGKILL", 16],
    ["SIGKILL", 256],
    ["SIGTERM", 16],
    ["SIGTERM", 256],
  ] as const)("keeps every acknowledged write when the process gets %s mid-load, under %d writers", async (signal, count) => {
    const dataDir = tempDataDir();
    const server = startMain({ DATA_DIR: dataDir, HISTORY_LIMIT: String(HISTORY_LIMIT) });
    const { address } = await server.line(/"msg":"listening"/);
    const rest = restClient(address);
    const ids = await seed(rest);
    const writers = startWriters(rest, ids.live, count);
    // Enough that the kill lands among full batches.
    await until(() => writers.total() >= 4 * count + 400, "acknowledged writes");
    server.child.kill(signal);
    const [code, killedBy] = await server.exited;
    await writers.done;
    if (signal === "SIGKILL") expect(killedBy).toBe("SIGKILL");
    else expect(code).toBe(0);
    await checkAfterRestart(dataDir, ids, writers.acked);
  });

  it("refuses a second server process on the same DATA_DIR, naming the directory", async () => {
    const dataDir = tempDataDir();
    const first = startMain({ DATA_DIR: dataDir });
    try {
      await first.line(/"msg":"listening"/);
      const second = startMain({ DATA_DIR: dataDir });
      const [code] = await second.exited;
      expect(code).toBe(1);
      expect(second.output().stderr).toContain(dataDir);
      expect(second.output().stderr).toMatch(/in use by another server process/);
    } finally {
      first.child.kill("SIGTERM");
      await first.exited;
    }
  });
});
