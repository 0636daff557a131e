// Scale-out behind one Redis (issue 26): two compiled server processes on one
// real redis-server, concurrent writers spread over both, writing the same
// sessions. Both make progress, and nothing acknowledged is lost: every
// acknowledged write is readable (in the map and in history at the revision
// it was answered with), each session's history is contiguous, and no two
// acknowledged writes share a revision.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startMain } from "./support/process.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { restClient, type Rest } from "./support/rest.js";

const SESSIONS = 4;
const WRITERS = 16;
const WRITES_EACH = 40;

let redis: TestRedis;
const servers: ReturnType<typeof startMain>[] = [];
const clients: Rest[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: `scale-${randomUUID().slice(0, 8)}:`, HISTORY_LIMIT: String(WRITERS * WRITES_EACH) };
  for (let i = 0; i < 2; i++) servers.push(startMain(env));
  for (const s of servers) clients.push(restClient((await s.line(/"msg":"listening"/)).address));
}, 60_000);

afterAll(async () => {
  for (const s of servers) s.child.kill("SIGTERM");
  await Promise.all(servers.map((s) => s.exited));
  await redis?.stop();
});

interface Ack {
  writer: number;
  value: number;
  revision: number;
}

it("two server processes on one Redis both make progress under concurrent writers, and lose nothing they acknowledged", async () => {
  const ids = Array.from({ length: SESSIONS }, (_, i) => `scale-${i}-${randomUUID()}`);
  for (const sessionId of ids) expect((await clients[0]!("POST", "/api/sessions", { sessionId })).status).toBe(200);
  // Writer w writes key w<w> of session (w / 2) % SESSIONS through server w % 2: every session is written through both.
  const acks = ids.map(() => [] as Ack[]);
  const byServer = [0, 0];
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      const server = writer % 2;
      const session = Math.floor(writer / 2) % SESSIONS;
      for (let value = 1; value <= WRITES_EACH; value++) {
        const body = value % 4 === 0 ? { path: `w${writer}`, value } : { key: `w${writer}`, value };
        const res = await clients[server]!("POST", `/api/sessions/${ids[session]}/settings`, body);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(typeof res.body.revision).toBe("number");
        acks[session]!.push({ writer, value, revision: res.body.revision });
        byServer[server]!++;
      }
    }),
  );
  expect(byServer).toEqual([(WRITERS / 2) * WRITES_EACH, (WRITERS / 2) * WRITES_EACH]);

  for (const [session, sessionId] of ids.entries()) {
    const mine = acks[session]!;
    const revisions = mine.map((a) => a.revision).sort((a, b) => a - b);
    // Every write was a change: the revisions answered are exactly 1..n, none shared.
    expect(revisions).toEqual(Array.from({ length: mine.length }, (_, i) => i + 1));
    for (const rest of clients) {
      const read = await rest("GET", `/api/sessions/${sessionId}/settings`);
      expect(read.body.revision).toBe(mine.length);
      for (const a of mine) if (a.value === WRITES_EACH) expect(read.body.settings[`w${a.writer}`]).toBe(WRITES_EACH);
    }
    const history = await clients[1]!("GET", `/api/sessions/${sessionId}/settings/history?limit=${mine.length}`);
    const entries = history.body.entries as { revision: number; changes: { key: string; after: unknown }[] }[];
    expect(entries.map((e) => e.revision)).toEqual(revisions.slice().reverse());
    const byRevision = new Map(entries.map((e) => [e.revision, e]));
    for (const a of mine) {
      const entry = byRevision.get(a.revision)!;
      expect(entry.changes.map((c) => [c.key, c.after]), `writer ${a.writer} value ${a.value}`).toEqual([[`w${a.writer}`, a.value]]);
    }
  }
}, 120_000);
