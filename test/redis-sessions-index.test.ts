// The Redis store's session list index (a sorted set in its own slot) is
// written before the session's create script, and ListSessions lists an id
// only when its meta says active and user-owned. So a crash between the two
// steps can leave an id that is skipped, never a session that is not listed;
// pages stay full and exact past skipped ids; and a session the server was
// killed creating is listed once its client's retry got an answer (created,
// or SESSION_EXISTS, which the README says to treat as success).
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "./support/failover.js";
import { startMain } from "./support/process.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { makeClients, startTestServer, type Clients, type TestServer } from "./support/server.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis({ persist: true });
});
afterAll(async () => {
  await redis?.stop();
});

/** Every listed session id, walking pages of `pageSize`; also the size of each page. */
async function listAll(c: Clients, pageSize: number): Promise<{ ids: string[]; pages: number[] }> {
  const ids: string[] = [];
  const pages: number[] = [];
  let pageToken = "";
  do {
    const page = await c.sessions.listSessions({ pageSize, pageToken });
    ids.push(...page.sessions.map((s) => s.sessionId));
    pages.push(page.sessions.length);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return { ids, pages };
}

async function created(call: Promise<unknown>): Promise<"created" | "exists"> {
  try {
    await call;
    return "created";
  } catch (err) {
    if ((err as ConnectError).code === Code.AlreadyExists) return "exists";
    throw err;
  }
}

describe("the Redis session list index", () => {
  let server: TestServer;
  let c: Clients;
  let raw: Redis;
  let index: string;
  beforeAll(async () => {
    server = await startTestServer({ backend: "redis", redisUrl: redis.url });
    c = server.clients("grpc");
    raw = new Redis(redis.url);
    index = `${server.env.REDIS_PREFIX}{idx}:sessions`;
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.close();
  });

  it("lists a session whose create lost its index entry once the client's retry hears SESSION_EXISTS", async () => {
    const sessionId = `lost-${randomUUID()}`;
    await c.sessions.createSession({ sessionId });
    // What a crash between the create script and a later index write leaves (earlier versions wrote the index last).
    await raw.zrem(index, sessionId);
    expect(await created(c.sessions.createSession({ sessionId }))).toBe("exists");
    expect((await listAll(c, 100)).ids).toContain(sessionId);
  });

  it("skips ids that are not active user sessions, and still pages full and exact", async () => {
    const prefix = `page-${randomUUID().slice(0, 8)}-`;
    const id = (n: number) => `${prefix}${String(n).padStart(2, "0")}`;
    const live: string[] = [];
    for (let n = 0; n < 20; n++) {
      if (n % 4 === 1) {
        // A create that wrote the index and was killed before its script ran.
        await raw.zadd(index, 0, id(n));
      } else if (n % 4 === 2) {
        // A delete whose index removal was lost.
        await c.sessions.createSession({ sessionId: id(n) });
        await c.sessions.deleteSession({ sessionId: id(n) });
        await raw.zadd(index, 0, id(n));
      } else if (n === 3) {
        // A refused create of a system-owned session's id.
        await c.sessions.createSession({ sessionId: id(n), systemOwned: true });
        await raw.zadd(index, 0, id(n));
      } else {
        await c.sessions.createSession({ sessionId: id(n) });
        live.push(id(n));
      }
    }
    // Skipped ids after the last listed one too.
    await raw.zadd(index, 0, `${prefix}99`, 0, `${prefix}98`);
    const listed = await listAll(c, 2);
    expect(listed.ids.filter((i) => i.startsWith(prefix))).toEqual(live);
    // Every page is full but the last, which is not empty and says there is no next page.
    expect(listed.pages.slice(0, -1).every((n) => n === 2)).toBe(true);
    expect(listed.pages.at(-1)).toBeGreaterThan(0);
    // A later create of an id that was left in the index works, and lists it once.
    await c.sessions.createSession({ sessionId: id(1) });
    expect((await listAll(c, 3)).ids.filter((i) => i === id(1))).toEqual([id(1)]);
  });
});

describe("the Redis store under a crash while sessions are created", () => {
  it("lists every session a client saw created (or SESSION_EXISTS on its retry) after SIGKILLs mid-create", async () => {
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: `k${randomUUID().slice(0, 6)}:` };
    const acked = new Set<string>();
    let clients: Clients | undefined;
    let stop = false;
    // Each creator retries an interrupted create with the same id on the next server, as a
    // client does, before it starts another; told to stop, it finishes its retry first.
    const creators = Promise.all(Array.from({ length: 32 }, async () => {
      let retry: string | undefined;
      while (retry !== undefined || !stop) {
        const c = clients;
        if (!c) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        const sessionId = retry ?? `crash-${randomUUID()}`;
        try {
          await created(c.sessions.createSession({ sessionId }));
          acked.add(sessionId);
          retry = undefined;
        } catch {
          retry = sessionId;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }));
    const rounds = 3;
    try {
      for (let round = 0; round < rounds; round++) {
        const server = startMain(env);
        const { address } = await server.line(/"msg":"listening"/);
        clients = makeClients(address, "connect-json");
        const target = acked.size + 300;
        await until(() => acked.size >= target, `${target} sessions created`);
        server.child.kill("SIGKILL");
        await server.exited;
        clients = undefined;
      }
      const last = startMain(env);
      try {
        const { address } = await last.line(/"msg":"listening"/);
        clients = makeClients(address, "connect-json");
        stop = true;
        await creators;
        const listed = new Set((await listAll(clients, 500)).ids);
        expect([...acked].filter((id) => !listed.has(id))).toEqual([]);
        expect(acked.size).toBeGreaterThanOrEqual(rounds * 300);
      } finally {
        last.child.kill("SIGTERM");
        await last.exited;
      }
    } finally {
      stop = true;
      await creators;
    }
  }, 60_000);
});
