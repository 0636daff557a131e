// WatchSettings: an ordered, resumable stream of one tuple's changes, with no
// gap and no duplicate even while writes race the subscription.
//
// The order of steps is what makes it whole:
//   1. subscribe, buffering every event from now on;
//   2. read the current map and revision R (one atomic read);
//   3. with fromRevision F, read retained history after F (it reaches at
//      least R) and replay it;
//   4. go live from the buffer, skipping revisions already sent, and filling
//      any hole from history (a lost pub/sub message can never skip a change).
// An event may appear both in history and in the buffer; revisions dedupe it.
import { errors, issue } from "../domain/errors.js";
import { setOwn } from "../domain/json.js";
import type { HistoryEntry, JsonObject, JsonValue, ScopeRef, StoreEvent } from "../domain/types.js";
import type { Store, Unsubscribe } from "../store/store.js";

export type WatchItem =
  | { type: "change"; entry: HistoryEntry; settings?: JsonObject }
  | { type: "heartbeat" };

export interface WatchOptions {
  fromRevision?: bigint;
  includeSettings: boolean;
  heartbeatMs: number;
  /** Ends the stream cleanly (client gone, or server shutting down). */
  signal: AbortSignal;
}

/** Sets up a watch (throwing like any call on a bad session), then answers its stream. */
export async function openWatch(store: Store, ref: ScopeRef, options: WatchOptions): Promise<AsyncIterable<WatchItem>> {
  const queue: StoreEvent[] = [];
  let wake: (() => void) | undefined;
  const push = (event: StoreEvent) => {
    queue.push(event);
    wake?.();
  };
  const unsubscribes: Unsubscribe[] = [];
  const release = () => unsubscribes.splice(0).forEach((u) => u());
  try {
    await store.requireActiveSession(ref.sessionId);
    unsubscribes.push(await store.subscribe({ sessionId: ref.scope === "default" ? undefined : ref.sessionId }, push));
    // A default-scope watch is addressed through a session: it ends when that session does.
    if (ref.scope === "default") {
      unsubscribes.push(await store.subscribe({ sessionId: ref.sessionId }, (e) => e.type !== "change" && push(e)));
    }
    const snapshot = await store.readSettings(ref);
    if (!("settings" in snapshot)) throw new Error("a map read answered a key");
    const from = options.fromRevision;
    if (from !== undefined && from > snapshot.revision) {
      throw errors.invalid([issue("fromRevision", `is ahead of the current revision ${snapshot.revision}`, "too_big")]);
    }
    const replay = from === undefined ? [] : await store.historySince(ref, from);
    const map = options.includeSettings ? rewind(snapshot.settings, replay, snapshot.revision) : undefined;
    // A stream that is never read still lets go of its subscriptions when its call ends.
    options.signal.addEventListener("abort", release, { once: true });
    return stream(store, ref, options, { queue, replay, map, last: from ?? snapshot.revision, release, setWake: (w) => (wake = w) });
  } catch (err) {
    release();
    throw err;
  }
}

interface StreamState {
  queue: StoreEvent[];
  replay: HistoryEntry[];
  map: JsonObject | undefined;
  last: bigint;
  release: () => void;
  setWake: (wake: (() => void) | undefined) => void;
}

async function* stream(store: Store, ref: ScopeRef, options: WatchOptions, state: StreamState): AsyncGenerator<WatchItem> {
  const { queue, map } = state;
  const { signal } = options;
  let last = state.last;
  const emit = (entry: HistoryEntry): WatchItem => {
    last = entry.revision;
    if (!map) return { type: "change", entry };
    applyForward(map, entry);
    return { type: "change", entry, settings: { ...map } };
  };
  try {
    for (const entry of state.replay) if (entry.revision > last) yield emit(entry);
    while (!signal.aborted) {
      const event = queue.shift();
      if (!event) {
        if ((await nextWake(state, options)) === "heartbeat") yield { type: "heartbeat" };
        continue;
      }
      if (event.type === "deleted") throw errors.deleted(event.sessionId, event.deletedAt);
      if (event.type === "unavailable") throw errors.unavailable();
      const entry = event.entry;
      if (entry.revision <= last) continue;
      if (entry.revision > last + 1n) {
        for (const missed of await store.historySince(ref, last)) {
          if (missed.revision > last && missed.revision < entry.revision) yield emit(missed);
        }
      }
      yield emit(entry);
    }
  } finally {
    state.release();
  }
}

/** Waits for an event, the heartbeat interval, or the end of the stream. */
function nextWake(state: StreamState, options: WatchOptions): Promise<"event" | "heartbeat" | "aborted"> {
  return new Promise((resolve) => {
    const done = (why: "event" | "heartbeat" | "aborted") => {
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      state.setWake(undefined);
      resolve(why);
    };
    const onAbort = () => done("aborted");
    const timer = setTimeout(() => done("heartbeat"), options.heartbeatMs);
    options.signal.addEventListener("abort", onAbort);
    state.setWake(() => done("event"));
  });
}

/** The map as it was before `entries` after `atRevision`'s snapshot, undoing each change. */
function rewind(snapshot: JsonObject, entries: HistoryEntry[], atRevision: bigint): JsonObject {
  const map = { ...snapshot };
  for (const entry of [...entries].reverse()) {
    if (entry.revision > atRevision) continue;
    for (const change of entry.changes) if (change.kind === "setting") put(map, change.key, change.before);
  }
  return map;
}

function applyForward(map: JsonObject, entry: HistoryEntry): void {
  for (const change of entry.changes) if (change.kind === "setting") put(map, change.key, change.after);
}

function put(map: JsonObject, key: string, value: JsonValue | undefined): void {
  if (value === undefined) delete map[key];
  else setOwn(map, key, value);
}
