// The contract suite: every semantic rule of SPEC §2-§4, as a function that
// test files run against each store (embedded, Redis, Redis Cluster) over
// each transport.
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ApprovalPolicy,
  ChangeKind,
  FilesystemSandbox,
  Mode,
  NetworkAccess,
  PathOp,
  Scope,
} from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { SessionState } from "../../gen/codexmanager/settings/v1/session_pb.js";
import { expectFailure } from "./errors.js";
import type { Clients, TestServer, TransportName } from "./server.js";

const str = (s: string) => ({ kind: { case: "stringValue" as const, value: s } });
const num = (n: number) => ({ kind: { case: "numberValue" as const, value: n } });
const nul = () => ({ kind: { case: "nullValue" as const, value: 0 as const } });
const obj = (o: Record<string, unknown>) => ({ kind: { case: "structValue" as const, value: { fields: toFields(o) } } });
// A Value message tree from plain JSON, for request fields of type Value.
function toFields(o: Record<string, unknown>): Record<string, any> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)]));
}
function toValue(v: unknown): any {
  if (v === null) return nul();
  if (typeof v === "string") return str(v);
  if (typeof v === "number") return num(v);
  if (typeof v === "boolean") return { kind: { case: "boolValue", value: v } };
  if (Array.isArray(v)) return { kind: { case: "listValue", value: { values: v.map(toValue) } } };
  return obj(v as Record<string, unknown>);
}
function fromValue(v: any): unknown {
  if (v === undefined) return undefined;
  switch (v.kind.case) {
    case "nullValue": return null;
    case "structValue": return Object.fromEntries(Object.entries(v.kind.value.fields).map(([k, x]) => [k, fromValue(x)]));
    case "listValue": return v.kind.value.values.map(fromValue);
    default: return v.kind.value;
  }
}

export const ALL_CONTROLS = {
  approvalPolicy: ApprovalPolicy.ON_REQUEST,
  networkAccess: NetworkAccess.ENABLED,
  filesystemSandbox: FilesystemSandbox.WORKSPACE_WRITE,
};

export type StartServer = (env?: Record<string, string>) => Promise<TestServer>;

export function contractSuite(label: string, start: StartServer, transports: TransportName[]): void {
  describe.each(transports)(`contract on ${label} over %s`, (transport) => {
    let server: TestServer;
    let c: Clients;
    beforeAll(async () => {
      server = await start();
      c = server.clients(transport);
    });
    afterAll(async () => {
      await server?.close();
    });

    const id = () => `s-${randomUUID()}`;
    async function session(extra: Record<string, unknown> = {}): Promise<string> {
      const sessionId = id();
      await c.sessions.createSession({ sessionId, cwd: "/work", ...extra });
      return sessionId;
    }
    const settingsOf = async (sessionId: string, scope = Scope.SESSION) =>
      c.settings.getSettings({ sessionId, scope });
    const entry = (sessionId: string, key: string, value: unknown, extra: Record<string, unknown> = {}) =>
      c.settings.setSettings({ sessionId, update: { case: "entry", value: { key, value: toValue(value) } }, ...extra });
    const segments = (sessionId: string, segs: string[], op: PathOp, value?: unknown, extra: Record<string, unknown> = {}) =>
      c.settings.setSettings({
        sessionId,
        update: { case: "path", value: { segments: segs, op, value: value === undefined ? undefined : toValue(value) } },
        ...extra,
      });
    const path = (sessionId: string, p: string, op: PathOp, value?: unknown, extra: Record<string, unknown> = {}) =>
      c.settings.setSettings({
        sessionId,
        update: { case: "path", value: { path: p, op, value: value === undefined ? undefined : toValue(value) } },
        ...extra,
      });
    const object = (sessionId: string, settings: Record<string, any>, mode = Mode.MERGE, extra: Record<string, unknown> = {}) =>
      c.settings.setSettings({ sessionId, update: { case: "object", value: { settings, mode } }, ...extra });

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
  });

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
