// The TypeScript SDK against a live server over each Node transport.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSettingsSdk, SettingsError, type SettingsChange, type SettingsSdk } from "../src/client/index.js";
import { makeTransport, startTestServer, type TestServer, type TransportName } from "./support/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ backend: "sqlite" });
});
afterAll(async () => {
  await server?.close();
});

describe.each(["grpc", "connect-json", "grpc-web"] as TransportName[])("SDK over %s", (transport) => {
  let sdk: SettingsSdk;
  beforeAll(() => {
    sdk = createSettingsSdk(makeTransport(server.url, transport));
  });

  it("registers schemas, and answers a refused write with typed issues and a refused registration with its violations", async () => {
    const key = `typed-${randomUUID().slice(0, 8)}`;
    const { session } = await sdk.sessions.create();
    const chat = sdk.session(session.sessionId);
    await chat.settings.set(key, { threshold: 500 });
    const schema = { type: "object", properties: { threshold: { type: "integer", maximum: 100, description: "lines" } } };
    const refused = await sdk.schemas.put(key, schema).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SettingsError);
    expect((refused as SettingsError).reason).toBe("SCHEMA_VIOLATED");
    expect((refused as SettingsError).violations).toEqual({
      key, count: 1,
      first: [{ sessionId: session.sessionId, scope: "session", issues: [{ path: `${key}.threshold`, segments: [key, "threshold"], message: "must be <= 100", code: "custom", keyword: "maximum", pointer: `/${key}/threshold` }] }],
    });
    const put = await sdk.schemas.put(key, schema, { force: true, actor: "sdk", source: "test" });
    expect(put).toMatchObject({ key, changed: true, violations: 1 });
    expect(await sdk.schemas.get(key)).toMatchObject({ key, revision: put.revision, schema, actor: "sdk", history: [{ op: "put", forced: true, violations: 1 }] });
    expect((await sdk.schemas.list()).map((s) => s.key)).toContain(key);
    expect((await sdk.schemas.violations(key)).count).toBe(1);
    const write = await chat.settings.namespace([key, "threshold"]).set(101).catch((e: unknown) => e);
    expect((write as SettingsError).issues).toEqual([
      { path: `${key}.threshold`, segments: [key, "threshold"], message: "must be <= 100", code: "custom", keyword: "maximum", pointer: `/${key}/threshold` },
    ]);
    await chat.settings.set(key, { threshold: 100 });
    expect((await sdk.schemas.violations(key)).count).toBe(0);
    expect(await sdk.schemas.delete(key)).toMatchObject({ key, changed: true });
    expect(((await sdk.schemas.get(key).catch((e: unknown) => e)) as SettingsError).reason).toBe("SCHEMA_NOT_FOUND");
  });

  it("mirrors the Python surface: settings, namespaces and controls", async () => {
    const { session } = await sdk.sessions.create({ cwd: "/w", networkAccess: "enabled" });
    const chat = sdk.session(session.sessionId);
    await chat.settings.set("team", { definitionOfDone: "green" }, { source: "sdk" });
    const review = chat.settings.namespace("team.review");
    await review.merge({ autoApprove: { enabled: true } });
    await review.merge({ autoApprove: { threshold: "low" } });
    expect(await review.get()).toEqual({ autoApprove: { enabled: true, threshold: "low" } });
    expect((await chat.settings.getKey("team")).value).toEqual({ definitionOfDone: "green", review: { autoApprove: { enabled: true, threshold: "low" } } });
    await chat.settings.namespace("team.review.autoApprove.enabled").unset();
    expect(await review.get()).toEqual({ autoApprove: { threshold: "low" } });
    // Segments reach keys with dots; history reports them as written.
    await chat.settings.namespace(["team", "v1.2"]).set({ on: true });
    expect(await chat.settings.namespace(["team", "v1.2", "on"]).get()).toBe(true);
    const [latest] = (await chat.settings.history({ limit: 1 })).entries;
    expect(latest!.path).toEqual({ segments: ["team", "v1.2"], op: "set" });
    await chat.settings.namespace(["team", "v1.2"]).unset();
    await chat.settings.set("n", null);
    expect(await chat.settings.getKey("n")).toMatchObject({ found: true, value: null });
    await chat.settings.merge({ x: 1 });
    await chat.settings.replace({ y: 2 });
    expect((await chat.settings.get()).settings).toEqual({ y: 2 });
    expect((await chat.settings.unset("y")).removed).toBe(true);

    const applied = await chat.controls.apply({ model: null, approvalPolicy: "never", networkAccess: "restricted", filesystemSandbox: "read-only" });
    expect(applied.summary).toBe("default | never | restricted | read-only | settings:0");
    const controls = await chat.controls.get();
    expect(controls.session).toMatchObject({ model: null, approvalPolicy: "never", settings: {} });
    expect(controls.defaultsEditable).toBe(true);
    expect((await chat.settings.history({ limit: 2 })).entries.map((e) => e.op)).toEqual(["controls", "unset"]);
  });

  it("exposes the error reason", async () => {
    const { session } = await sdk.sessions.create();
    await sdk.sessions.delete(session.sessionId);
    const err = await sdk.session(session.sessionId).settings.get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SettingsError);
    expect((err as SettingsError).reason).toBe("SESSION_DELETED");
    const missing = await sdk.session(`nope-${randomUUID()}`).controls.get().catch((e: unknown) => e);
    expect((missing as SettingsError).reason).toBe("SESSION_NOT_FOUND");
  });

  it("watches changes as an async iterator, saying first when the watch is established", async () => {
    const { session } = await sdk.sessions.create();
    const chat = sdk.session(session.sessionId);
    await chat.settings.set("a", 1);
    const stop = new AbortController();
    const seen: (SettingsChange | { created: bigint })[] = [];
    let established!: () => void;
    const created = new Promise<void>((r) => (established = r));
    const watching = (async () => {
      const onCreated = ({ revision }: { revision: bigint }) => {
        seen.push({ created: revision });
        established();
      };
      for await (const change of chat.settings.watch({ fromRevision: 0n, includeSettings: true, signal: stop.signal, onCreated })) {
        seen.push(change);
        if (seen.length === 3) stop.abort();
      }
    })();
    // Once created has arrived, a write cannot be missed: no sleep needed.
    await created;
    await chat.settings.set("b", 2, { actor: "watcher-test" });
    await watching;
    // created comes before the replay, at the revision current when the watch opened.
    expect(seen.map((c) => ("created" in c ? `created@${c.created}` : c.revision))).toEqual(["created@1", 1n, 2n]);
    expect(seen[2]).toMatchObject({ op: "set", actor: "watcher-test", settings: { a: 1, b: 2 }, changes: [{ kind: "setting", key: "b", after: 2 }] });
  });

  it("sees every change made after created, without fromRevision", async () => {
    const { session } = await sdk.sessions.create();
    const chat = sdk.session(session.sessionId);
    await chat.settings.set("before", 1);
    const stop = new AbortController();
    let established!: (revision: bigint) => void;
    const created = new Promise<bigint>((r) => (established = r));
    const changes = chat.settings.watch({ signal: stop.signal, onCreated: ({ revision }) => established(revision) });
    const first = changes.next();
    expect(await created).toBe(1n);
    await chat.settings.set("after", 2);
    const { value } = await first;
    stop.abort();
    expect(value).toMatchObject({ revision: 2n, changes: [{ key: "after", after: 2 }] });
  });

  it("tags each write with a request id, a fresh one per write unless given, and reports replays", async () => {
    const { session } = await sdk.sessions.create();
    const chat = sdk.session(session.sessionId);
    const a = await chat.settings.set("k", 1);
    const b = await chat.settings.set("k", 2);
    expect(a.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b.requestId).not.toBe(a.requestId);
    expect([a.replayed, b.replayed]).toEqual([false, false]);
    // The same id again: the service answers the first result and applies nothing.
    const requestId = `mine-${randomUUID()}`;
    const first = await chat.settings.namespace("team.review").merge({ owner: "ana" }, { requestId });
    const again = await chat.settings.namespace("team.review").merge({ owner: "ana" }, { requestId });
    expect(first).toMatchObject({ requestId, replayed: false, changed: true, revision: 3n });
    expect(again).toMatchObject({ requestId, replayed: true, changed: true, revision: 3n });
    const applied = await chat.controls.apply({ model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "read-only" }, { requestId: `${requestId}-c` });
    expect((await chat.controls.apply({ model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "read-only" }, { requestId: `${requestId}-c` })).replayed).toBe(true);
    expect(applied).toMatchObject({ replayed: false, revision: 4n });
    expect((await chat.settings.unset("k", { requestId: `${requestId}-u` })).removed).toBe(true);
    expect(await chat.settings.unset("k", { requestId: `${requestId}-u` })).toMatchObject({ removed: true, replayed: true, revision: 5n });
    expect((await chat.settings.history({ limit: 10 })).entries.map((e) => e.revision)).toEqual([5n, 4n, 3n, 2n, 1n]);
    // An id reused for a different write is refused, and not retried.
    const reused = await chat.settings.set("other", 1, { requestId }).catch((e: unknown) => e);
    expect(reused).toMatchObject({ reason: "INVALID_REQUEST", requestId });
  });
});
