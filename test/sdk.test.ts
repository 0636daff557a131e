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

  it("watches changes as an async iterator", async () => {
    const { session } = await sdk.sessions.create();
    const chat = sdk.session(session.sessionId);
    await chat.settings.set("a", 1);
    const stop = new AbortController();
    const seen: SettingsChange[] = [];
    const watching = (async () => {
      for await (const change of chat.settings.watch({ fromRevision: 0n, includeSettings: true, signal: stop.signal })) {
        seen.push(change);
        if (seen.length === 2) stop.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    await chat.settings.set("b", 2, { actor: "watcher-test" });
    await watching;
    expect(seen.map((c) => c.revision)).toEqual([1n, 2n]);
    expect(seen[1]).toMatchObject({ op: "set", actor: "watcher-test", settings: { a: 1, b: 2 }, changes: [{ kind: "setting", key: "b", after: 2 }] });
  });
});
