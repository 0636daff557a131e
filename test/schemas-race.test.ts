// Typed settings under concurrency, on Redis and on a real Redis Cluster,
// with two compiled server processes sharing the store: validation must see
// exactly the value that is committed, and exactly the schemas committed.
//   - Path merges into one object, each valid on its own (one property), but
//     two validated against the same stale value would commit two properties,
//     which the schema forbids: the stored value must stay valid, and exactly
//     one merge per round must win.
//   - A schema registered (not forced) while the other process writes values
//     that break it, from the moment the registration began until it ends,
//     into the default scope (the first value a registration checks; many
//     sessions make the check long): either the registration is refused
//     (SCHEMA_VIOLATED), or once it is registered no stored value breaks it.
import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { startMain } from "./support/process.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { restClient, type Rest } from "./support/rest.js";

let redis: TestRedis;
let cluster: TestCluster;
beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startCluster()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

const ROUNDS = 40;
const WRITERS = 8;

/** Two server processes on one store, each reached over REST. */
async function twoServers(env: Record<string, string>): Promise<{ rests: Rest[]; prefix: string; stop(): Promise<void> }> {
  const prefix = `race${randomUUID().slice(0, 8)}:`;
  const mains = [startMain({ ...env, REDIS_PREFIX: prefix }), startMain({ ...env, REDIS_PREFIX: prefix })];
  const lines = await Promise.all(mains.map((m) => m.line(/"msg":"listening"/)));
  return {
    rests: lines.map((l) => restClient(l.address as string)),
    prefix,
    async stop() {
      for (const m of mains) m.child.kill("SIGTERM");
      await Promise.all(mains.map((m) => m.exited));
    },
  };
}

describe.each([
  ["one Redis", () => ({ REDIS_URL: redis.url }), () => new Redis(redis.url)],
  ["a Redis Cluster", () => ({ REDIS_URL: "", REDIS_CLUSTER_NODES: cluster.nodes }), () => new Cluster(cluster.nodes.split(",").map((n) => ({ host: "127.0.0.1", port: Number(n.split(":")[1]) })))],
] as const)("typed settings with two server processes on %s", (_, envOf, direct) => {
  let servers: Awaited<ReturnType<typeof twoServers>>;
  let store: Redis | Cluster;
  beforeAll(async () => {
    servers = await twoServers(envOf());
    store = direct();
  }, 60_000);
  afterAll(async () => {
    await servers?.stop();
    store?.disconnect();
  });

  it("never commits a merge validated against a value that changed under it", async () => {
    const [a, b] = servers.rests as [Rest, Rest];
    const schema = { type: "object", properties: { review: { type: "object", maxProperties: 1 } } };
    expect((await a("PUT", "/api/schemas/team", { schema })).status).toBe(200);
    const sessions = [(await a("POST", "/api/sessions", {})).body.session.sessionId as string];
    sessions.push((await b("POST", "/api/sessions", {})).body.session.sessionId as string);
    for (let round = 0; round < ROUNDS; round++) {
      const sessionId = sessions[round % 2]!;
      await a("POST", `/api/sessions/${sessionId}/settings`, { key: "team", value: { review: {} } });
      const answers = await Promise.all(
        Array.from({ length: WRITERS }, (_, i) =>
          (i % 2 ? b : a)("POST", `/api/sessions/${sessionId}/settings`, { path: "team.review", op: "merge", value: { [`w${i}`]: true } }),
        ),
      );
      expect(answers.map((r) => r.status).sort(), JSON.stringify(answers.map((r) => r.body))).toEqual([200, ...Array(WRITERS - 1).fill(400)]);
      for (const refused of answers.filter((r) => r.status === 400)) expect(refused.body.issues).toEqual([{ path: "/team/review", message: "must NOT have more than 1 properties", keyword: "maxProperties" }]);
      const stored = (await b("GET", `/api/sessions/${sessionId}/settings?key=team`)).body.value;
      expect(Object.keys(stored.review), `round ${round}`).toHaveLength(1);
    }
  }, 120_000);

  it("applies a burst of concurrent path merges into one key with a schema, from each process, without giving up", async () => {
    const [a, b] = servers.rests as [Rest, Rest];
    const schema = { type: "object", properties: { seen: { type: "object", additionalProperties: { type: "integer" } } } };
    expect((await a("PUT", "/api/schemas/burst", { schema })).status).toBe(200);
    const sessionId = (await a("POST", "/api/sessions", {})).body.session.sessionId as string;
    const answers = await Promise.all(
      Array.from({ length: 96 }, (_, i) => (i % 2 ? b : a)("POST", `/api/sessions/${sessionId}/settings`, { path: "burst.seen", op: "merge", value: { [`w${i}`]: i } })),
    );
    expect(answers.filter((r) => r.status !== 200).map((r) => JSON.stringify(r.body))).toEqual([]);
    expect(Object.keys((await a("GET", `/api/sessions/${sessionId}/settings?key=burst`)).body.value.seen)).toHaveLength(96);
  }, 60_000);

  it("never leaves a value breaking a schema that was registered while writes raced it", async () => {
    const [a, b] = servers.rests as [Rest, Rest];
    const sessionId = (await b("POST", "/api/sessions", {})).body.session.sessionId as string;
    // Many sessions' settings to go through: the registration's check of stored values takes a while.
    await Promise.all(Array.from({ length: 20_000 }, (_, i) => store.hset(`${servers.prefix}{s:filler-${i}}:settings`, "other", "1")));
    const registry = `${servers.prefix}{schemas}:registry`;
    const schema = { type: "object", properties: { n: { type: "integer", maximum: 10 } } };
    let registered = 0;
    for (let round = 0; round < 10; round++) {
      const key = `limit-${round}`;
      await b("POST", `/api/sessions/${sessionId}/settings`, { scope: "default", key, value: { n: 0 } });
      let done = false;
      const put = a("PUT", `/api/schemas/${key}`, { schema }).finally(() => (done = true));
      // From the moment the registration is pending until it answers, the other process writes values it refuses.
      while (!done && !(await store.hexists(registry, `p:${key}`))) await new Promise((r) => setTimeout(r, 1));
      let writes = 0;
      while (!done) {
        await b("POST", `/api/sessions/${sessionId}/settings`, { scope: "default", key, value: { n: 11 + (writes++ % 5) } });
      }
      const answer = await put;
      expect([200, 409], JSON.stringify(answer.body)).toContain(answer.status);
      if (answer.status === 200) {
        registered++;
        const report = await b("GET", `/api/schemas/${key}/violations`);
        expect(report.body, `round ${round}, ${writes} writes raced it`).toMatchObject({ count: 0, violations: [] });
        expect((await b("POST", `/api/sessions/${sessionId}/settings`, { scope: "default", key, value: { n: 11 } })).status).toBe(400);
      } else {
        // Refused: nothing was registered.
        expect((await a("GET", `/api/schemas/${key}`)).status).toBe(404);
      }
      await a("DELETE", `/api/schemas/${key}`);
      await b("DELETE", `/api/sessions/${sessionId}/settings/${key}?scope=default`);
    }
    expect(registered).toBeGreaterThan(0);
  }, 120_000);
});
