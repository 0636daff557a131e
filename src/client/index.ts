// A small ergonomic SDK over the generated Connect clients. It works with any
// Connect transport: gRPC or Connect in Node, Connect-Web in the browser.
//
//   const sdk = createSettingsSdk(transport);
//   await sdk.session(id).settings.namespace("team.review").merge({ owner: "ana" });
import { fromJson, toJson, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { ErrorDetailSchema, type ErrorDetail } from "../../gen/codexmanager/settings/v1/errors_pb.js";
import { SessionService, type Session } from "../../gen/codexmanager/settings/v1/session_pb.js";
import {
  ChangeKind,
  Mode,
  PathOp,
  Scope as ScopePb,
  SettingsService,
  type ControlsSchema,
  type HistoryEntry as HistoryEntryPb,
  type ScopeControls,
} from "../../gen/codexmanager/settings/v1/settings_pb.js";
import {
  APPROVAL_POLICIES,
  FILESYSTEM_SANDBOXES,
  NETWORK_ACCESS,
  type ControlFields,
  type JsonObject,
  type JsonValue,
  type Scope,
} from "../domain/types.js";

export type { ControlFields, JsonObject, JsonValue, Scope };

/** Every failure, with the service's reason (e.g. "SESSION_DELETED") when it sent one. */
export class SettingsError extends Error {
  override readonly name = "SettingsError";
  readonly reason: string | undefined;
  readonly detail: ErrorDetail | undefined;
  constructor(override readonly cause: ConnectError) {
    super(cause.rawMessage);
    this.detail = cause.findDetails(ErrorDetailSchema)[0];
    this.reason = this.detail?.reason || undefined;
  }
  get code(): Code {
    return this.cause.code;
  }
}

async function guard<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw err instanceof ConnectError ? new SettingsError(err) : err;
  }
}

export interface Provenance {
  actor?: string;
  source?: string;
  ifRevision?: bigint;
}

export interface Tuple extends ControlFields {
  settings: JsonObject;
  revision: bigint;
}

export interface Change {
  kind: "setting" | "control";
  key: string;
  before?: JsonValue;
  after?: JsonValue;
}

export interface SettingsChange {
  revision: bigint;
  scope: Scope;
  op: string;
  actor: string;
  source: string;
  time: Date;
  /** For op "path": the segments written (the first is the top-level key) and what was done there. */
  path?: { segments: string[]; op: "set" | "merge" | "unset" };
  changes: Change[];
  /** The whole map after the change, when asked with includeSettings. */
  settings?: JsonObject;
}

const PATH_OPS = ["set", "merge", "unset"] as const;
const scopePb = (scope: Scope | undefined) => (scope === "default" ? ScopePb.DEFAULT : ScopePb.SESSION);
const value = (v: JsonValue): Value => fromJson(ValueSchema, v);
const json = (v: Value | undefined): JsonValue | undefined => (v === undefined ? undefined : (toJson(ValueSchema, v) as JsonValue));
const enumName = <T extends string>(values: readonly T[], n: number) => values[n - 1]!;
const enumNumber = <T extends string>(values: readonly T[], v: T) => values.indexOf(v) + 1;

function tupleOf(t: ScopeControls | undefined): Tuple {
  const c = t?.controls;
  return {
    model: c?.model ?? null,
    approvalPolicy: enumName(APPROVAL_POLICIES, c?.approvalPolicy ?? 0),
    networkAccess: enumName(NETWORK_ACCESS, c?.networkAccess ?? 0),
    filesystemSandbox: enumName(FILESYSTEM_SANDBOXES, c?.filesystemSandbox ?? 0),
    settings: c?.settings ?? {},
    revision: t?.revision ?? 0n,
  };
}

function controlsPb(c: ControlFields & { settings?: JsonObject }): MessageInitShape<typeof ControlsSchema> {
  return {
    model: c.model ?? undefined,
    approvalPolicy: enumNumber(APPROVAL_POLICIES, c.approvalPolicy),
    networkAccess: enumNumber(NETWORK_ACCESS, c.networkAccess),
    filesystemSandbox: enumNumber(FILESYSTEM_SANDBOXES, c.filesystemSandbox),
    settings: c.settings,
  };
}

function changeOf(entry: HistoryEntryPb, settings?: JsonObject): SettingsChange {
  return {
    revision: entry.revision,
    scope: entry.scope === ScopePb.DEFAULT ? "default" : "session",
    op: entry.op,
    actor: entry.actor,
    source: entry.source,
    time: entry.time ? timestampDate(entry.time) : new Date(0),
    ...(entry.path && { path: { segments: entry.path.segments, op: PATH_OPS[entry.path.op - 1] ?? "set" } }),
    changes: entry.changes.map((c) => ({
      kind: c.kind === ChangeKind.CONTROL ? "control" : "setting",
      key: c.key,
      before: json(c.before),
      after: json(c.after),
    })),
    settings,
  };
}

export function createSettingsSdk(transport: Transport) {
  const settingsApi = createClient(SettingsService, transport);
  const sessionsApi = createClient(SessionService, transport);

  function settingsOf(sessionId: string) {
    const write = (scope: Scope | undefined, update: Parameters<typeof settingsApi.setSettings>[0]["update"], p: Provenance = {}) =>
      guard(settingsApi.setSettings({ sessionId, scope: scopePb(scope), update, actor: p.actor, source: p.source, ifRevision: p.ifRevision })).then((r) => ({
        changed: r.changed, revision: r.revision, key: r.key, value: json(r.value), removed: r.removed,
      }));

    return {
      async get(options: { scope?: Scope } = {}): Promise<{ settings: JsonObject; revision: bigint }> {
        const r = await guard(settingsApi.getSettings({ sessionId, scope: scopePb(options.scope) }));
        return { settings: r.settings ?? {}, revision: r.revision };
      },
      async getKey(key: string, options: { scope?: Scope } = {}) {
        const r = await guard(settingsApi.getSettings({ sessionId, scope: scopePb(options.scope), key }));
        return { found: r.found, value: json(r.value) ?? null, revision: r.revision };
      },
      set(key: string, v: JsonValue, options: Provenance & { scope?: Scope } = {}) {
        return write(options.scope, { case: "entry", value: { key, value: value(v) } }, options);
      },
      merge(settings: JsonObject, options: Provenance & { scope?: Scope } = {}) {
        return write(options.scope, { case: "object", value: { settings, mode: Mode.MERGE } }, options);
      },
      replace(settings: JsonObject, options: Provenance & { scope?: Scope } = {}) {
        return write(options.scope, { case: "object", value: { settings, mode: Mode.REPLACE } }, options);
      },
      async unset(key: string, options: Provenance & { scope?: Scope } = {}) {
        const { scope, ...p } = options;
        const r = await guard(settingsApi.unsetSetting({ sessionId, scope: scopePb(scope), key, ...p }));
        return { removed: r.removed, changed: r.changed, revision: r.revision };
      },
      /**
       * A path inside one top-level key: segments (`["team", "v1.2"]`, any key
       * can be reached) or a dotted string for keys without dots
       * (`"team.review"`). Every write is atomic on the server.
       */
      namespace(path: string | readonly string[], options: { scope?: Scope } = {}) {
        const segments = typeof path === "string" ? path.split(".") : [...path];
        const [key, ...inner] = segments;
        const pathWrite = (op: PathOp, v: JsonValue | undefined, p?: Provenance) =>
          write(options.scope, { case: "path", value: { ...(typeof path === "string" ? { path } : { segments }), op, value: v === undefined ? undefined : value(v) } }, p);
        return {
          async get(): Promise<JsonValue | undefined> {
            let current: JsonValue | undefined = (await settingsOf(sessionId).getKey(key!, options)).value;
            for (const segment of inner) {
              if (typeof current !== "object" || current === null || Array.isArray(current) || !Object.hasOwn(current, segment)) return undefined;
              current = current[segment];
            }
            return current;
          },
          set: (v: JsonValue, p?: Provenance) => pathWrite(PathOp.SET, v, p),
          merge: (v: JsonObject, p?: Provenance) => pathWrite(PathOp.MERGE, v, p),
          unset: (p?: Provenance) => pathWrite(PathOp.UNSET, undefined, p),
        };
      },
      async history(options: { scope?: Scope; beforeRevision?: bigint; limit?: number } = {}) {
        const r = await guard(settingsApi.listHistory({ sessionId, scope: scopePb(options.scope), beforeRevision: options.beforeRevision, limit: options.limit }));
        return { entries: r.entries.map((e) => changeOf(e)), nextBeforeRevision: r.nextBeforeRevision };
      },
      /** Changes in revision order; heartbeats are absorbed. End it with `signal`. */
      async *watch(options: { scope?: Scope; fromRevision?: bigint; includeSettings?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<SettingsChange> {
        const stream = settingsApi.watchSettings(
          { sessionId, scope: scopePb(options.scope), fromRevision: options.fromRevision, includeSettings: options.includeSettings ?? false },
          { signal: options.signal },
        );
        try {
          for await (const msg of stream) if (msg.entry) yield changeOf(msg.entry, msg.settings);
        } catch (err) {
          if (options.signal?.aborted) return;
          throw err instanceof ConnectError ? new SettingsError(err) : err;
        }
      },
    };
  }

  function controlsOf(sessionId: string) {
    return {
      async get() {
        const r = await guard(settingsApi.getControls({ sessionId }));
        return {
          session: tupleOf(r.session),
          defaults: tupleOf(r.defaults),
          defaultsEditable: r.defaultsEditable,
          defaultLockReason: r.defaultLockReason ?? null,
        };
      },
      /** Replaces the four controls; replaces settings only when `controls.settings` is given. */
      async apply(controls: ControlFields & { settings?: JsonObject }, options: Provenance & { scope?: Scope } = {}) {
        const { scope, ...p } = options;
        const r = await guard(settingsApi.applyControls({ sessionId, scope: scopePb(scope), controls: controlsPb(controls), ...p }));
        return { changed: r.changed, revision: r.revision, summary: r.summary, applied: tupleOf({ controls: r.applied, revision: r.revision } as ScopeControls) };
      },
    };
  }

  const sessionOf = (s: Session | undefined) => ({
    sessionId: s?.sessionId ?? "",
    cwd: s?.cwd ?? "",
    createdAt: s?.createdAt ? timestampDate(s.createdAt) : undefined,
    systemOwned: s?.systemOwned ?? false,
  });

  return {
    sessions: {
      async create(options: { sessionId?: string; cwd?: string; systemOwned?: boolean } & Partial<ControlFields> = {}) {
        const r = await guard(sessionsApi.createSession({
          sessionId: options.sessionId,
          cwd: options.cwd ?? "",
          systemOwned: options.systemOwned ?? false,
          model: options.model ?? undefined,
          approvalPolicy: options.approvalPolicy ? enumNumber(APPROVAL_POLICIES, options.approvalPolicy) : 0,
          networkAccess: options.networkAccess ? enumNumber(NETWORK_ACCESS, options.networkAccess) : 0,
          filesystemSandbox: options.filesystemSandbox ? enumNumber(FILESYSTEM_SANDBOXES, options.filesystemSandbox) : 0,
        }));
        return { session: sessionOf(r.session), controls: tupleOf(r.controls) };
      },
      async get(sessionId: string) {
        const r = await guard(sessionsApi.getSession({ sessionId }));
        return { session: sessionOf(r.session), controls: tupleOf(r.controls) };
      },
      async list(options: { pageSize?: number; pageToken?: string } = {}) {
        const r = await guard(sessionsApi.listSessions({ pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? "" }));
        return { sessions: r.sessions.map(sessionOf), nextPageToken: r.nextPageToken || undefined };
      },
      async delete(sessionId: string) {
        const r = await guard(sessionsApi.deleteSession({ sessionId }));
        return { sessionId: r.sessionId, deletedAt: r.deletedAt ? timestampDate(r.deletedAt) : undefined };
      },
    },
    session(sessionId: string) {
      return { sessionId, settings: settingsOf(sessionId), controls: controlsOf(sessionId) };
    },
  };
}

export type SettingsSdk = ReturnType<typeof createSettingsSdk>;
