// Domain values in codex-manager's REST JSON: its spellings, revisions as numbers.
import type { ControlFields, FeedChange, HistoryEntry, JsonObject, SessionRecord } from "../../domain/types.js";
import type { ControlsView } from "../../service/operations.js";
import type { ListedSession, ListedTuple } from "../../store/store.js";

/** A controls tuple; settings and revision when known (a listed session carries neither). */
export function tupleJson(t: ControlFields & { settings?: JsonObject; revision?: bigint }): Record<string, unknown> {
  const out: Record<string, unknown> = {
    model: t.model,
    approvalPolicy: t.approvalPolicy,
    networkAccess: t.networkAccess,
    filesystemSandbox: t.filesystemSandbox,
  };
  if (t.settings !== undefined) out.settings = t.settings;
  if (t.revision !== undefined) out.revision = Number(t.revision);
  return out;
}

/** Unix seconds, as codex-manager's session timestamps are. */
const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

/**
 * A session in codex-manager's SessionSummary shape, plus systemOwned. The
 * fields that describe a Codex thread have fixed values here: this service
 * keeps settings, not conversations (see the README).
 */
export function sessionJson(session: SessionRecord, controls: ControlFields & { settings?: JsonObject; revision?: bigint }): Record<string, unknown> {
  return {
    sessionId: session.sessionId,
    title: UNTITLED,
    materialized: false,
    modelProvider: "",
    approvalPolicy: controls.approvalPolicy,
    sessionControls: tupleJson(controls),
    createdAt: seconds(session.createdAt),
    updatedAt: seconds(session.updatedAt),
    cwd: session.cwd,
    source: "unknown",
    projectId: null,
    systemOwned: session.systemOwned,
  };
}

/** codex-manager's title for a session that has none. */
const UNTITLED = "New chat";

/** A page of sessions as codex-manager's GET /api/sessions answers it. */
export function sessionListJson(sessions: ListedSession[], nextCursor: string | null, archived: boolean): Record<string, unknown> {
  return { data: sessions.map((s) => sessionJson(s.session, s.controls)), nextCursor, archived };
}

export function controlsViewJson(view: ControlsView): Record<string, unknown> {
  return {
    controls: tupleJson(view.session),
    defaults: tupleJson(view.defaults),
    defaultsEditable: view.defaultsEditable,
    defaultLockReason: view.defaultLockReason,
  };
}

export function historyEntryJson(e: HistoryEntry): Record<string, unknown> {
  return {
    revision: Number(e.revision),
    scope: e.scope,
    op: e.op,
    actor: e.actor,
    ...(e.claimedActor !== undefined && { claimedActor: e.claimedActor }),
    source: e.source,
    time: e.time.toISOString(),
    ...(e.path && { path: e.path }),
    changes: e.changes,
  };
}

/** One scope of a ListSettings page: its state and revision (controls without settings, which sit beside them). */
export function listedTupleJson(t: ListedTuple): Record<string, unknown> {
  const { settings, revision, ...controls } = t.tuple;
  return { sessionId: t.sessionId, scope: t.scope, revision: Number(revision), settings, controls: tupleJson(controls) };
}

/** One change-feed entry; its entry in the REST history shape. */
export function feedChangeJson(change: FeedChange, cursor: string): Record<string, unknown> {
  return {
    cursor,
    sessionId: change.sessionId,
    scope: change.scope,
    revision: Number(change.revision),
    kind: change.kind,
    entry: historyEntryJson(change.entry),
  };
}
