// What the sections of the contract suite share: Value messages from plain
// JSON and back, every control set, and the calls most tests make, on the
// clients of the transport under test.
import { randomUUID } from "node:crypto";
import { ApprovalPolicy, FilesystemSandbox, Mode, NetworkAccess, PathOp, Scope } from "../../../gen/codexmanager/settings/v1/settings_pb.js";
import type { Clients, TestServer } from "../server.js";

export const str = (s: string) => ({ kind: { case: "stringValue" as const, value: s } });
export const num = (n: number) => ({ kind: { case: "numberValue" as const, value: n } });
export const nul = () => ({ kind: { case: "nullValue" as const, value: 0 as const } });
export const obj = (o: Record<string, unknown>) => ({ kind: { case: "structValue" as const, value: { fields: toFields(o) } } });
// A Value message tree from plain JSON, for request fields of type Value.
function toFields(o: Record<string, unknown>): Record<string, any> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)]));
}
export function toValue(v: unknown): any {
  if (v === null) return nul();
  if (typeof v === "string") return str(v);
  if (typeof v === "number") return num(v);
  if (typeof v === "boolean") return { kind: { case: "boolValue", value: v } };
  if (Array.isArray(v)) return { kind: { case: "listValue", value: { values: v.map(toValue) } } };
  return obj(v as Record<string, unknown>);
}
export function fromValue(v: any): unknown {
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

/** The clients and calls the sections use. */
export type Contract = ReturnType<typeof contractCalls>;

/** The calls, on whichever clients `clients` gives when a test runs (the server starts in beforeAll). */
export function contractCalls(clients: () => Clients) {
  const c: Clients = {
    get settings() {
      return clients().settings;
    },
    get sessions() {
      return clients().sessions;
    },
    get schemas() {
      return clients().schemas;
    },
  };
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
  return { c, id, session, settingsOf, entry, segments, path, object };
}
