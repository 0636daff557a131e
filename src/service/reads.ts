// The reads: one key or the whole map (whole maps as shared snapshots, see
// ./settings-snapshot.ts), both control tuples, history a page at a time,
// and the watch stream.
import { authorize, type Principal } from "../auth.js";
import { LOCK_REASON } from "../domain/errors.js";
import { canonicalJson } from "../domain/json.js";
import type { ScopeRef, Tuple } from "../domain/types.js";
import type { Protocol } from "../observe/calls.js";
import type { SettingsRead, Store } from "../store/store.js";
import type { OperationHooks, OperationsConfig, RequestChecks } from "./requests.js";
import { pageLimit } from "./sessions.js";
import { SettingsSnapshot, SnapshotCache } from "./settings-snapshot.js";
import { SharedReads } from "./shared-reads.js";
import { openWatch } from "./watch.js";
import { feedReads } from "./feed-reads.js";

export interface ControlsView {
  session: Tuple;
  defaults: Tuple;
  defaultsEditable: boolean;
  defaultLockReason: string | null;
}

/** What the reads keep across calls: whole maps as snapshots, and the reads in flight that calls share. */
export function readState(config: OperationsConfig) {
  return { snapshots: new SnapshotCache(config.settingsCacheBytes), sharedReads: new SharedReads<SettingsSnapshot>() };
}

export type ReadState = ReturnType<typeof readState>;

export function readOperations(store: Store, config: OperationsConfig, req: RequestChecks, hooks: OperationHooks, { snapshots, sharedReads }: ReadState) {
  const past = feedReads(store, config, req, hooks);

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
    /** SPEC §4 steps 1-4 alone, for transports that found the payload bad before parsing it. */
    async requireSession(sessionId: string): Promise<void> {
      req.identifiers(sessionId);
      await store.requireActiveSession(sessionId);
    },

    /** One key, or the whole map as a snapshot that repeated reads at one revision share; or either at a past revision. */
    async getSettings(
      ref: ScopeRef,
      key?: string,
      caller?: Principal,
      atRevision?: bigint,
    ): Promise<SettingsSnapshot | Extract<SettingsRead, { found: boolean }>> {
      authorize(caller, "read", "read settings");
      const r = req.rules();
      r.sessionId("sessionId", ref.sessionId);
      const k = key === undefined ? undefined : r.key("key", key);
      r.throwIfInvalid();
      if (atRevision !== undefined) return settingsAt(await past.tupleAt(ref, atRevision), k);
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

    /** Both tuples; with `atRevision`, the session's as it was then (the default's as it is now). */
    async getControls(sessionId: string, caller?: Principal, atRevision?: bigint): Promise<ControlsView> {
      authorize(caller, "read", "read controls");
      req.identifiers(sessionId);
      const view = await controlsView(sessionId);
      return atRevision === undefined ? view : { ...view, session: await past.tupleAt({ sessionId, scope: "session" }, atRevision) };
    },

    controlsView,

    async watch(
      ref: ScopeRef,
      options: { fromRevision?: bigint; includeSettings?: boolean; signal: AbortSignal; caller?: Principal; protocol: Protocol },
    ) {
      authorize(options.caller, "read", "watch settings");
      req.identifiers(ref.sessionId);
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

    listSettings: past.listSettings,
    watchChanges: past.watchChanges,

    async listHistory(ref: ScopeRef, limit: number, before?: bigint, caller?: Principal) {
      authorize(caller, "read", "read history");
      const r = req.rules();
      r.sessionId("sessionId", ref.sessionId);
      const pageSize = pageLimit(r, "limit", limit);
      r.throwIfInvalid();
      return store.listHistory(ref, pageSize, before);
    },
  };
}

/** A past tuple's map as the reads answer it: one key, or the whole map (a snapshot of its own, never cached). */
function settingsAt(tuple: Tuple, key: string | undefined): SettingsSnapshot | Extract<SettingsRead, { found: boolean }> {
  if (key === undefined) return new SettingsSnapshot(tuple.revision, Object.entries(tuple.settings).map(([k, v]) => [k, JSON.stringify(v)]));
  const found = Object.hasOwn(tuple.settings, key);
  return { found, value: found ? tuple.settings[key]! : null, revision: tuple.revision };
}
