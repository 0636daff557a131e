// The contract of sessions (SPEC §2-§3): create, get, delete and its
// tombstone, system-owned sessions, pages of the active ones.
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ApprovalPolicy, NetworkAccess, Scope } from "../../../gen/codexmanager/settings/v1/settings_pb.js";
import { SessionState } from "../../../gen/codexmanager/settings/v1/session_pb.js";
import { expectFailure } from "../errors.js";
import { toValue, type Contract } from "./fixture.js";

export function sessionsContract({ c, id, session, settingsOf, entry }: Contract): void {
  describe("sessions", () => {
    it("creates a session with a generated UUID when no id is given, and gets it", async () => {
      const res = await c.sessions.createSession({ cwd: "/repo" });
      expect(res.session?.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      const got = await c.sessions.getSession({ sessionId: res.session!.sessionId });
      expect(got.session?.cwd).toBe("/repo");
      expect(got.session?.state).toBe(SessionState.ACTIVE);
      expect(got.session?.systemOwned).toBe(false);
      expect(got.controls?.revision).toBe(0n);
    });

    it("refuses a malformed session id with INVALID_REQUEST", async () => {
      await expectFailure(c.sessions.createSession({ sessionId: "bad id/" }), Code.InvalidArgument, "INVALID_REQUEST");
      await expectFailure(c.settings.getSettings({ sessionId: "x".repeat(129) }), Code.InvalidArgument, "INVALID_REQUEST");
      await expectFailure(c.settings.getSettings({ sessionId: "" }), Code.InvalidArgument, "INVALID_REQUEST");
    });

    it("accepts every allowed id character up to 128 characters", async () => {
      const sessionId = `A-z_0.9:${"x".repeat(120)}`;
      await c.sessions.createSession({ sessionId });
      expect((await c.sessions.getSession({ sessionId })).session?.sessionId).toBe(sessionId);
    });

    it("refuses to create an existing session with SESSION_EXISTS", async () => {
      const sessionId = await session();
      await expectFailure(c.sessions.createSession({ sessionId }), Code.AlreadyExists, "SESSION_EXISTS");
    });

    it("copies the default tuple into a new session, and create-time controls override it", async () => {
      const owner = await session();
      const key = `copied-${randomUUID()}`;
      await c.settings.setSettings({ sessionId: owner, scope: Scope.DEFAULT, update: { case: "entry", value: { key, value: toValue({ a: 1 }) } } });
      const plain = await session();
      const plainSettings = (await settingsOf(plain)).settings!;
      expect(plainSettings[key]).toEqual({ a: 1 });

      const res = await c.sessions.createSession({ sessionId: id(), model: "gpt-x", networkAccess: NetworkAccess.ENABLED });
      expect(res.controls?.controls?.model).toBe("gpt-x");
      expect(res.controls?.controls?.networkAccess).toBe(NetworkAccess.ENABLED);
      expect(res.controls?.controls?.approvalPolicy).toBe(ApprovalPolicy.UNTRUSTED);
      expect(res.controls?.controls?.settings?.[key]).toEqual({ a: 1 });

      // Later default writes do not reach existing sessions.
      await c.settings.unsetSetting({ sessionId: owner, scope: Scope.DEFAULT, key });
      expect((await settingsOf(plain)).settings![key]).toEqual({ a: 1 });
    });

    it("deletes a session, leaving a tombstone that every later call reports as SESSION_DELETED", async () => {
      const sessionId = await session();
      await entry(sessionId, "k", 1);
      const del = await c.sessions.deleteSession({ sessionId });
      expect(del.deletedAt).toBeDefined();
      const detail = await expectFailure(c.sessions.getSession({ sessionId }), Code.NotFound, "SESSION_DELETED");
      expect(detail?.sessionId).toBe(sessionId);
      expect(detail?.deletedAt).toBeDefined();
      await expectFailure(settingsOf(sessionId), Code.NotFound, "SESSION_DELETED");
      await expectFailure(entry(sessionId, "k", 2), Code.NotFound, "SESSION_DELETED");
      await expectFailure(c.settings.unsetSetting({ sessionId, key: "k" }), Code.NotFound, "SESSION_DELETED");
      await expectFailure(c.settings.getControls({ sessionId }), Code.NotFound, "SESSION_DELETED");
      await expectFailure(c.settings.listHistory({ sessionId }), Code.NotFound, "SESSION_DELETED");
      await expectFailure(c.sessions.deleteSession({ sessionId }), Code.NotFound, "SESSION_DELETED");
      await expectFailure(c.sessions.createSession({ sessionId }), Code.NotFound, "SESSION_DELETED");
    });

    it("tells an unknown session (SESSION_NOT_FOUND) from a deleted one", async () => {
      const sessionId = id();
      await expectFailure(c.sessions.getSession({ sessionId }), Code.NotFound, "SESSION_NOT_FOUND");
      await expectFailure(settingsOf(sessionId), Code.NotFound, "SESSION_NOT_FOUND");
      await expectFailure(entry(sessionId, "k", 1), Code.NotFound, "SESSION_NOT_FOUND");
      await expectFailure(c.sessions.deleteSession({ sessionId }), Code.NotFound, "SESSION_NOT_FOUND");
    });

    it("refuses every call naming a system-owned session with SYSTEM_SESSION", async () => {
      const sessionId = id();
      const res = await c.sessions.createSession({ sessionId, systemOwned: true });
      expect(res.session?.systemOwned).toBe(true);
      await expectFailure(c.sessions.getSession({ sessionId }), Code.PermissionDenied, "SYSTEM_SESSION");
      await expectFailure(settingsOf(sessionId), Code.PermissionDenied, "SYSTEM_SESSION");
      await expectFailure(settingsOf(sessionId, Scope.DEFAULT), Code.PermissionDenied, "SYSTEM_SESSION");
      await expectFailure(entry(sessionId, "k", 1), Code.PermissionDenied, "SYSTEM_SESSION");
      await expectFailure(c.settings.getControls({ sessionId }), Code.PermissionDenied, "SYSTEM_SESSION");
      await expectFailure(c.sessions.deleteSession({ sessionId }), Code.PermissionDenied, "SYSTEM_SESSION");
      await expectFailure(c.sessions.createSession({ sessionId }), Code.PermissionDenied, "SYSTEM_SESSION");
    });

    it("lists active user sessions in pages, without deleted or system-owned ones", async () => {
      const mine = [await session(), await session(), await session(), await session(), await session()];
      const system = id();
      await c.sessions.createSession({ sessionId: system, systemOwned: true });
      await c.sessions.deleteSession({ sessionId: mine[4]! });
      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await c.sessions.listSessions({ pageSize: 2, pageToken });
        expect(page.sessions.length).toBeLessThanOrEqual(2);
        seen.push(...page.sessions.map((s) => s.sessionId));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(seen).toEqual([...seen].sort());
      expect(new Set(seen).size).toBe(seen.length);
      for (const s of mine.slice(0, 4)) expect(seen).toContain(s);
      expect(seen).not.toContain(mine[4]);
      expect(seen).not.toContain(system);
    });
  });
}
