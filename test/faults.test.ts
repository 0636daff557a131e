// Redis faults done for real, and what callers are told about each: redis-
// server SIGKILLed or frozen (SIGSTOP) under writers, Redis out of memory,
// and Redis coming back empty. `unavailable` must mean "not applied", an
// unknown outcome is said as such (deadline_exceeded, OUTCOME_UNKNOWN), no
// call outlives STORE_TIMEOUT_MS, and a retry with the same request id never
// applies a write twice.
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMain } from "./support/process.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { restClient } from "./support/rest.js";
import { makeClients, startTestServer, type Clients, type TestServer } from "./support/server.js";
import { watch } from "./support/watch-suite.js";
import { until } from "./support/until.js";

const num = (n: number) => ({ kind: { case: "numberValue" as const, value: n } });
const TIMEOUT_MS = 600;
/** A call answers within the budget plus this, for scheduling on a loaded machine. */
const SLACK_MS = 700;


interface Outcome {
  key: string;
  requestId: string;
  value: number;
  code: "ok" | keyof typeof Code;
  ms: number;
}

/**
 * Writers that each write their own keys with a request id, and record how
 * every call ended and how long it took. They stop when told to.
 */
function writers(c: Clients, sessionId: string, count: number) {
  const outcomes: Outcome[] = [];
  let stop = false;
  const done = Promise.all(
    Array.from({ length: count }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const o: Outcome = { key: `w${w}-${i}`, requestId: randomUUID(), value: i, code: "ok", ms: 0 };
        const started = performance.now();
        try {
          await c.settings.setSettings({ sessionId, requestId: o.requestId, update: { case: "entry", value: { key: o.key, value: num(i) } } });
        } catch (err) {
          o.code = Code[(err as ConnectError).code] as keyof typeof Code;
          // Unavailable comes at once while Redis is away; do not spin on it.
          await new Promise((r) => setImmediate(r));
        }
        o.ms = performance.now() - started;
        outcomes.push(o);
      }
    }),
  );
  return { outcomes, done, stop: () => void (stop = true) };
}

/** Every acknowledged write is stored; every `unavailable` one is not; unknown ones land exactly once when retried. */
async function checkOutcomes(c: Clients, sessionId: string, outcomes: Outcome[]): Promise<void> {
  const unknown = outcomes.filter((o) => o.code === "DeadlineExceeded");
  for (const o of unknown) {
    // Either the first try was applied, and the store answers its result again, or it was not,
    // and it is applied now. A fresh "unchanged" would mean it was applied but forgotten.
    const retry = await c.settings.setSettings({ sessionId, requestId: o.requestId, update: { case: "entry", value: { key: o.key, value: num(o.value) } } });
    expect(retry.replayed || retry.changed, o.key).toBe(true);
  }
  const stored = (await c.settings.getSettings({ sessionId })).settings!;
  expect(outcomes.filter((o) => o.code === "ok" && stored[o.key] !== o.value)).toEqual([]);
  expect(outcomes.filter((o) => o.code === "Unavailable" && o.key in stored)).toEqual([]);
  expect(unknown.filter((o) => stored[o.key] !== o.value)).toEqual([]);
  // Nothing twice: one revision per distinct key written, and nothing else was written.
  const history = await c.settings.listHistory({ sessionId, limit: 500 });
  const keys = history.entries.flatMap((e) => e.changes.map((ch) => ch.key));
  expect(new Set(keys).size).toBe(keys.length);
  expect(outcomes.filter((o) => o.code !== "ok" && o.code !== "Unavailable" && o.code !== "DeadlineExceeded")).toEqual([]);
}

describe("Redis killed or frozen under writers", () => {
  let redis: TestRedis;
  let server: TestServer;
  beforeAll(async () => {
    redis = await startRedis({ persist: true });
    server = await startTestServer({ backend: "redis", redisUrl: redis.url, env: { STORE_TIMEOUT_MS: String(TIMEOUT_MS), HISTORY_LIMIT: "10000" } });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  it("SIGKILL: fails fast and honestly, ends watches, recovers by itself, and loses nothing acknowledged", async () => {
    const c = server.clients("grpc");
    const sessionId = `kill-${randomUUID()}`;
    await c.sessions.createSession({ sessionId });
    const watcher = watch(c, { sessionId });
    await watcher.opened;
    const load = writers(c, sessionId, 16);
    await until(() => load.outcomes.length >= 100, "100 writes");
    await redis.stop(); // SIGKILL
    const killed = load.outcomes.length;
    await until(() => load.outcomes.slice(killed).filter((o) => o.code === "Unavailable").length >= 16, "writers refused");
    const rest = restClient(server.url);
    const down = await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "during", value: 1 });
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: "error", code: "unavailable" });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    await watcher.done;
    expect(Code[(watcher.error as ConnectError).code]).toBe("Unavailable");

    await redis.start();
    await until(async () => (await fetch(`${server.url}/readyz`)).status === 200, "ready again");
    await until(() => load.outcomes.slice(-16).every((o) => o.code === "ok"), "writes succeeding again");
    load.stop();
    await load.done;
    expect(Math.max(...load.outcomes.map((o) => o.ms))).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    await checkOutcomes(c, sessionId, load.outcomes);
    expect((await c.settings.getSettings({ sessionId, key: "during" })).found).toBe(false);
  }, 90_000);

  it("SIGSTOP: no call outlives STORE_TIMEOUT_MS, every 503 was not applied, and retries apply nothing twice", async () => {
    const c = server.clients("grpc");
    const sessionId = `pause-${randomUUID()}`;
    await c.sessions.createSession({ sessionId });
    const load = writers(c, sessionId, 16);
    await until(() => load.outcomes.length >= 100, "100 writes");
    redis.pause();
    const paused = load.outcomes.length;
    try {
      // Writes sent to a frozen Redis may be applied when it thaws: the answer says so.
      await until(() => load.outcomes.slice(paused).filter((o) => o.code === "DeadlineExceeded").length >= 16, "unknown outcomes");
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    } finally {
      redis.resume();
    }
    await until(() => load.outcomes.slice(-16).every((o) => o.code === "ok"), "writes succeeding again");
    load.stop();
    await load.done;
    expect(Math.max(...load.outcomes.map((o) => o.ms))).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    await checkOutcomes(c, sessionId, load.outcomes);
  }, 90_000);
});

describe("Redis out of memory (maxmemory with noeviction)", () => {
  let redis: TestRedis;
  let server: TestServer;
  beforeAll(async () => {
    redis = await startRedis({ extraArgs: ["--maxmemory", "3mb", "--maxmemory-policy", "noeviction"] });
    server = await startTestServer({ backend: "redis", redisUrl: redis.url });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  it("refuses writes with 503 naming the cause, is not ready, and still deletes sessions to free space", async () => {
    const rest = restClient(server.url);
    const ids: string[] = [];
    let refused: { status: number; body: any } | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const created = await rest("POST", "/api/sessions", {});
      if (created.status !== 200) {
        refused = created;
        break;
      }
      ids.push(created.body.session.sessionId);
      const res = await rest("POST", `/api/sessions/${created.body.session.sessionId}/settings`, { key: "blob", value: "x".repeat(200_000) });
      if (res.status !== 200) refused = res;
    }
    expect(refused?.status).toBe(503);
    expect(refused?.body).toMatchObject({ status: "error", code: "unavailable", message: expect.stringMatching(/OOM/) });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    for (const id of ids) expect((await rest("DELETE", `/api/sessions/${id}`)).status).toBe(200);
    await until(async () => (await fetch(`${server.url}/readyz`)).status === 200, "ready after freeing memory");
    const fresh = await rest("POST", "/api/sessions", {});
    expect(fresh.status).toBe(200);
  }, 60_000);
});

describe("Redis that comes back empty", () => {
  it("is not served: readyz 503 and every call refused, until a restart accepts the new dataset", async () => {
    const redis = await startRedis(); // no persistence: a restart loses everything
    const server = await startTestServer({ backend: "redis", redisUrl: redis.url });
    try {
      const c = server.clients("grpc");
      const sessionId = `split-${randomUUID()}`;
      await c.sessions.createSession({ sessionId });
      await redis.stop();
      await redis.start();
      // Reconnected, but to an empty dataset: no split brain.
      const probe = new Redis(redis.url);
      await until(async () => ((await probe.client("LIST")) as string).split("\n").filter(Boolean).length >= 2, "the service reconnected");
      probe.disconnect();
      await until(async () => (await fetch(`${server.url}/readyz`)).status === 503, "not ready");
      let refused: unknown;
      try {
        await c.sessions.createSession({ sessionId });
      } catch (err) {
        refused = err;
      }
      expect(Code[(refused as ConnectError).code]).toBe("Unavailable");
      expect((refused as ConnectError).rawMessage).toMatch(/dataset changed/);
      // A restart is the operator's acceptance of what Redis now holds.
      const restarted = await startTestServer({ backend: "redis", redisUrl: redis.url, env: server.env });
      try {
        expect((await fetch(`${restarted.url}/readyz`)).status).toBe(200);
        await restarted.clients("grpc").sessions.createSession({ sessionId });
      } finally {
        await restarted.close();
      }
    } finally {
      await server.close();
      await redis.stop();
    }
  }, 60_000);
});

describe("graceful shutdown under load", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis({ persist: true });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  /** How a call ended: refused in a way that says nothing was done (safe to retry), or anything else. */
  const ending = (err: unknown): string => {
    const cause = (err as { cause?: { code?: string } }).cause;
    // A refused connection: nothing was sent.
    if (cause?.code === "ECONNREFUSED") return "refused";
    // HTTP/2's REFUSED_STREAM says the stream was not processed (connect reports it as internal).
    if (err instanceof ConnectError && /ECONNREFUSED|REFUSED_STREAM/.test(err.message)) return "refused";
    // A reset while connecting (the connect syscall failed): the connection never opened, so
    // nothing of a request was sent. A SYN that reaches the listener just as it closes gets it.
    if (err instanceof ConnectError && /\bconnect ECONNRESET\b/.test(err.message)) return "refused";
    // A connection accepted after shutdown began: 503 unavailable, not applied.
    if ((err as Error).message === "status 503") return "refused";
    return `${(err as Error).message} ${cause?.code ?? ""}`.trim();
  };

  it("answers every request in flight on SIGTERM, closes keep-alive connections between requests, and keeps every acknowledged write", async () => {
    const prefix = `sig${randomUUID().slice(0, 8)}:`;
    const main = startMain({ REDIS_URL: redis.url, REDIS_PREFIX: prefix });
    const { address } = await main.line(/"msg":"listening"/);
    const rest = restClient(address);
    // Each gRPC writer on its own HTTP/2 connection, each drained by itself.
    const grpc = Array.from({ length: 8 }, () => makeClients(address, "grpc"));
    const sessionId = `sigterm-${randomUUID()}`;
    expect((await rest("POST", "/api/sessions", { sessionId })).status).toBe(200);

    // 64 keep-alive HTTP/1.1 writers (fetch pools connections) and 8 gRPC writers, each on its own HTTP/2 connection.
    const acked: string[] = [];
    const refused: string[] = [];
    const perWriter = new Array<number>(72).fill(0);
    const ends: string[] = [];
    const write = async (key: string, i: number, w: number) => {
      if (w >= 64) await grpc[w - 64]!.settings.setSettings({ sessionId, update: { case: "entry", value: { key, value: num(i) } } });
      else {
        const res = await rest("POST", `/api/sessions/${sessionId}/settings`, { key, value: i });
        if (res.status !== 200) throw new Error(`status ${res.status}`);
      }
    };
    const writers = Array.from({ length: 72 }, async (_, w) => {
      for (let i = 0; ; i++) {
        const key = `w${w}-${i}`;
        try {
          await write(key, i, w);
          acked.push(key);
          perWriter[w]! += 1;
        } catch (err) {
          ends.push(ending(err));
          refused.push(key);
          return;
        }
      }
    });
    // Every writer is under way on its own connection.
    await until(() => perWriter.every((n) => n >= 10), "10 acknowledged writes from every writer");
    main.child.kill("SIGTERM");
    const [code] = await main.exited;
    await Promise.all(writers);
    expect(code).toBe(0);
    expect(main.output().stdout).toContain('"msg":"stopped"');
    // Never a reset or a broken pipe under a request: each writer ends on a refusal that says
    // nothing was done (a refused connection or stream, or 503 on a connection accepted meanwhile).
    expect(ends).toEqual(Array(72).fill("refused"));

    const again = await startTestServer({ backend: "redis", redisUrl: redis.url, env: { REDIS_PREFIX: prefix } });
    try {
      const stored = (await again.clients().settings.getSettings({ sessionId })).settings!;
      expect(acked.filter((k) => !(k in stored))).toEqual([]);
      expect(refused.filter((k) => k in stored)).toEqual([]);
    } finally {
      await again.close();
    }
  }, 60_000);
});
