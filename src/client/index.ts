// A small ergonomic SDK over the generated Connect clients. It works with any
// Connect transport: gRPC or Connect in Node, Connect-Web in the browser.
//
//   const sdk = createSettingsSdk(transport);
//   await sdk.session(id).settings.namespace("team.review").merge({ owner: "ana" });
//
// Every write carries a request id and is retried once with it when the
// service says it was not applied or may have been (./writes.ts).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import { SessionService } from "../../gen/codexmanager/settings/v1/session_pb.js";
import { Mode, PathOp, SettingsService, type ScopeControls } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import type { ControlFields, JsonObject, JsonValue, Scope } from "../domain/types.js";
import { changeOf, controlsPb, createControlsPb, json, scopePb, sessionOf, tupleOf, value, type SettingsChange } from "./convert.js";
import { changesApi } from "./changes.js";
import { schemasApi } from "./schemas.js";
import { guard, settingsError } from "./errors.js";
import { keepProtoKeys } from "./proto-keys.js";
import { afterRateLimit, idempotent, type WriteOptions } from "./writes.js";

export type { ControlFields, JsonObject, JsonValue, Scope };
export type { Change, SettingsChange, Tuple } from "./convert.js";
export { SettingsError, type SchemaViolation, type SettingsIssue } from "./errors.js";
export type { SchemaChangeRecord, SchemaSummary } from "./schemas.js";
export { sdkJsonOptions } from "./json-keys.js";
export { sdkBinaryOptions } from "./proto-keys.js";
export type { ChangeFilter, FeedChange, FeedChangeKind, ScopeState, WatchChangesOptions } from "./changes.js";
export { newRequestId, retryable, type WriteOptions } from "./writes.js";

/** What every write takes: provenance, compare-and-set, and its request id and retry. */
export interface Provenance extends WriteOptions {
  actor?: string;
  source?: string;
  ifRevision?: bigint;
}

export interface WatchOptions {
  scope?: Scope;
  fromRevision?: bigint;
  includeSettings?: boolean;
  signal?: AbortSignal;
  /** Called once the service has established the watch, with the scope's revision then. */
  onCreated?: (created: { revision: bigint }) => void;
}

const stamp = (p: Provenance, requestId: string) => ({ actor: p.actor, source: p.source, ifRevision: p.ifRevision, requestId });

export function createSettingsSdk(transport: Transport) {
  const keeping = keepProtoKeys(transport);
  const settingsApi = createClient(SettingsService, keeping);
  const sessionsApi = createClient(SessionService, keeping);

  function settingsOf(sessionId: string) {
    const write = (scope: Scope | undefined, update: Parameters<typeof settingsApi.setSettings>[0]["update"], p: Provenance = {}) =>
      idempotent(p, async (requestId) => {
        const r = await settingsApi.setSettings({ sessionId, scope: scopePb(scope), update, ...stamp(p, requestId) });
        return { changed: r.changed, revision: r.revision, key: r.key, value: json(r.value), removed: r.removed, replayed: r.replayed, requestId };
      });

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
      unset(key: string, options: Provenance & { scope?: Scope } = {}) {
        return idempotent(options, async (requestId) => {
          const r = await settingsApi.unsetSetting({ sessionId, scope: scopePb(options.scope), key, ...stamp(options, requestId) });
          return { removed: r.removed, changed: r.changed, revision: r.revision, replayed: r.replayed, requestId };
        });
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
      /**
       * Changes in revision order; heartbeats are absorbed. The service first
       * answers that the watch is established: `onCreated` hears it. End it with `signal`.
       */
      async *watch(options: WatchOptions = {}): AsyncGenerator<SettingsChange> {
        const stream = settingsApi.watchSettings(
          { sessionId, scope: scopePb(options.scope), fromRevision: options.fromRevision, includeSettings: options.includeSettings ?? false },
          { signal: options.signal },
        );
        try {
          for await (const msg of stream) {
            if (msg.created) options.onCreated?.({ revision: msg.revision });
            else if (msg.entry) yield changeOf(msg.entry, msg.settings);
          }
        } catch (err) {
          if (options.signal?.aborted) return;
          throw settingsError(err);
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
      apply(controls: ControlFields & { settings?: JsonObject }, options: Provenance & { scope?: Scope } = {}) {
        return idempotent(options, async (requestId) => {
          const r = await settingsApi.applyControls({ sessionId, scope: scopePb(options.scope), controls: controlsPb(controls), ...stamp(options, requestId) });
          const applied = tupleOf({ controls: r.applied, revision: r.revision } as ScopeControls);
          return { changed: r.changed, revision: r.revision, summary: r.summary, applied, replayed: r.replayed, requestId };
        });
      },
    };
  }

  return {
    /** The store-wide change feed: list every scope, watch every change, or both (listThenWatch). */
    changes: changesApi(keeping),
    /** Typed settings: a JSON Schema per top-level key, checked on every write. */
    schemas: schemasApi(keeping),
    sessions: {
      // Creating and deleting a session take no request id, so they are sent once:
      // a retried create could answer SESSION_EXISTS, a retried delete SESSION_DELETED.
      // Only a RATE_LIMITED refusal (nothing applied) is sent again, after its wait.
      async create(options: { sessionId?: string; cwd?: string; systemOwned?: boolean; retry?: boolean } & Partial<ControlFields> = {}) {
        const r = await afterRateLimit(() => sessionsApi.createSession({
          sessionId: options.sessionId,
          cwd: options.cwd ?? "",
          systemOwned: options.systemOwned ?? false,
          ...createControlsPb(options),
        }), options.retry);
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
      async delete(sessionId: string, options: { retry?: boolean } = {}) {
        const r = await afterRateLimit(() => sessionsApi.deleteSession({ sessionId }), options.retry);
        return { sessionId: r.sessionId, deletedAt: r.deletedAt ? timestampDate(r.deletedAt) : undefined };
      },
    },
    session(sessionId: string) {
      return { sessionId, settings: settingsOf(sessionId), controls: controlsOf(sessionId) };
    },
  };
}

export type SettingsSdk = ReturnType<typeof createSettingsSdk>;
