// Domain values in codex-manager's REST JSON: its spellings, revisions as numbers.
import type { HistoryEntry, JsonObject, SessionRecord, Tuple } from "../../domain/types.js";
import type { ControlsView } from "../../service/operations.js";

export function tupleJson(t: Omit<Tuple, "revision"> & { revision?: bigint }): Record<string, unknown> {
  const out: Record<string, unknown> = {
    model: t.model,
    approvalPolicy: t.approvalPolicy,
    networkAccess: t.networkAccess,
    filesystemSandbox: t.filesystemSandbox,
    settings: t.settings,
  };
  if (t.revision !== undefined) out.revision = Number(t.revision);
  return out;
}

export function sessionJson(session: SessionRecord, tuple: Tuple): Record<string, unknown> {
  return {
    sessionId: session.sessionId,
    cwd: session.cwd,
    createdAt: session.createdAt.toISOString(),
    systemOwned: session.systemOwned,
    sessionControls: tupleJson(tuple),
  };
}

export function controlsViewJson(view: ControlsView): Record<string, unknown> {
  return {
    controls: tupleJson(view.session),
    defaults: tupleJson(view.defaults),
    defaultsEditable: view.defaultsEditable,
    defaultLockReason: view.defaultLockReason,
  };
}

export function settingsJson(settings: JsonObject | undefined): JsonObject {
  return settings ?? {};
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
