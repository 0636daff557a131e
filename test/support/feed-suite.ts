// The change feed's contract, run against each store: WatchChanges (created
// first, every change in feed order with its cursor, resume, filters, a
// truncated cursor), ListSettings (pages with one cursor), list-then-watch
// under concurrent writers ending exactly at the server's state, and reads at
// a past revision. One suite (~320 lines) so that a store runs all of it
// with one call, as the contract suite does.
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../../gen/codexmanager/settings/v1/errors_pb.js";
import { createSettingsSdk, type FeedChange, type SettingsSdk } from "../../src/client/index.js";
import type { ScopeState } from "../../src/client/changes.js";
import { makeTransport, type TestServer, type TransportName } from "./server.js";
import { sseReader } from "./sse.js";
import { until } from "./until.js";

type Start = (env?: Record<string, string>) => Promise<TestServer>;

/** Collects a change watch's changes until `count` have arrived (or the watch ends). */
function follow(sdk: SettingsSdk, options: Parameters<SettingsSdk["changes"]["watch"]>[0] = {}) {
  const controller = new AbortController();
  const changes: FeedChange[] = [];
  let created: string | undefined;
  let failed: unknown;
  const done = (async () => {
    try {
      for await (const c of sdk.changes.watch({ ...options, signal: controller.signal, onCreated: ({ cursor }) => (created = cursor) })) changes.push(c);
    } catch (err) {
      failed = err;
    }
  })();
  return {
    changes,
    get created() {
      return created;
    },
    get failed() {
      return failed;
    },
    async ready() {
      await until(() => created !== undefined || failed !== undefined, "the change watch to be established");
      if (failed) throw failed;
    },
    async stop() {
      controller.abort();
      await done;
    },
  };
}

/** `shared`: every server started shares one store (Redis), so they must serve one feed. */
export function feedSuite(name: string, start: Start, transports: TransportName[], { shared = false }: { shared?: boolean } = {}) {
  describe(`the change feed on ${name}`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await start();
    });
    afterAll(async () => {
      await server?.close();
    });

    describe.each(transports)("over %s", (transport) => {
      let sdk: SettingsSdk;
      beforeAll(() => {
        sdk = createSettingsSdk(makeTransport(server.url, transport));
      });

      it("sends created with a cursor at once, then every kind of change in feed order, each with its cursor", async () => {
        const w = follow(sdk);
        await w.ready();
        const id = `f-${randomUUID()}`;
        await sdk.sessions.create({ sessionId: id, approvalPolicy: "on-request" });
        await sdk.session(id).settings.set("team", { lead: "ana" }, { actor: "ana", source: "feed-test" });
        await sdk.session(id).controls.apply({ model: "m", approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "read-only" });
        await sdk.session(id).settings.set("base", 1, { scope: "default" });
        await sdk.session(id).settings.unset("base", { scope: "default" });
        await sdk.sessions.delete(id);
        await until(() => w.changes.filter((c) => c.sessionId === id || c.scope === "default").length >= 6, "six changes");
        await w.stop();
        // The order is total per scope (and, on Redis Cluster, per shard: the default scope may be on another).
        const mine = w.changes.filter((c) => c.sessionId === id);
        const defaults = w.changes.filter((c) => c.scope === "default").slice(-2);
        expect(mine.map((c) => [c.kind, c.scope, c.revision])).toEqual([
          ["session_created", "session", 0n],
          ["settings", "session", 1n],
          ["controls", "session", 2n],
          ["session_deleted", "session", 2n],
        ]);
        expect(defaults.map((c) => [c.kind, c.revision - defaults[0]!.revision])).toEqual([["settings", 0n], ["settings", 1n]]);
        expect(mine[0]!.entry.changes).toContainEqual({ kind: "control", key: "approvalPolicy", after: "on-request", before: undefined });
        expect(mine[1]!.entry).toMatchObject({ actor: "ana", source: "feed-test", changes: [{ kind: "setting", key: "team", after: { lead: "ana" } }] });
        expect(defaults[0]!.sessionId).toBe("");
        // Cursors are distinct and none is the created one.
        expect(new Set(w.changes.map((c) => c.cursor)).size).toBe(w.changes.length);
        expect(w.changes.map((c) => c.cursor)).not.toContain(w.created);
      });

      it("resumes after a cursor with every later change, once", async () => {
        const id = `r-${randomUUID()}`;
        await sdk.sessions.create({ sessionId: id });
        const first = follow(sdk);
        await first.ready();
        for (let i = 1; i <= 5; i++) await sdk.session(id).settings.set("n", i);
        await until(() => first.changes.filter((c) => c.sessionId === id).length >= 5, "five changes");
        await first.stop();
        const seen = first.changes.filter((c) => c.sessionId === id);
        const resumed = follow(sdk, { after: seen[1]!.cursor });
        await resumed.ready();
        await sdk.session(id).settings.set("n", 6);
        await until(() => resumed.changes.filter((c) => c.sessionId === id).length >= 4, "the replayed and the new changes");
        await resumed.stop();
        expect(resumed.changes.filter((c) => c.sessionId === id).map((c) => c.revision)).toEqual([3n, 4n, 5n, 6n]);
      });

      it("filters by scope, by top-level key and by session id prefix, and heartbeats still move the cursor", async () => {
        const prefix = `p${randomUUID().slice(0, 8)}-`;
        const byKey = follow(sdk, { keys: ["watched"] });
        const byPrefix = follow(sdk, { sessionIdPrefix: prefix });
        const byDefault = follow(sdk, { scope: "default" });
        await Promise.all([byKey.ready(), byPrefix.ready(), byDefault.ready()]);
        const inside = `${prefix}a`;
        const outside = `q-${randomUUID()}`;
        for (const id of [inside, outside]) await sdk.sessions.create({ sessionId: id });
        await sdk.session(outside).settings.set("watched", 1);
        await sdk.session(outside).settings.set("other", 1);
        await sdk.session(inside).settings.set("other", 2);
        await sdk.session(inside).settings.set("d", randomUUID(), { scope: "default" });
        await sdk.sessions.delete(outside);
        await until(() => byKey.changes.some((c) => c.kind === "session_deleted" && c.sessionId === outside), "the key watcher to see the deletion");
        await until(() => byPrefix.changes.some((c) => c.scope === "session" && c.revision === 1n), "the prefix watcher");
        await until(() => byDefault.changes.length >= 1, "the default-scope watcher");
        await Promise.all([byKey.stop(), byPrefix.stop(), byDefault.stop()]);
        expect(byKey.changes.filter((c) => c.sessionId === outside || c.sessionId === inside).map((c) => [c.kind, c.sessionId])).toEqual([
          ["settings", outside],
          ["session_deleted", outside],
        ]);
        expect(byPrefix.changes.map((c) => [c.kind, c.sessionId])).toEqual([
          ["session_created", inside],
          ["settings", inside],
        ]);
        expect(byDefault.changes.every((c) => c.scope === "default")).toBe(true);
      });

      it("lists every scope a page at a time, each page with the cursor taken when the listing began", async () => {
        const ids = Array.from({ length: 5 }, () => `l-${randomUUID()}`);
        for (const id of ids) await sdk.sessions.create({ sessionId: id });
        const pages = [];
        let page = await sdk.changes.list("", 2);
        pages.push(page);
        await sdk.session(ids[0]!).settings.set("moved", true); // the cursor must not move with it
        while (page.nextPageToken) pages.push((page = await sdk.changes.list(page.nextPageToken, 2)));
        expect(new Set(pages.map((p) => p.cursor)).size).toBe(1);
        const items = pages.flatMap((p) => p.items);
        expect(items[0]).toMatchObject({ scope: "default", sessionId: "" });
        for (const id of ids) expect(items.map((i) => i.sessionId)).toContain(id);
        expect(pages.every((p) => p.items.length <= 2)).toBe(true);
      });
    });

    it("serves the feed to REST clients: Server-Sent Events with cursors as ids, resumed by Last-Event-ID, and the listing", async () => {
      const sdk = createSettingsSdk(makeTransport(server.url, "grpc"));
      const id = `s-${randomUUID()}`;
      await sdk.sessions.create({ sessionId: id });
      const abort = new AbortController();
      const res = await fetch(`${server.url}/api/events?key=team&key=other`, { signal: abort.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
      const sse = sseReader(res);
      await sse.readUntil(/event: created\ndata: \{"cursor":"[^"]+"\}\n\n/);
      await sdk.session(id).settings.set("ignored", 1);
      await sdk.session(id).settings.set("team", { lead: "ana" }, { actor: "ana" });
      const text = await sse.readUntil(/event: change\ndata: .*\n\n/);
      const [event] = text.split("\n\n").filter((e) => e.includes("event: change"));
      const lastId = /^id: (.+)$/m.exec(event!)![1]!;
      const data = JSON.parse(event!.split("\ndata: ")[1]!);
      expect(data).toMatchObject({ cursor: lastId, sessionId: id, scope: "session", revision: 2, kind: "settings" });
      expect(data.entry).toMatchObject({ op: "set", actor: "ana", changes: [{ kind: "setting", key: "team", after: { lead: "ana" } }] });
      abort.abort();
      // An EventSource reconnects with Last-Event-ID: it resumes after that change.
      await sdk.session(id).settings.set("other", 3);
      const again = new AbortController();
      const resumed = await fetch(`${server.url}/api/events?key=team&key=other`, { headers: { "last-event-id": lastId }, signal: again.signal });
      const t2 = await sseReader(resumed).readUntil(/event: change\ndata: .*\n/);
      again.abort();
      expect(JSON.parse(t2.split("event: change\ndata: ")[1]!.split("\n")[0]!)).toMatchObject({ sessionId: id, revision: 3 });

      const page = (await fetch(`${server.url}/api/settings?pageSize=2`).then((r) => r.json())) as any;
      expect(page.items[0]).toMatchObject({ sessionId: "", scope: "default" });
      expect(page.items[0].controls).toHaveProperty("approvalPolicy");
      expect(typeof page.cursor).toBe("string");
      expect(page.nextPageToken).toEqual(expect.any(String));
      const next = (await fetch(`${server.url}/api/settings?pageSize=2&pageToken=${page.nextPageToken}`).then((r) => r.json())) as any;
      expect(next.cursor).toBe(page.cursor);
      const past = (await fetch(`${server.url}/api/sessions/${id}/settings?atRevision=1`).then((r) => r.json())) as any;
      expect([past.settings.ignored, past.settings.team, past.revision]).toEqual([1, undefined, 1]);
      expect((await fetch(`${server.url}/api/events?after=nonsense`)).status).toBe(400);
    });

    it.runIf(shared)("serves one feed from every server process on the store: a change made through one reaches a watcher of another, with the same cursor", async () => {
      const other = await start({ REDIS_PREFIX: server.env.REDIS_PREFIX! });
      try {
        const mine = createSettingsSdk(makeTransport(server.url, "grpc"));
        const theirs = createSettingsSdk(makeTransport(other.url, "grpc"));
        const id = `two-${randomUUID()}`;
        const here = follow(mine);
        const there = follow(theirs);
        await Promise.all([here.ready(), there.ready()]);
        await theirs.sessions.create({ sessionId: id });
        await mine.session(id).settings.set("k", 1);
        for (const w of [here, there]) await until(() => w.changes.filter((c) => c.sessionId === id).length >= 2, "both changes on both servers");
        await Promise.all([here.stop(), there.stop()]);
        const cursors = (w: typeof here) => w.changes.filter((c) => c.sessionId === id).map((c) => c.cursor);
        expect(cursors(there)).toEqual(cursors(here));
      } finally {
        await other.close();
      }
    });

    it("answers HISTORY_TRUNCATED naming the oldest cursor, for a cursor older than FEED_LIMIT", async () => {
      const small = await start({ FEED_LIMIT: "3" });
      try {
        const sdk = createSettingsSdk(makeTransport(small.url, "grpc"));
        const id = `t-${randomUUID()}`;
        await sdk.sessions.create({ sessionId: id });
        const w = follow(sdk);
        await w.ready();
        await sdk.session(id).settings.set("a", 1);
        await until(() => w.changes.length >= 1, "one change");
        await w.stop();
        for (let i = 0; i < 5; i++) await sdk.session(id).settings.set("a", i + 2);
        const late = follow(sdk, { after: w.changes[0]!.cursor });
        await until(() => late.failed !== undefined, "the refusal");
        const err = ConnectError.from((late.failed as { cause?: unknown }).cause ?? late.failed);
        expect(err.code).toBe(Code.OutOfRange);
        const detail = err.findDetails(ErrorDetailSchema)[0]!;
        expect(detail.reason).toBe("HISTORY_TRUNCATED");
        // From the oldest cursor held, the retained changes come back whole.
        const oldest = follow(sdk, { after: detail.oldestCursor });
        await until(() => oldest.changes.length >= 3, "the retained changes");
        await oldest.stop();
        expect(oldest.changes.map((c) => c.revision)).toEqual([4n, 5n, 6n]);
        const rest = await fetch(`${small.url}/api/events?after=${encodeURIComponent(w.changes[0]!.cursor)}`);
        expect(rest.status).toBe(410);
        expect(await rest.json()).toMatchObject({ code: "history_truncated", oldestCursor: detail.oldestCursor });
      } finally {
        await small.close();
      }
    });

    it("list-then-watch under 16 writers, creators and deleters ends exactly at the server's state", async () => {
      const sdk = createSettingsSdk(makeTransport(server.url, "grpc"));
      const prefix = `lw-${randomUUID().slice(0, 8)}-`;
      const seeded = Array.from({ length: 8 }, (_, i) => `${prefix}${i}`);
      for (const id of seeded) await sdk.sessions.create({ sessionId: id });
      let stop = false;
      let created = 0;
      const writers = Array.from({ length: 16 }, async (_, w) => {
        for (let n = 0; !stop; n++) {
          const id = seeded[(w + n) % seeded.length]!;
          await sdk.session(id).settings.set(`w${w}`, n).catch(() => {});
          if (n % 7 === 0) await sdk.sessions.create({ sessionId: `${prefix}c${w}-${n}` }).then(() => created++);
          if (n % 11 === 10) await sdk.sessions.delete(`${prefix}c${w}-${n - 10}`).catch(() => {});
          if (w === 0 && n % 5 === 0) await sdk.session(seeded[0]!).settings.set(`d${n % 3}`, n, { scope: "default" });
        }
      });
      await until(() => created >= 10, "sessions created under load");
      const controller = new AbortController();
      let cache: Map<string, ScopeState> | undefined;
      let changes = 0;
      const informer = (async () => {
        try {
          for await (const e of sdk.changes.listThenWatch({ signal: controller.signal, pageSize: 7 })) {
            cache = e.scopes;
            if (e.type === "change") changes++;
          }
        } catch (err) {
          if (!controller.signal.aborted) throw err;
        }
      })();
      await until(() => changes >= 200, "the informer to follow 200 changes");
      stop = true;
      await Promise.all(writers);
      // Once the feed is quiet, the cache must equal a fresh listing, scope for scope.
      const truth = async () => {
        const all = new Map<string, ScopeState>();
        for (let p = await sdk.changes.list("", 100); ; p = await sdk.changes.list(p.nextPageToken!, 100)) {
          for (const i of p.items) all.set(i.scope === "default" ? "" : i.sessionId, i);
          if (!p.nextPageToken) return all;
        }
      };
      const expected = await truth();
      await until(() => [...expected].every(([k, v]) => cache?.get(k)?.revision === v.revision) && cache?.size === expected.size, "the cache to catch up", 30_000);
      controller.abort();
      await informer;
      expect(new Map([...cache!].map(([k, v]) => [k, { ...v }]))).toEqual(new Map([...expected].map(([k, v]) => [k, { ...v }])));
    }, 60_000);

    it("reads a scope as it was at a past revision; older than history is HISTORY_TRUNCATED, a future one INVALID_REQUEST", async () => {
      const small = await start({ HISTORY_LIMIT: "3" });
      try {
        const { settings: api } = small.clients("grpc");
        const sdk = createSettingsSdk(makeTransport(small.url, "grpc"));
        const id = `a-${randomUUID()}`;
        await sdk.sessions.create({ sessionId: id });
        await sdk.session(id).settings.set("k", 1);
        await sdk.session(id).controls.apply({ model: "x", approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "read-only" });
        await sdk.session(id).settings.set("k", 2);
        await sdk.session(id).settings.set("j", true);
        const at2 = await api.getSettings({ sessionId: id, atRevision: 2n });
        expect([at2.settings, at2.revision]).toEqual([{ k: 1 }, 2n]);
        expect((await api.getSettings({ sessionId: id, atRevision: 3n, key: "k" })).value?.kind).toEqual({ case: "numberValue", value: 2 });
        const controls = await api.getControls({ sessionId: id, atRevision: 1n });
        expect([controls.session?.revision, controls.session?.controls?.approvalPolicy, controls.session?.controls?.model]).toEqual([1n, 1, undefined]);
        const refused = async (atRevision: bigint) => api.getSettings({ sessionId: id, atRevision }).then(() => undefined, (e: unknown) => ConnectError.from(e));
        expect((await refused(0n))?.findDetails(ErrorDetailSchema)[0]?.reason).toBe("HISTORY_TRUNCATED");
        expect((await refused(5n))?.findDetails(ErrorDetailSchema)[0]?.reason).toBe("INVALID_REQUEST");
      } finally {
        await small.close();
      }
    });
  });
}
