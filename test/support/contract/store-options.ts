// The contract under the store's options: locked defaults
// (SESSION_DEFAULTS_LOCKED) and small map limits (MAX_SETTINGS_KEYS,
// MAX_SETTINGS_BYTES), each on a server of its own.
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scope } from "../../../gen/codexmanager/settings/v1/settings_pb.js";
import { expectFailure } from "../errors.js";
import type { Clients, TestServer } from "../server.js";
import { ALL_CONTROLS, num, str, type StartServer } from "./fixture.js";

export function storeOptionsContract(label: string, start: StartServer): void {
  describe(`locked defaults on ${label}`, () => {
    let server: TestServer;
    let c: Clients;
    beforeAll(async () => {
      server = await start({ SESSION_DEFAULTS_LOCKED: "true" });
      c = server.clients("grpc");
    });
    afterAll(async () => {
      await server?.close();
    });

    it("refuses all three default-scope writes with DEFAULTS_LOCKED, while reads and session writes work", async () => {
      const sessionId = `s-${randomUUID()}`;
      await c.sessions.createSession({ sessionId });
      const scope = Scope.DEFAULT;
      await expectFailure(
        c.settings.setSettings({ sessionId, scope, update: { case: "entry", value: { key: "k", value: num(1) } } }),
        Code.FailedPrecondition,
        "DEFAULTS_LOCKED",
      );
      await expectFailure(c.settings.unsetSetting({ sessionId, scope, key: "k" }), Code.FailedPrecondition, "DEFAULTS_LOCKED");
      await expectFailure(c.settings.applyControls({ sessionId, scope, controls: ALL_CONTROLS }), Code.FailedPrecondition, "DEFAULTS_LOCKED");
      // The lock comes before the revision check.
      await expectFailure(c.settings.unsetSetting({ sessionId, scope, key: "k", ifRevision: 99n }), Code.FailedPrecondition, "DEFAULTS_LOCKED");
      expect((await c.settings.getSettings({ sessionId, scope })).settings).toEqual({});
      const controls = await c.settings.getControls({ sessionId });
      expect(controls.defaultsEditable).toBe(false);
      expect(controls.defaultLockReason).toBe("Managed by harness configuration");
      const ok = await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "k", value: num(1) } } });
      expect(ok.changed).toBe(true);
      await c.settings.applyControls({ sessionId, controls: ALL_CONTROLS });
    });

    it("answers SESSION_DELETED, not DEFAULTS_LOCKED, for a deleted session", async () => {
      const sessionId = `s-${randomUUID()}`;
      await c.sessions.createSession({ sessionId });
      await c.sessions.deleteSession({ sessionId });
      await expectFailure(
        c.settings.setSettings({ sessionId, scope: Scope.DEFAULT, update: { case: "entry", value: { key: "k", value: num(1) } } }),
        Code.NotFound,
        "SESSION_DELETED",
      );
      await expectFailure(c.settings.applyControls({ sessionId, scope: Scope.DEFAULT, controls: ALL_CONTROLS }), Code.NotFound, "SESSION_DELETED");
    });
  });

  describe(`map size limits on ${label}`, () => {
    let server: TestServer;
    let c: Clients;
    beforeAll(async () => {
      server = await start({ MAX_SETTINGS_KEYS: "10", MAX_SETTINGS_BYTES: "2048" });
      c = server.clients("connect-json");
    });
    afterAll(async () => {
      await server?.close();
    });

    it("refuses a write past the key count with PAYLOAD_TOO_LARGE, changing nothing", async () => {
      const sessionId = `s-${randomUUID()}`;
      await c.sessions.createSession({ sessionId });
      const ten = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i]));
      await c.settings.setSettings({ sessionId, update: { case: "object", value: { settings: ten } } });
      const detail = await expectFailure(
        c.settings.setSettings({ sessionId, update: { case: "object", value: { settings: { k0: 100, extra: 1 } } } }),
        Code.ResourceExhausted,
        "PAYLOAD_TOO_LARGE",
      );
      expect(detail?.limit).toBe(10n);
      const now = await c.settings.getSettings({ sessionId });
      expect(now.settings).toEqual(ten);
      expect(now.revision).toBe(1n);
      // Overwriting an existing key is still fine at the limit.
      await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "k0", value: num(5) } } });
    });

    it("refuses a write past the serialized size with PAYLOAD_TOO_LARGE", async () => {
      const sessionId = `s-${randomUUID()}`;
      await c.sessions.createSession({ sessionId });
      await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "a", value: str("x".repeat(1500)) } } });
      await expectFailure(
        c.settings.setSettings({ sessionId, update: { case: "path", value: { path: "b.c", value: str("y".repeat(600)) } } }),
        Code.ResourceExhausted,
        "PAYLOAD_TOO_LARGE",
      );
      // Shrinking is always allowed.
      await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "a", value: str("small") } } });
      await c.settings.setSettings({ sessionId, update: { case: "path", value: { path: "b.c", value: str("y".repeat(600)) } } });
    });
  });
}
