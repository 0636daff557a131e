// The service's operations over a Store, in domain terms, shared by every
// transport: Connect/gRPC handlers and REST routes both call these. Each one
// follows SPEC §4's order of checks: identifiers, session state, payload,
// lock, revision, apply.
import { randomUUID } from "node:crypto";
import { authorize, type Principal } from "../auth.js";
import type { Config } from "../config.js";
import { errors, LOCK_REASON } from "../domain/errors.js";
import { isObject } from "../domain/json.js";
import { Rules } from "../domain/rules.js";
import {
  CONTROL_NAMES,
  type ControlFields,
  type JsonObject,
  type JsonValue,
  type Mutation,
  type MutationResult,
  type PathOp,
  type Scope,
  type ScopeRef,
  type Tuple,
} from "../domain/types.js";
import type { SettingsRead, Store } from "../store/store.js";
import { SettingsSnapshot, SnapshotCache } from "./settings-snapshot.js";
import { SharedReads } from "./shared-reads.js";
import { openWatch, type Watch } from "./watch.js";
import type { Protocol } from "../observe/calls.js";

export type OperationsConfig = Pick<Config, "limits" | "defaultsLocked" | "watchHeartbeatMs" | "watchBacklog" | "settingsCacheBytes">;

/** A settings update as a transport received it, before validation. */
export type SettingsUpdate =
  | { kind: "object"; settings: JsonValue | undefined; mode: "merge" | "replace" }
  | { kind: "entry"; key: string | undefined; value: JsonValue | undefined }
  | { kind: "path"; path?: string; segments?: readonly unknown[]; value: JsonValue | undefined; op: PathOp }
  | { kind: "missing" };

export interface WriteInput {
  sessionId: string;
  scope: Scope;
  /** The authenticated caller; undefined while authentication is off. */
  caller?: Principal;
  ifRevision?: bigint;
  actor?: string;
  source?: string;
  /** Idempotency key (REST's Idempotency-Key header, the request_id field elsewhere). */
  requestId?: string;
  /** Also answer the whole map (REST). */
  withSettings?: boolean;
}

export interface CreateSessionInput {
  caller?: Principal;
  sessionId?: string;
  cwd?: string;
  systemOwned?: boolean;
  overrides: Partial<Record<keyof ControlFields, unknown>>;
}

export interface ControlsView {
  session: Tuple;
  defaults: Tuple;
  defaultsEditable: boolean;
  defaultLockReason: string | null;
}

const MAX_CWD = 4096;
const PATH_OPS: readonly string[] = ["set", "merge", "unset"];
const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

export interface OperationHooks {
  /** A watch stream started on `protocol`; the answer is called when it ends. */
  watchOpened?(protocol: Protocol): () => void;
  /** A whole map was read: from the snapshot cache (nothing but the revision came from the store), or not. */
  mapRead?(cached: boolean): void;
  /** A watcher fell too far behind and its stream is being ended (WATCH_BACKLOG). */
  watchCutOff?(ref: ScopeRef, protocol: Protocol): void;
}

export function createOperations(store: Store, config: OperationsConfig, hooks: OperationHooks = {}) {
  const rules = () => new Rules(config.limits);
  const snapshots = new SnapshotCache(config.settingsCacheBytes);
  const sharedReads = new SharedReads<SettingsSnapshot>();

  /** SPEC §4 step 1: identifiers are checked before anything is read. */
  function identifiers(sessionId: string): void {
    const r = rules();
    r.sessionId("sessionId", sessionId);
    r.throwIfInvalid();
  }

  /** Steps 2-6 before a write: session state wins over a bad payload or the lock. */
  async function admitWrite(ref: ScopeRef, r: Rules): Promise<void> {
    if (!r.ok) {
      await store.requireActiveSession(ref.sessionId);
      r.throwIfInvalid();
    }
    if (ref.scope === "default" && config.defaultsLocked) {
      await store.requireActiveSession(ref.sessionId);
      throw errors.locked(ref.sessionId);
    }
  }

  /** Reads need the read role, session writes write, default-scope writes admin. */
  function authorizeWrite(input: WriteInput): void {
    if (input.scope === "default") authorize(input.caller, "admin", "write the default scope");
    else authorize(input.caller, "write", "write settings");
  }

  /** With authentication on, history records the token's actor; a declared one is kept as claimedActor. */
  function provenance(r: Rules, input: WriteInput, fallbackSource: "api" | "ui") {
    const declared = r.actor("actor", input.actor);
    const actor = input.caller?.actor ?? declared;
    const claimed = input.caller && input.actor !== undefined && input.actor !== "" && declared !== actor ? declared : undefined;
    return {
      actor,
      claimedActor: claimed,
      source: r.source("source", input.source, fallbackSource),
      requestId: r.requestId("requestId", input.requestId),
      ifRevision: input.ifRevision,
      withSettings: input.withSettings,
    };
  }

  function toMutation(r: Rules, update: SettingsUpdate): Mutation | undefined {
    switch (update.kind) {
      case "object": {
        const settings = r.settings("settings", update.settings);
        return settings && { op: update.mode, settings };
      }
      case "entry": {
        const key = r.key("key", update.key);
        const value = r.value("value", update.value);
        return key !== undefined && value !== undefined ? { op: "set", key, value } : undefined;
      }
      case "path": {
        if (!PATH_OPS.includes(update.op)) r.fail("op", "must be set, merge or unset");
        const bySegments = update.segments !== undefined && update.segments.length > 0;
        if (bySegments && update.path) return r.fail("path", "give the path as segments or as a dotted string, not both");
        const path = bySegments ? r.path("segments", update.segments) : r.path("path", update.path ?? update.segments);
        const value = update.op === "unset" ? null : r.value("value", update.value, path?.segments.length ?? 0);
        if (update.op === "merge" && value !== undefined && !isObject(value)) {
          r.fail("value", "must be a JSON object to merge");
        }
        return path && value !== undefined && r.ok
          ? { op: "path", key: path.key, segments: path.segments, pathOp: update.op, value }
          : undefined;
      }
      case "missing":
        r.fail("update", "give settings, an entry (key and value) or a path");
        return undefined;
    }
  }

  async function controlsView(sessionId: string): Promise<ControlsView> {
    const [session, defaults] = await Promise.all([
      store.readTuple({ sessionId, scope: "session" }),
      store.readTuple({ sessionId, scope: "default" }),
    ]);
    return {
      session,
      defaults,
      defaultsEditable: !config.defaultsLocked,
      defaultLockReason: config.defaultsLocked ? LOCK_REASON : null,
    };
  }

  return {
    config,

    /** SPEC §4 steps 1-4 alone, for transports that found the payload bad before parsing it. */
    async requireSession(sessionId: string): Promise<void> {
      identifiers(sessionId);
      await store.requireActiveSession(sessionId);
    },

    async createSession(input: CreateSessionInput) {
      authorize(input.caller, input.systemOwned ? "admin" : "write", input.systemOwned ? "create system-owned sessions" : "create sessions");
      const r = rules();
      const sessionId = input.sessionId === undefined ? randomUUID() : r.sessionId("sessionId", input.sessionId);
      const cwd = input.cwd ?? "";
      if (cwd.length > MAX_CWD) r.fail("cwd", `must be at most ${MAX_CWD} characters`);
      const overrides: Partial<ControlFields> = {};
      for (const name of CONTROL_NAMES) {
        const value = input.overrides[name];
        if (value !== undefined) Object.assign(overrides, { [name]: r.control(name, name, value) });
      }
      r.throwIfInvalid();
      return store.createSession({
        sessionId: sessionId!,
        cwd,
        systemOwned: input.systemOwned ?? false,
        createdAt: new Date(),
        overrides,
      });
    },

    async getSession(sessionId: string, caller?: Principal) {
      authorize(caller, "read", "read sessions");
      identifiers(sessionId);
      return store.getSession(sessionId);
    },

    async listSessions(pageSize: number, pageToken: string, caller?: Principal) {
      authorize(caller, "read", "list sessions");
      const r = rules();
      let after: string | undefined;
      if (pageToken !== "") {
        after = Buffer.from(pageToken, "base64url").toString("utf8");
        r.sessionId("pageToken", after);
      }
      if (!Number.isInteger(pageSize) || pageSize < 0) r.fail("pageSize", "must be a non-negative integer");
      r.throwIfInvalid();
      const limit = Math.min(pageSize || DEFAULT_PAGE, MAX_PAGE);
      const page = await store.listSessions(limit, after);
      return {
        sessions: page.sessions,
        nextPageToken: page.nextAfter === undefined ? "" : Buffer.from(page.nextAfter).toString("base64url"),
      };
    },

    async deleteSession(sessionId: string, caller?: Principal): Promise<{ sessionId: string; deletedAt: Date }> {
      authorize(caller, "write", "delete sessions");
      identifiers(sessionId);
      const { deletedAt } = await store.deleteSession(sessionId, new Date());
      return { sessionId, deletedAt };
    },

    /** One key, or the whole map as a snapshot that repeated reads at one revision share. */
    async getSettings(ref: ScopeRef, key?: string, caller?: Principal): Promise<SettingsSnapshot | Extract<SettingsRead, { found: boolean }>> {
      authorize(caller, "read", "read settings");
      const r = rules();
      r.sessionId("sessionId", ref.sessionId);
      const k = key === undefined ? undefined : r.key("key", key);
      r.throwIfInvalid();
      if (k !== undefined) return store.readSettings(ref, k) as Promise<Extract<SettingsRead, { found: boolean }>>;
      const cacheKey = ref.scope === "default" ? "default" : `s:${ref.sessionId}`;
      // 16 readers of a 4 MiB map after a change cost one full read and one revision check, not 16 full reads.
      return sharedReads.read(cacheKey, async () => {
        const known = snapshots.get(cacheKey);
        const read = await store.readSettingsTexts(ref, known?.revision);
        hooks.mapRead?.(!read.entries);
        if (!read.entries) return known!;
        const snapshot = new SettingsSnapshot(read.revision, read.entries, known);
        snapshots.put(cacheKey, snapshot);
        return snapshot;
      });
    },

    async setSettings(input: WriteInput, update: SettingsUpdate): Promise<MutationResult & { key?: string }> {
      authorizeWrite(input);
      identifiers(input.sessionId);
      const r = rules();
      const mutation = toMutation(r, update);
      const options = provenance(r, input, "api");
      await admitWrite(input, r);
      const result = await store.mutate(input, mutation!, options);
      const key = mutation!.op === "set" || mutation!.op === "path" ? mutation!.key : undefined;
      return { ...result, key };
    },

    async unsetSetting(input: WriteInput, rawKey: string | undefined) {
      authorizeWrite(input);
      identifiers(input.sessionId);
      const r = rules();
      const key = r.key("key", rawKey);
      const options = provenance(r, input, "api");
      await admitWrite(input, r);
      return { ...(await store.mutate(input, { op: "unset", key: key! }, options)), key: key! };
    },

    async getControls(sessionId: string, caller?: Principal): Promise<ControlsView> {
      authorize(caller, "read", "read controls");
      identifiers(sessionId);
      return controlsView(sessionId);
    },

    /** `settings` undefined keeps the scope's settings; present replaces them. */
    async applyControls(
      input: WriteInput,
      controls: Partial<Record<keyof ControlFields, unknown>> | undefined,
      settings: JsonValue | undefined,
    ) {
      authorizeWrite(input);
      identifiers(input.sessionId);
      const r = rules();
      const fields = controls === undefined ? r.fail("controls", "is required") : r.controls("controls", controls);
      const replacement = settings === undefined ? undefined : r.settings("controls.settings", settings);
      const options = provenance(r, input, "ui");
      await admitWrite(input, r);
      const result = await store.mutate(input, { op: "controls", controls: fields!, settings: replacement }, options);
      const applied = { ...result.controls!, settings: result.settings! };
      return { ...result, applied, summary: summarize(applied) };
    },

    controlsView,

    async watch(
      ref: ScopeRef,
      options: { fromRevision?: bigint; includeSettings?: boolean; signal: AbortSignal; caller?: Principal; protocol: Protocol },
    ) {
      authorize(options.caller, "read", "watch settings");
      identifiers(ref.sessionId);
      let closed: (() => void) | undefined;
      const watch = await openWatch(store, ref, {
        fromRevision: options.fromRevision,
        includeSettings: options.includeSettings ?? false,
        heartbeatMs: config.watchHeartbeatMs,
        backlog: config.watchBacklog,
        signal: options.signal,
        onEnd: () => closed?.(),
      });
      closed = hooks.watchOpened?.(options.protocol);
      watch.overflow.addEventListener("abort", () => hooks.watchCutOff?.(ref, options.protocol), { once: true });
      return watch;
    },

    async listHistory(ref: ScopeRef, limit: number, before?: bigint, caller?: Principal) {
      authorize(caller, "read", "read history");
      const r = rules();
      r.sessionId("sessionId", ref.sessionId);
      if (!Number.isInteger(limit) || limit < 0) r.fail("limit", "must be a non-negative integer");
      r.throwIfInvalid();
      return store.listHistory(ref, Math.min(limit || DEFAULT_PAGE, MAX_PAGE), before);
    },
  };
}

export type Operations = ReturnType<typeof createOperations>;

export function summarize(t: ControlFields & { settings: JsonObject }): string {
  return [t.model ?? "default", t.approvalPolicy, t.networkAccess, t.filesystemSandbox, `settings:${Object.keys(t.settings).length}`].join(" | ");
}
