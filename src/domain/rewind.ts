// History run backwards and forwards: every entry records each changed key
// and control with its value before and after, so a scope's state at an
// earlier retained revision is its current state with the later entries
// undone, newest first (reads at a past revision, a watch's starting map),
// and a map moves forward by applying an entry's "after" values.
import { setOwn } from "./json.js";
import type { ControlFields, HistoryEntry, JsonObject, JsonValue, Tuple } from "./types.js";

/** The map as it was at `revision`, from the map at `current` and the entries after `revision` (any order, any extra). */
export function rewindSettings(map: JsonObject, entries: HistoryEntry[], revision: bigint, current: bigint): JsonObject {
  const out = { ...map };
  for (const entry of newestFirst(entries, revision, current)) {
    for (const change of entry.changes) if (change.kind === "setting") put(out, change.key, change.before);
  }
  return out;
}

/** The whole tuple (controls and settings) as it was at `revision`. */
export function rewindTuple(tuple: Tuple, entries: HistoryEntry[], revision: bigint): Tuple {
  const controls: ControlFields = { model: tuple.model, approvalPolicy: tuple.approvalPolicy, networkAccess: tuple.networkAccess, filesystemSandbox: tuple.filesystemSandbox };
  for (const entry of newestFirst(entries, revision, tuple.revision)) {
    for (const change of entry.changes) {
      if (change.kind === "control") Object.assign(controls, { [change.key]: change.before ?? null });
    }
  }
  return { ...controls, settings: rewindSettings(tuple.settings, entries, revision, tuple.revision), revision };
}

/** Applies one entry's changes to `map`, in place. */
export function applyForward(map: JsonObject, entry: HistoryEntry): void {
  for (const change of entry.changes) if (change.kind === "setting") put(map, change.key, change.after);
}

/** The entries in (revision, current], newest first. */
function newestFirst(entries: HistoryEntry[], revision: bigint, current: bigint): HistoryEntry[] {
  return entries.filter((e) => e.revision > revision && e.revision <= current).sort((a, b) => (a.revision < b.revision ? 1 : -1));
}

function put(map: JsonObject, key: string, value: JsonValue | undefined): void {
  if (value === undefined) delete map[key];
  else setOwn(map, key, value);
}
