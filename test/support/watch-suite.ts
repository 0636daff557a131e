// WatchSettings' contract as functions that test files run against each
// store (embedded, Redis, Redis Cluster) over each transport.
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PathOp, Scope, type WatchSettingsResponse } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import type { StartServer } from "./contract-suite.js";
import { expectFailure } from "./errors.js";
import type { Clients, TestServer, TransportName } from "./server.js";

export const num = (n: number) => ({ kind: { case: "numberValue" as const, value: n } });
export const newId = () => `w-${randomUUID()}`;

/**
 * Opens a watch and collects its change messages in the background.
 * `opened` resolves with the revision of the `created` message, the first
 * one every watch sends: from then on the watch sees every change.
 */
export function watch(c: Clients, request: Parameters<Clients["settings"]["watchSettings"]>[0]) {
  const abort = new AbortController();
  const changes: WatchSettingsResponse[] = [];
  const firsts: WatchSettingsResponse[] = [];
  let heartbeats: WatchSettingsResponse[] = [];
  let error: unknown;
  let ended = false;
  let created: (revision: bigint) => void = () => {};
  const opened = new Promise<bigint>((resolve) => (created = resolve));
  const done = (async () => {
    try {
      for await (const msg of c.settings.watchSettings(request, { signal: abort.signal })) {
        if (firsts.length === 0) firsts.push(msg);
        if (msg.created) created(msg.revision);
        else if (msg.heartbeat) heartbeats.push(msg);
        else changes.push(msg);
      }
    } catch (err) {
      error = err;
    } finally {
      ended = true;
    }
  })();
  // A stream that fails before it opens must not leave `opened` waiting forever.
  void done.then(() => created(-1n));
  return {
    changes,
    opened,
    /** The first message of the stream. */
    get first() { return firsts[0]; },
    get heartbeats() { return heartbeats.length; },
    get lastHeartbeat() { return heartbeats.at(-1); },
    get error() { return error; },
    get ended() { return ended; },
    done,
    async until(predicate: () => boolean, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out; got ${changes.length} changes, error ${String(error)}`);
        if (ended && !predicate()) throw new Error(`stream ended early: ${String(error)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    stop: () => abort.abort(),
  };
}

export const revisions = (w: { changes: WatchSettingsResponse[] }) => w.changes.map((m) => Number(m.entry!.revision));
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function drain(c: Clients, request: Parameters<Clients["settings"]["watchSettings"]>[0]): Promise<void> {
  for await (const _ of c.settings.watchSettings(request)) {
    // Only the error matters.
  }
}

export function watchSuite(label: string, start: StartServer, transports: TransportName[]): void {
  describe.each(transports)(`WatchSettings on ${label} over %s`, (transport) => {
    let server: TestServer;
    let c: Clients;
    beforeAll(async () => {
      server = await start({ HISTORY_LIMIT: "50", WATCH_HEARTBEAT_MS: "100" });
      c = server.clients(transport);
    });
    afterAll(async () => {
      await server?.close();
    });

    async function session(): Promise<string> {
      const sessionId = newId();
      await c.sessions.createSession({ sessionId });
      return sessionId;
    }
    const set = (sessionId: string, key: string, value: number, extra: Record<string, unknown> = {}) =>
      c.settings.setSettings({ sessionId, update: { case: "entry", value: { key, value: num(value) } }, ...extra });

    it("sends each change once, in revision order, with provenance and new values; unchanged writes send nothing", async () => {
      const sessionId = await session();
      const w = watch(c, { sessionId, includeSettings: true });
      expect(await w.opened).toBe(0n);
      expect(w.first).toMatchObject({ created: true, revision: 0n });
      await set(sessionId, "a", 1, { actor: "bot", source: "cli" });
      await set(sessionId, "a", 1);
      await c.settings.setSettings({ sessionId, update: { case: "path", value: { path: "team.x", value: num(2), op: PathOp.SET } } });
      await c.settings.applyControls({ sessionId, controls: { model: "m", approvalPolicy: 4, networkAccess: 2, filesystemSandbox: 2 } });
      // A last write fences the stream: had the unchanged write sent anything, it would show before it.
      await set(sessionId, "fence", 1);
      await w.until(() => w.changes.length >= 4);
      w.stop();
      expect(revisions(w)).toEqual([1, 2, 3, 4]);
      const [first, second, third] = w.changes;
      expect(first!.entry).toMatchObject({ op: "set", actor: "bot", source: "cli", scope: Scope.SESSION });
      expect(first!.entry!.time).toBeDefined();
      expect(first!.entry!.changes[0]!.key).toBe("a");
      expect(first!.settings).toEqual({ a: 1 });
      expect(second!.entry!.op).toBe("path");
      expect(second!.settings).toEqual({ a: 1, team: { x: 2 } });
      expect(third!.entry!.op).toBe("controls");
      expect(third!.entry!.changes.map((ch) => ch.key)).toContain("model");
    });

    it("replays retained history after fromRevision, then goes live, with no gap or duplicate under concurrent writes", async () => {
      const sessionId = await session();
      for (let i = 1; i <= 10; i++) await set(sessionId, `k${i % 3}`, i);
      const writers = Promise.all(Array.from({ length: 20 }, (_, i) => set(sessionId, `c${i}`, i)));
      const w = watch(c, { sessionId, fromRevision: 4n, includeSettings: true });
      await writers;
      await w.until(() => w.changes.length >= 26);
      await set(sessionId, "after", 1);
      await w.until(() => w.changes.length >= 27);
      w.stop();
      expect(revisions(w)).toEqual(range(5, 31));
      // The map carried by each message is the map at that revision.
      const final = await c.settings.getSettings({ sessionId });
      expect(w.changes.at(-1)!.settings).toEqual(final.settings);
      expect(w.changes[0]!.settings).toEqual({ k0: 3, k1: 4, k2: 5 });
    });

    it("orders 20 concurrent writers' events without duplicates", async () => {
      const sessionId = await session();
      const w = watch(c, { sessionId });
      await w.opened;
      await Promise.all(Array.from({ length: 20 }, (_, i) => set(sessionId, `k${i}`, i)));
      await w.until(() => w.changes.length >= 20);
      w.stop();
      expect(revisions(w)).toEqual(range(1, 20));
    });

    it("refuses a fromRevision older than retained history with out_of_range", async () => {
      const sessionId = await session();
      for (let i = 1; i <= 55; i++) await set(sessionId, "k", i);
      const stale = watch(c, { sessionId, fromRevision: 2n });
      await stale.done;
      expect(stale.error).toBeInstanceOf(ConnectError);
      expect(Code[(stale.error as ConnectError).code]).toBe("OutOfRange");
      const ok = watch(c, { sessionId, fromRevision: 5n });
      await ok.until(() => ok.changes.length >= 50);
      ok.stop();
      expect(revisions(ok)).toEqual(range(6, 55));
    });

    it("fails like any call for unknown, deleted and system-owned sessions", async () => {
      await expectFailure(drain(c, { sessionId: newId() }), Code.NotFound, "SESSION_NOT_FOUND");
      const gone = await session();
      await c.sessions.deleteSession({ sessionId: gone });
      await expectFailure(drain(c, { sessionId: gone }), Code.NotFound, "SESSION_DELETED");
      const system = newId();
      await c.sessions.createSession({ sessionId: system, systemOwned: true });
      await expectFailure(drain(c, { sessionId: system }), Code.PermissionDenied, "SYSTEM_SESSION");
    });

    it("ends a watched session's streams with SESSION_DELETED when it is deleted", async () => {
      const sessionId = await session();
      const w = watch(c, { sessionId });
      const d = watch(c, { sessionId, scope: Scope.DEFAULT });
      await Promise.all([w.opened, d.opened]);
      await set(sessionId, "k", 1);
      await w.until(() => w.changes.length === 1);
      await c.sessions.deleteSession({ sessionId });
      await Promise.all([w.done, d.done]);
      for (const stream of [w, d]) {
        expect(stream.error).toBeInstanceOf(ConnectError);
        expect(Code[(stream.error as ConnectError).code]).toBe("NotFound");
      }
    });

    it("watches the default scope through any session", async () => {
      const sessionId = await session();
      const w = watch(c, { sessionId, scope: Scope.DEFAULT, includeSettings: true });
      await w.opened;
      const key = `d-${randomUUID()}`;
      const res = await c.settings.setSettings({ sessionId, scope: Scope.DEFAULT, update: { case: "entry", value: { key, value: num(1) } } });
      await c.settings.unsetSetting({ sessionId, scope: Scope.DEFAULT, key });
      await w.until(() => w.changes.length >= 2);
      w.stop();
      expect(revisions(w)).toEqual([Number(res.revision), Number(res.revision) + 1]);
      expect(w.changes[0]!.entry!.scope).toBe(Scope.DEFAULT);
      expect(w.changes[0]!.settings![key]).toBe(1);
      expect(w.changes[1]!.settings![key]).toBeUndefined();
    });

    it("sends heartbeats with the current revision on an idle stream", async () => {
      const sessionId = await session();
      await set(sessionId, "k", 1);
      const w = watch(c, { sessionId });
      await w.until(() => w.heartbeats >= 2, 5000);
      w.stop();
      expect(w.changes).toHaveLength(0);
      expect(w.lastHeartbeat).toMatchObject({ heartbeat: true, revision: 1n });
    });

    it("opens at once with created and the current revision, before any replay", async () => {
      const sessionId = await session();
      for (let i = 1; i <= 3; i++) await set(sessionId, "k", i);
      const w = watch(c, { sessionId, fromRevision: 1n });
      expect(await w.opened).toBe(3n);
      await w.until(() => w.changes.length === 2);
      w.stop();
      expect(w.first!.created).toBe(true);
      expect(revisions(w)).toEqual([2, 3]);
    });
  });
}

/** Two instances that share one store see each other's writes and events. */
export function twoInstancesSuite(label: string, start: StartServer): void {
  describe(`two server instances on ${label}`, () => {
    it("see each other's writes and events", async () => {
      const env = { REDIS_PREFIX: `two${randomUUID().slice(0, 8)}:` };
      const a = await start(env);
      const b = await start(env);
      try {
        const sessionId = newId();
        await a.clients("grpc").sessions.createSession({ sessionId });
        const onA = watch(a.clients("grpc"), { sessionId });
        const onB = watch(b.clients("connect-json"), { sessionId });
        await Promise.all([onA.opened, onB.opened]);
        await a.clients("grpc").settings.setSettings({ sessionId, update: { case: "entry", value: { key: "from", value: num(1) } } });
        await b.clients("grpc").settings.setSettings({ sessionId, update: { case: "entry", value: { key: "from", value: num(2) } } });
        await Promise.all([onA.until(() => onA.changes.length === 2), onB.until(() => onB.changes.length === 2)]);
        onA.stop();
        onB.stop();
        expect(revisions(onA)).toEqual([1, 2]);
        expect(revisions(onB)).toEqual([1, 2]);
        expect((await b.clients().settings.getSettings({ sessionId })).settings).toEqual({ from: 2 });
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
