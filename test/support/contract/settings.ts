// The contract of settings (SPEC §3): the three update forms (map, entry,
// path or segments), unset, request ids, "unchanged", compare-and-set and
// the history.
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ChangeKind, Mode, PathOp } from "../../../gen/codexmanager/settings/v1/settings_pb.js";
import { expectFailure } from "../errors.js";
import { ALL_CONTROLS, fromValue, toValue, type Contract } from "./fixture.js";

export function settingsContract({ c, id, session, settingsOf, entry, segments, path, object }: Contract): void {
  describe("settings", () => {
    it("answers an empty map at revision 0 for a new session", async () => {
      const sessionId = await session();
      const res = await settingsOf(sessionId);
      expect(res.settings).toEqual({});
      expect(res.revision).toBe(0n);
    });

    it("merges shallowly by default", async () => {
      const sessionId = await session();
      await object(sessionId, { a: 1, b: { x: 1 } });
      const res = await object(sessionId, { b: { y: 2 }, c: "three" }, Mode.UNSPECIFIED);
      expect(res.changed).toBe(true);
      expect(res.revision).toBe(2n);
      expect((await settingsOf(sessionId)).settings).toEqual({ a: 1, b: { y: 2 }, c: "three" });
    });

    it("replaces the map exactly, and replace with {} clears it", async () => {
      const sessionId = await session();
      await object(sessionId, { a: 1, b: 2 });
      await object(sessionId, { b: 3, c: [1, 2] }, Mode.REPLACE);
      expect((await settingsOf(sessionId)).settings).toEqual({ b: 3, c: [1, 2] });
      const cleared = await object(sessionId, {}, Mode.REPLACE);
      expect(cleared.changed).toBe(true);
      expect((await settingsOf(sessionId)).settings).toEqual({});
    });

    it("sets one entry; a null value is stored as null, not deleted", async () => {
      const sessionId = await session();
      const res = await entry(sessionId, "n", null);
      expect(res.changed).toBe(true);
      expect(res.key).toBe("n");
      expect(fromValue(res.value)).toBeNull();
      const got = await c.settings.getSettings({ sessionId, key: "n" });
      expect(got.found).toBe(true);
      expect(fromValue(got.value)).toBeNull();
      expect(got.revision).toBe(1n);
    });

    it("answers found=false and a null value for a missing key", async () => {
      const sessionId = await session();
      const got = await c.settings.getSettings({ sessionId, key: "missing" });
      expect(got.found).toBe(false);
      expect(fromValue(got.value)).toBeNull();
    });

    it("keeps every JSON type and odd keys exactly", async () => {
      const sessionId = await session();
      const value = { s: "é ☃ 😀 \"q\" \\ \n\t\u0001", n: [0, -1, 0.1, 1e-7, 1e21, 123456789.123, 2 ** 53 - 1], b: [true, false], z: null, e: {}, a: [], nested: { "__proto__": { x: 1 }, constructor: 1 } };
      await entry(sessionId, "all", value);
      await entry(sessionId, "dots.and spaces/?#%", 1);
      await entry(sessionId, "ключ", 2);
      const got = (await settingsOf(sessionId)).settings!;
      expect(got.all).toEqual(value);
      expect(got["dots.and spaces/?#%"]).toBe(1);
      expect(got["ключ"]).toBe(2);
      expect(Object.getPrototypeOf((got.all as any).nested)).toBe(Object.prototype);
    });

    it("trims keys", async () => {
      const sessionId = await session();
      await entry(sessionId, "  padded  ", 1);
      expect((await settingsOf(sessionId)).settings).toEqual({ padded: 1 });
    });

    it("writes a nested path, creating intermediates and replacing non-object ones", async () => {
      const sessionId = await session();
      const res = await path(sessionId, "team.review.owner", PathOp.UNSPECIFIED, "ana");
      expect(res.key).toBe("team");
      expect(fromValue(res.value)).toEqual({ review: { owner: "ana" } });
      await entry(sessionId, "scalar", 5);
      await path(sessionId, "scalar.inner", PathOp.SET, true);
      await path(sessionId, "team.review.list", PathOp.SET, [1]);
      await path(sessionId, "team.review.list.x", PathOp.SET, 1);
      expect((await settingsOf(sessionId)).settings).toEqual({
        team: { review: { owner: "ana", list: { x: 1 } } },
        scalar: { inner: true },
      });
    });

    it("deep-merges an object at a path, replacing arrays", async () => {
      const sessionId = await session();
      await path(sessionId, "team.review", PathOp.SET, { a: { x: 1, y: [1, 2] }, keep: true });
      await path(sessionId, "team.review", PathOp.MERGE, { a: { y: [3], z: null }, b: 2 });
      expect((await settingsOf(sessionId)).settings!.team).toEqual({
        review: { a: { x: 1, y: [3], z: null }, keep: true, b: 2 },
      });
      await expectFailure(path(sessionId, "team.review", PathOp.MERGE, [1]), Code.InvalidArgument, "INVALID_REQUEST");
    });

    it("unsets a nested leaf and reports removed", async () => {
      const sessionId = await session();
      await path(sessionId, "team.review.a", PathOp.SET, 1);
      await path(sessionId, "team.review.b", PathOp.SET, 2);
      const first = await path(sessionId, "team.review.a", PathOp.UNSET);
      expect(first.removed).toBe(true);
      expect(first.changed).toBe(true);
      const again = await path(sessionId, "team.review.a", PathOp.UNSET);
      expect(again.removed).toBe(false);
      expect(again.changed).toBe(false);
      expect(again.revision).toBe(first.revision);
      const through = await path(sessionId, "team.review.b.deeper", PathOp.UNSET);
      expect(through.removed).toBe(false);
      expect((await settingsOf(sessionId)).settings).toEqual({ team: { review: { b: 2 } } });
      const top = await path(sessionId, "team", PathOp.UNSET);
      expect(top.removed).toBe(true);
      expect((await settingsOf(sessionId)).settings).toEqual({});
    });

    it("reaches keys with dots through segments: writes, merges and unsets land on the exact key", async () => {
      const sessionId = await session();
      await entry(sessionId, "a.b", { keep: 1 });
      const written = await segments(sessionId, ["a.b", "c"], PathOp.SET, 2);
      expect(written.key).toBe("a.b");
      expect(fromValue(written.value)).toEqual({ keep: 1, c: 2 });
      await segments(sessionId, ["team", "v1.2"], PathOp.SET, { on: true });
      await segments(sessionId, ["team", "v1.2"], PathOp.MERGE, { level: "high" });
      await segments(sessionId, ["team", "v1.2", "x.y"], PathOp.SET, "z");
      expect((await settingsOf(sessionId)).settings).toEqual({
        "a.b": { keep: 1, c: 2 },
        team: { "v1.2": { on: true, level: "high", "x.y": "z" } },
      });
      const gone = await segments(sessionId, ["team", "v1.2", "x.y"], PathOp.UNSET);
      expect(gone.removed).toBe(true);
      const top = await segments(sessionId, ["a.b"], PathOp.UNSET);
      expect(top.removed).toBe(true);
      expect((await settingsOf(sessionId)).settings).toEqual({ team: { "v1.2": { on: true, level: "high" } } });
      // History tells ["a.b"] from ["a", "b"].
      const [latest, previous] = (await c.settings.listHistory({ sessionId })).entries;
      expect(latest!.path?.segments).toEqual(["a.b"]);
      expect(latest!.path?.op).toBe(PathOp.UNSET);
      expect(previous!.path?.segments).toEqual(["team", "v1.2", "x.y"]);
    });

    it("still takes the dotted path as sugar for keys without dots", async () => {
      const sessionId = await session();
      await path(sessionId, "team.review", PathOp.SET, 1);
      const [latest] = (await c.settings.listHistory({ sessionId })).entries;
      expect(latest!.path?.segments).toEqual(["team", "review"]);
      expect((await settingsOf(sessionId)).settings).toEqual({ team: { review: 1 } });
    });

    it("refuses bad segments, and both a path and segments, writing nothing", async () => {
      const sessionId = await session();
      await entry(sessionId, "k", 1);
      const bad: [string, () => Promise<unknown>][] = [
        ["an empty segment", () => segments(sessionId, ["team", ""], PathOp.SET, 1)],
        ["a blank segment", () => segments(sessionId, ["team", "  "], PathOp.SET, 1)],
        ["a control character", () => segments(sessionId, ["team", "a\u0007"], PathOp.SET, 1)],
        ["a segment over the key length", () => segments(sessionId, ["team", "x".repeat(241)], PathOp.SET, 1)],
        ["more segments than the depth limit", () => segments(sessionId, Array.from({ length: 33 }, (_, i) => `s${i}`), PathOp.SET, 1)],
        ["both path and segments", () =>
          c.settings.setSettings({ sessionId, update: { case: "path", value: { path: "team.x", segments: ["team", "x"], value: toValue(1) } } })],
        ["neither path nor segments", () => c.settings.setSettings({ sessionId, update: { case: "path", value: { value: toValue(1) } } })],
      ];
      for (const [what, call] of bad) {
        const detail = await expectFailure(call(), Code.InvalidArgument, "INVALID_REQUEST");
        expect(detail?.issues.length, what).toBeGreaterThan(0);
      }
      const after = await settingsOf(sessionId);
      expect(after.settings).toEqual({ k: 1 });
      expect(after.revision).toBe(1n);
      // 32 segments is exactly the depth limit.
      await segments(sessionId, Array.from({ length: 32 }, (_, i) => `s${i}`), PathOp.SET, 1);
    });

    it("answers a retried request id with the first result and applies nothing twice", async () => {
      const sessionId = await session();
      const first = await entry(sessionId, "k", 1, { requestId: "retry-1" });
      expect(first).toMatchObject({ changed: true, revision: 1n, replayed: false });
      await entry(sessionId, "other", 2);
      const again = await entry(sessionId, "k", 1, { requestId: "retry-1" });
      expect(again).toMatchObject({ changed: true, revision: 1n, replayed: true });
      expect((await settingsOf(sessionId)).revision).toBe(2n);
      // Unset and controls remember their ids the same way.
      const unset = await c.settings.unsetSetting({ sessionId, key: "other", requestId: "retry-2" });
      expect((await c.settings.unsetSetting({ sessionId, key: "other", requestId: "retry-2" })).replayed).toBe(true);
      expect(unset.removed).toBe(true);
      const controls = { controls: { ...ALL_CONTROLS, model: "m" }, requestId: "retry-3" };
      await c.settings.applyControls({ sessionId, ...controls });
      const replayed = await c.settings.applyControls({ sessionId, ...controls });
      expect(replayed).toMatchObject({ replayed: true, changed: true, revision: 4n });
      // The same id with another write is refused, and changes nothing.
      const detail = await expectFailure(entry(sessionId, "k", 99, { requestId: "retry-1" }), Code.InvalidArgument, "INVALID_REQUEST");
      expect(detail?.issues[0]?.pathSegments).toEqual(["requestId"]);
      await expectFailure(entry(sessionId, "k", 1, { requestId: "bad id" }), Code.InvalidArgument, "INVALID_REQUEST");
      expect((await settingsOf(sessionId)).settings).toEqual({ k: 1 });
    });

    it("unsets a top-level key: removed true, then removed false and unchanged", async () => {
      const sessionId = await session();
      await entry(sessionId, "k", 1);
      const first = await c.settings.unsetSetting({ sessionId, key: "k" });
      expect(first).toMatchObject({ removed: true, changed: true, revision: 2n });
      const again = await c.settings.unsetSetting({ sessionId, key: "k" });
      expect(again).toMatchObject({ removed: false, changed: false, revision: 2n });
    });

    it("treats a write that changes nothing as unchanged: same revision, no history", async () => {
      const sessionId = await session();
      await object(sessionId, { a: { x: [1, { y: 2 }] }, b: "s" });
      const rev = (await settingsOf(sessionId)).revision;
      for (const write of [
        () => entry(sessionId, "b", "s"),
        () => object(sessionId, { a: { x: [1, { y: 2 }] } }),
        () => object(sessionId, { b: "s", a: { x: [1, { y: 2 }] } }, Mode.REPLACE),
        () => path(sessionId, "a.x", PathOp.SET, [1, { y: 2 }]),
        () => path(sessionId, "a", PathOp.MERGE, { x: [1, { y: 2 }] }),
      ]) {
        const res = await write();
        expect(res.changed).toBe(false);
        expect(res.revision).toBe(rev);
      }
      const history = await c.settings.listHistory({ sessionId });
      expect(history.entries).toHaveLength(1);
    });

    it("compare-and-set: a stale ifRevision is refused with REVISION_MISMATCH and changes nothing", async () => {
      const sessionId = await session();
      await entry(sessionId, "k", 1);
      const detail = await expectFailure(entry(sessionId, "k", 2, { ifRevision: 0n }), Code.Aborted, "REVISION_MISMATCH");
      expect(detail?.expectedRevision).toBe(0n);
      expect(detail?.currentRevision).toBe(1n);
      await expectFailure(c.settings.unsetSetting({ sessionId, key: "k", ifRevision: 5n }), Code.Aborted, "REVISION_MISMATCH");
      await expectFailure(
        c.settings.applyControls({ sessionId, controls: ALL_CONTROLS, ifRevision: 9n }),
        Code.Aborted,
        "REVISION_MISMATCH",
      );
      const now = await settingsOf(sessionId);
      expect(now.settings).toEqual({ k: 1 });
      expect(now.revision).toBe(1n);
      const ok = await entry(sessionId, "k", 2, { ifRevision: 1n });
      expect(ok.revision).toBe(2n);
    });

    it("records history with provenance defaults and before/after values, newest first", async () => {
      const sessionId = await session();
      await entry(sessionId, "k", 1);
      await entry(sessionId, "k", 2, { actor: "bot", source: "cli" });
      await c.settings.unsetSetting({ sessionId, key: "k" });
      await c.settings.applyControls({ sessionId, controls: { ...ALL_CONTROLS, model: "m1" } });
      const { entries } = await c.settings.listHistory({ sessionId });
      expect(entries.map((e) => [e.revision, e.op, e.actor, e.source])).toEqual([
        [4n, "controls", "user", "ui"],
        [3n, "unset", "user", "api"],
        [2n, "set", "bot", "cli"],
        [1n, "set", "user", "api"],
      ]);
      const set2 = entries[2]!.changes[0]!;
      expect(set2.kind).toBe(ChangeKind.SETTING);
      expect([set2.key, fromValue(set2.before), fromValue(set2.after)]).toEqual(["k", 1, 2]);
      const unset = entries[1]!.changes[0]!;
      expect(fromValue(unset.before)).toBe(2);
      expect(unset.after).toBeUndefined();
      const controls = entries[0]!.changes.map((ch) => [ch.key, fromValue(ch.before), fromValue(ch.after)]);
      expect(controls).toEqual([
        ["model", null, "m1"],
        ["approvalPolicy", "untrusted", "on-request"],
        ["networkAccess", "restricted", "enabled"],
        ["filesystemSandbox", "read-only", "workspace-write"],
      ]);
      expect(entries[0]!.time).toBeDefined();
      const page = await c.settings.listHistory({ sessionId, limit: 2 });
      expect(page.entries.map((e) => e.revision)).toEqual([4n, 3n]);
      expect(page.nextBeforeRevision).toBe(3n);
      const next = await c.settings.listHistory({ sessionId, limit: 2, beforeRevision: page.nextBeforeRevision });
      expect(next.entries.map((e) => e.revision)).toEqual([2n, 1n]);
      expect(next.nextBeforeRevision).toBeUndefined();
    });
  });
}
