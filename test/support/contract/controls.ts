// The contract of controls (SPEC §3) and of SPEC §4's order of checks.
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ApprovalPolicy, FilesystemSandbox, NetworkAccess, Scope } from "../../../gen/codexmanager/settings/v1/settings_pb.js";
import { expectFailure } from "../errors.js";
import { ALL_CONTROLS, num, type Contract } from "./fixture.js";

export function controlsContract({ c, id, session, settingsOf, entry, object }: Contract): void {
  describe("controls", () => {
    it("answers both tuples, each with its revision, and that defaults are editable", async () => {
      const sessionId = await session();
      const res = await c.settings.getControls({ sessionId });
      expect(res.session?.controls?.approvalPolicy).toBe(ApprovalPolicy.UNTRUSTED);
      expect(res.session?.controls?.networkAccess).toBe(NetworkAccess.RESTRICTED);
      expect(res.session?.controls?.filesystemSandbox).toBe(FilesystemSandbox.READ_ONLY);
      expect(res.session?.controls?.model).toBeUndefined();
      expect(res.session?.revision).toBe(0n);
      expect(res.defaults?.controls).toBeDefined();
      expect(res.defaultsEditable).toBe(true);
      expect(res.defaultLockReason).toBeUndefined();
    });

    it("applies all four controls, keeping settings when they are omitted", async () => {
      const sessionId = await session();
      await entry(sessionId, "keep", true);
      const res = await c.settings.applyControls({ sessionId, controls: { ...ALL_CONTROLS, model: "gpt-5" } });
      expect(res.changed).toBe(true);
      expect(res.summary).toBe("gpt-5 | on-request | enabled | workspace-write | settings:1");
      expect(res.applied?.settings).toEqual({ keep: true });
      const same = await c.settings.applyControls({ sessionId, controls: { ...ALL_CONTROLS, model: "gpt-5" } });
      expect(same.changed).toBe(false);
      expect(same.revision).toBe(res.revision);
      const inherit = await c.settings.applyControls({ sessionId, controls: ALL_CONTROLS });
      expect(inherit.summary).toBe("default | on-request | enabled | workspace-write | settings:1");
      expect(inherit.applied?.model).toBeUndefined();
    });

    it("replaces settings when controls.settings is present, even with {}", async () => {
      const sessionId = await session();
      await object(sessionId, { a: 1, b: 2 });
      const res = await c.settings.applyControls({ sessionId, controls: { ...ALL_CONTROLS, settings: { c: 3 } } });
      expect(res.applied?.settings).toEqual({ c: 3 });
      await c.settings.applyControls({ sessionId, controls: { ...ALL_CONTROLS, settings: {} } });
      expect((await settingsOf(sessionId)).settings).toEqual({});
    });

    it("refuses a missing control field or a blank model with INVALID_REQUEST", async () => {
      const sessionId = await session();
      const detail = await expectFailure(
        c.settings.applyControls({ sessionId, controls: { approvalPolicy: ApprovalPolicy.NEVER } }),
        Code.InvalidArgument,
        "INVALID_REQUEST",
      );
      expect(detail?.issues.map((i) => i.path).sort()).toEqual(["controls.filesystemSandbox", "controls.networkAccess"]);
      await expectFailure(c.settings.applyControls({ sessionId, controls: { ...ALL_CONTROLS, model: "  " } }), Code.InvalidArgument, "INVALID_REQUEST");
      await expectFailure(c.settings.applyControls({ sessionId }), Code.InvalidArgument, "INVALID_REQUEST");
      await expectFailure(c.settings.applyControls({ sessionId, controls: { ...ALL_CONTROLS, approvalPolicy: 99 as ApprovalPolicy } }), Code.InvalidArgument, "INVALID_REQUEST");
    });

    it("writes the default tuple through a session, which new sessions then copy", async () => {
      const owner = await session();
      const before = await c.settings.getControls({ sessionId: owner });
      const res = await c.settings.applyControls({
        sessionId: owner, scope: Scope.DEFAULT,
        controls: { model: "default-model", approvalPolicy: ApprovalPolicy.NEVER, networkAccess: NetworkAccess.RESTRICTED, filesystemSandbox: FilesystemSandbox.READ_ONLY },
      });
      expect(res.revision).toBe(before.defaults!.revision + 1n);
      const fresh = await c.sessions.createSession({ sessionId: id() });
      expect(fresh.controls?.controls?.model).toBe("default-model");
      expect(fresh.controls?.controls?.approvalPolicy).toBe(ApprovalPolicy.NEVER);
      const after = await c.settings.getControls({ sessionId: owner });
      expect(after.session?.controls?.model).toBeUndefined();
      expect(after.defaults?.controls?.model).toBe("default-model");
      // Restore, so other tests see the seed.
      await c.settings.applyControls({
        sessionId: owner, scope: Scope.DEFAULT,
        controls: { approvalPolicy: ApprovalPolicy.UNTRUSTED, networkAccess: NetworkAccess.RESTRICTED, filesystemSandbox: FilesystemSandbox.READ_ONLY },
      });
    });
  });

  describe("order of checks (SPEC §4)", () => {
    const badEntry = (sessionId: string, extra: Record<string, unknown> = {}) =>
      c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: " ", value: num(1) } }, ...extra });

    it("checks a malformed identifier before anything else", async () => {
      await expectFailure(badEntry("no spaces allowed"), Code.InvalidArgument, "INVALID_REQUEST");
      await expectFailure(c.settings.getSettings({ sessionId: await session(), scope: 7 as Scope }), Code.InvalidArgument, "INVALID_REQUEST");
    });

    it("reports the session's state before a bad payload", async () => {
      await expectFailure(badEntry(id()), Code.NotFound, "SESSION_NOT_FOUND");
      await expectFailure(badEntry(id(), { scope: Scope.DEFAULT }), Code.NotFound, "SESSION_NOT_FOUND");
      const deleted = await session();
      await c.sessions.deleteSession({ sessionId: deleted });
      await expectFailure(badEntry(deleted), Code.NotFound, "SESSION_DELETED");
      const system = id();
      await c.sessions.createSession({ sessionId: system, systemOwned: true });
      await expectFailure(badEntry(system), Code.PermissionDenied, "SYSTEM_SESSION");
    });

    it("reports a bad payload before a revision mismatch", async () => {
      const sessionId = await session();
      await expectFailure(badEntry(sessionId, { ifRevision: 42n }), Code.InvalidArgument, "INVALID_REQUEST");
      await expectFailure(
        c.settings.setSettings({ sessionId, update: { case: undefined } }),
        Code.InvalidArgument,
        "INVALID_REQUEST",
      );
    });
  });
}
