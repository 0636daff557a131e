// The store-wide change feed in the SDK: list every scope, watch every
// change, and `listThenWatch`, which does both and keeps a cache that ends
// exactly at the server's state, as a Kubernetes informer does. A change
// the listing already showed (its revision is not newer than the cached
// scope's) is skipped, so each change reaches the caller once.
import { createClient, type Transport } from "@connectrpc/connect";
import { ChangesService, FeedKind, ScopeFilter } from "../../gen/codexmanager/settings/v1/changes_pb.js";
import { Scope as ScopePb } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { setOwn } from "../domain/json.js";
import type { ControlFields, JsonObject, Scope } from "../domain/types.js";
import { changeOf, tupleOf, type SettingsChange } from "./convert.js";
import { guard, settingsError } from "./errors.js";

export type FeedChangeKind = "session_created" | "session_deleted" | "settings" | "controls";

export interface FeedChange {
  cursor: string;
  /** "" for the default scope. */
  sessionId: string;
  scope: Scope;
  revision: bigint;
  kind: FeedChangeKind;
  entry: SettingsChange;
}

/** One scope as a listing or a cache holds it. */
export interface ScopeState extends ControlFields {
  sessionId: string;
  scope: Scope;
  revision: bigint;
  settings: JsonObject;
}

export interface ChangeFilter {
  scope?: "sessions" | "default";
  keys?: string[];
  sessionIdPrefix?: string;
}

export interface WatchChangesOptions extends ChangeFilter {
  /** A cursor from a change, a heartbeat or a listing; absent: from now. */
  after?: string;
  signal?: AbortSignal;
  onCreated?: (created: { cursor: string }) => void;
  /** Heartbeats carry the cursor to resume from while nothing matches the filter. */
  onHeartbeat?: (heartbeat: { cursor: string }) => void;
}

const KINDS: Record<number, FeedChangeKind> = {
  [FeedKind.SESSION_CREATED]: "session_created",
  [FeedKind.SESSION_DELETED]: "session_deleted",
  [FeedKind.SETTINGS]: "settings",
  [FeedKind.CONTROLS]: "controls",
};
const SCOPE_FILTERS = { sessions: ScopeFilter.SESSIONS, default: ScopeFilter.DEFAULT } as const;

const scopeOf = (scope: ScopePb): Scope => (scope === ScopePb.DEFAULT ? "default" : "session");

/** The cache key of a scope: its session id, or "" for the default scope. */
const keyOf = (s: { scope: Scope; sessionId: string }) => (s.scope === "default" ? "" : s.sessionId);

export function changesApi(transport: Transport) {
  const api = createClient(ChangesService, transport);

  async function listPage(pageToken = "", pageSize = 0) {
    const r = await guard(api.listSettings({ pageSize, pageToken }));
    const items = r.items.map((i): ScopeState => ({
      ...tupleOf({ controls: i.controls, revision: i.revision }),
      settings: i.settings ?? {},
      sessionId: i.sessionId,
      scope: scopeOf(i.scope),
    }));
    return { items, nextPageToken: r.nextPageToken || undefined, cursor: r.cursor };
  }

  async function* watch(options: WatchChangesOptions = {}): AsyncGenerator<FeedChange> {
    const stream = api.watchChanges(
      {
        after: options.after,
        scope: options.scope ? SCOPE_FILTERS[options.scope] : ScopeFilter.UNSPECIFIED,
        keys: options.keys ?? [],
        sessionIdPrefix: options.sessionIdPrefix ?? "",
      },
      { signal: options.signal },
    );
    try {
      for await (const m of stream) {
        if (m.created) options.onCreated?.({ cursor: m.cursor });
        else if (m.heartbeat) options.onHeartbeat?.({ cursor: m.cursor });
        else if (m.change) {
          const c = m.change;
          yield { cursor: c.cursor, sessionId: c.sessionId, scope: scopeOf(c.scope), revision: c.revision, kind: KINDS[c.kind] ?? "settings", entry: changeOf(c.entry!) };
        }
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      throw settingsError(err);
    }
  }

  return {
    /** One page of every scope's state, with the cursor to watch from after the last page. */
    list: listPage,
    watch,

    /**
     * Lists every scope (all pages), then follows the feed from the listing's
     * cursor. Yields `synced` once the listing is in, then each change that is
     * new to the cache (with the cache after it). `scopes` is the cache itself.
     */
    async *listThenWatch(options: { signal?: AbortSignal; pageSize?: number } = {}) {
      const scopes = new Map<string, ScopeState>();
      let page = await listPage("", options.pageSize);
      const cursor = page.cursor;
      for (;;) {
        for (const item of page.items) scopes.set(keyOf(item), item);
        if (!page.nextPageToken) break;
        page = await listPage(page.nextPageToken, options.pageSize);
      }
      yield { type: "synced" as const, cursor, scopes };
      for await (const change of watch({ after: cursor, signal: options.signal })) {
        if (apply(scopes, change)) yield { type: "change" as const, change, scopes };
      }
    },
  };
}

/** Applies one feed change to a cache; answers false when the cache already had it (or has nothing to change). */
export function apply(scopes: Map<string, ScopeState>, change: FeedChange): boolean {
  const key = keyOf(change);
  const held = scopes.get(key);
  switch (change.kind) {
    case "session_created": {
      if (held) return false;
      const state: ScopeState = { sessionId: change.sessionId, scope: "session", revision: change.revision, settings: {}, model: null, approvalPolicy: "untrusted", networkAccess: "restricted", filesystemSandbox: "read-only" };
      applyEntry(state, change);
      scopes.set(key, state);
      return true;
    }
    case "session_deleted":
      return scopes.delete(key);
    default:
      if (!held || held.revision >= change.revision) return false;
      applyEntry(held, change);
      held.revision = change.revision;
      return true;
  }
}

function applyEntry(state: ScopeState, change: FeedChange): void {
  for (const c of change.entry.changes) {
    if (c.kind === "control") Object.assign(state, { [c.key]: c.after ?? null });
    else if (c.after === undefined) delete state.settings[c.key];
    else setOwn(state.settings, c.key, c.after);
  }
}
