// SPEC §4's limits on a request, and no update lost among concurrent writers.
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { PathOp } from "../../../gen/codexmanager/settings/v1/settings_pb.js";
import { expectFailure } from "../errors.js";
import type { Contract } from "./fixture.js";

export function limitsContract({ c, session, settingsOf, entry, path, object }: Contract): void {
  describe("limits (SPEC §4)", () => {
    it("allows keys of 1-240 characters and refuses longer, blank or control-character keys", async () => {
      const sessionId = await session();
      await entry(sessionId, "k".repeat(240), 1);
      await entry(sessionId, "😀".repeat(240), 1);
      for (const key of ["k".repeat(241), "", "   ", "a\u0000b", "tab\tkey", "del\u007f"]) {
        await expectFailure(entry(sessionId, key, 1), Code.InvalidArgument, "INVALID_REQUEST");
        await expectFailure(object(sessionId, { [key]: 1 }), Code.InvalidArgument, "INVALID_REQUEST");
      }
      await expectFailure(c.settings.unsetSetting({ sessionId, key: "k".repeat(241) }), Code.InvalidArgument, "INVALID_REQUEST");
    });

    it("limits actor to 120 and source to 64 characters", async () => {
      const sessionId = await session();
      await entry(sessionId, "a", 1, { actor: "a".repeat(120), source: "s".repeat(64) });
      await expectFailure(entry(sessionId, "a", 2, { actor: "a".repeat(121) }), Code.InvalidArgument, "INVALID_REQUEST");
      await expectFailure(entry(sessionId, "a", 2, { source: "s".repeat(65) }), Code.InvalidArgument, "INVALID_REQUEST");
      await expectFailure(entry(sessionId, "a", 2, { actor: "   " }), Code.InvalidArgument, "INVALID_REQUEST");
    });

    it("allows nesting up to 32 levels and refuses deeper", async () => {
      const sessionId = await session();
      const nest = (n: number): unknown => (n === 0 ? 1 : { d: nest(n - 1) });
      await entry(sessionId, "deep", nest(32));
      await expectFailure(entry(sessionId, "deep", nest(33)), Code.InvalidArgument, "INVALID_REQUEST");
      await expectFailure(path(sessionId, "p.a.b", PathOp.SET, nest(31)), Code.InvalidArgument, "INVALID_REQUEST");
      await path(sessionId, "p.a.b", PathOp.SET, nest(30));
    });

    it("refuses a request body over 1 MiB with PAYLOAD_TOO_LARGE naming the limit", async () => {
      const sessionId = await session();
      const detail = await expectFailure(entry(sessionId, "big", "x".repeat(1024 * 1024 + 10)), Code.ResourceExhausted, "PAYLOAD_TOO_LARGE");
      expect(detail?.limit).toBe(BigInt(1024 * 1024));
    });
  });

  describe("concurrency", () => {
    it("loses no update among 50 writers of sibling nested paths and 50 of distinct keys", async () => {
      const sessionId = await session();
      const writers = Array.from({ length: 50 }, (_, i) => [
        path(sessionId, `team.members.m${i}`, PathOp.SET, { i }),
        path(sessionId, `team.counts`, PathOp.MERGE, { [`c${i}`]: i }),
        entry(sessionId, `key${i}`, i),
      ]).flat();
      const results = await Promise.all(writers);
      const revisions = results.map((r) => r.revision).sort((a, b) => (a < b ? -1 : 1));
      expect(new Set(revisions).size).toBe(150);
      expect(revisions[149]).toBe(150n);
      const { settings, revision } = await settingsOf(sessionId);
      expect(revision).toBe(150n);
      const team = settings!.team as any;
      for (let i = 0; i < 50; i++) {
        expect(team.members[`m${i}`]).toEqual({ i });
        expect(team.counts[`c${i}`]).toBe(i);
        expect(settings![`key${i}`]).toBe(i);
      }
    });
  });
}
