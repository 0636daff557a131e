// Faults done for real: redis-server killed under load and restarted on the
// same port, and SIGTERM while 64 clients write. Nothing acknowledged is lost.
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMain } from "./support/process.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { restClient } from "./support/rest.js";
import { startTestServer, type TestServer } from "./support/server.js";

const num = (n: number) => ({ kind: { case: "numberValue" as const, value: n } });

describe("Redis outage", () => {
  let redis: TestRedis;
  let server: TestServer;
  beforeAll(async () => {
    redis = await startRedis({ persist: true });
    server = await startTestServer({ backend: "redis", redisUrl: redis.url, env: { STORE_TIMEOUT_MS: "2000" } });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  it("fails fast with unavailable, ends watches, recovers by itself, and loses no acknowledged write", async () => {
    const c = server.clients("grpc");
    const rest = restClient(server.url);
    const sessionId = `outage-${randomUUID()}`;
    await c.sessions.createSession({ sessionId });

    let watchError: unknown;
    const watching = (async () => {
      try {
        for await (const _ of c.settings.watchSettings({ sessionId })) {
          // Changes before the kill are not the point here.
        }
      } catch (err) {
        watchError = err;
      }
    })();

    const acked: string[] = [];
    const failures: { ms: number; code: string }[] = [];
    let stop = false;
    const writers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const key = `w${w}-${i}`;
        const started = Date.now();
        try {
          await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key, value: num(i) } } });
          acked.push(key);
        } catch (err) {
          failures.push({ ms: Date.now() - started, code: Code[(err as ConnectError).code] });
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });

    await new Promise((r) => setTimeout(r, 500));
    const ackedBeforeKill = acked.length;
    expect(ackedBeforeKill).toBeGreaterThan(10);
    await redis.stop(); // SIGKILL
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));

    // While Redis is down: fast unavailable answers everywhere.
    const down = await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "during", value: 1 });
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: "error", code: "unavailable" });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    await watching;
    expect(Code[(watchError as ConnectError).code]).toBe("Unavailable");
    const afterKill = failures.filter((f) => f.code !== "Unavailable");
    expect(afterKill).toEqual([]);
    expect(Math.max(...failures.map((f) => f.ms))).toBeLessThan(2500);

    await redis.start();
    const deadline = Date.now() + 15_000;
    while ((await fetch(`${server.url}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error("did not recover");
      await new Promise((r) => setTimeout(r, 100));
    }
    const recoveredAfterMs = Date.now() - killedAt;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(writers);

    const stored = (await c.settings.getSettings({ sessionId })).settings!;
    const lost = acked.filter((k) => !(k in stored));
    expect(lost).toEqual([]);
    // The write refused while Redis was down was not replayed behind the caller's back.
    expect("during" in stored).toBe(false);
    expect(recoveredAfterMs).toBeLessThan(15_000);
    const after = await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "after", value: num(1) } } });
    expect(after.changed).toBe(true);
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

  it("finishes requests in flight on SIGTERM, refuses new ones, and keeps every acknowledged write", async () => {
    const prefix = `sig${randomUUID().slice(0, 8)}:`;
    const main = startMain({ REDIS_URL: redis.url, REDIS_PREFIX: prefix });
    const { address } = await main.line(/"msg":"listening"/);
    const rest = restClient(address);
    const sessionId = `sigterm-${randomUUID()}`;
    expect((await rest("POST", "/api/sessions", { sessionId })).status).toBe(200);

    const acked: string[] = [];
    let refused = 0;
    let stop = false;
    const writers = Array.from({ length: 64 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const key = `w${w}-${i}`;
        try {
          const res = await rest("POST", `/api/sessions/${sessionId}/settings`, { key, value: i });
          if (res.status === 200) acked.push(key);
          else refused++;
        } catch {
          refused++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    await new Promise((r) => setTimeout(r, 800));
    main.child.kill("SIGTERM");
    const [code] = await main.exited;
    stop = true;
    await Promise.all(writers);
    expect(code).toBe(0);
    expect(main.output().stdout).toContain('"msg":"stopped"');
    expect(acked.length).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(0);

    const again = await startTestServer({ backend: "redis", redisUrl: redis.url, env: { REDIS_PREFIX: prefix } });
    try {
      const stored = (await again.clients().settings.getSettings({ sessionId })).settings!;
      expect(acked.filter((k) => !(k in stored))).toEqual([]);
    } finally {
      await again.close();
    }
  }, 60_000);
});
