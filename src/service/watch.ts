// WatchSettings: an ordered, resumable stream of one tuple's changes, with no
// gap and no duplicate even while writes race the subscription, and a
// bounded backlog per watcher.
//
// The order of steps is what makes it whole:
//   1. subscribe, queueing every event from now on;
//   2. read the current map and revision R (one atomic read), and answer
//      `created` at R at once;
//   3. with fromRevision F, read retained history after F (it reaches at
//      least R) and replay it;
//   4. go live from the queue, skipping revisions already sent, and filling
//      any hole from history (a lost pub/sub message can never skip a change).
// An event may appear both in history and in the queue; revisions dedupe it.
//
// The queue holds what the watcher has not taken yet. A watcher that stops
// reading lets it grow; past the bound (events or bytes) the watch ends with
// WATCH_BACKLOG, and the client resumes with fromRevision.
import { createContextKey } from "@connectrpc/connect";
import { DomainError, errors, issue } from "../domain/errors.js";
import { applyForward, rewindSettings } from "../domain/rewind.js";
import type { HistoryEntry, JsonObject, ScopeRef, StoreEvent } from "../domain/types.js";
import type { Store, Unsubscribe } from "../store/store.js";
import { Backlog } from "./watch-backlog.js";

export type WatchItem =
  | { type: "created"; revision: bigint }
  | { type: "change"; entry: HistoryEntry; settings?: JsonObject }
  | { type: "heartbeat"; revision: bigint };

/** What every stream of changes is held to and ended by (watches of a scope, and the change feed). */
export interface StreamOptions {
  heartbeatMs: number;
  backlog: { events: number; bytes: number };
  /**
   * Ends the stream: with its reason when that is a DomainError (the server shutting down
   * answers `unavailable`, so the client resumes elsewhere), else cleanly (the client went away).
   */
  signal: AbortSignal;
  /** Called once when the watch lets go of everything it held, however it ended. */
  onEnd?: () => void;
}

export interface WatchOptions extends StreamOptions {
  fromRevision?: bigint;
  includeSettings: boolean;
}

/**
 * Set by a streaming implementation in its context: when this signal aborts,
 * the transport must end the stream at once, even while its socket is full
 * (a transport blocked on a slow reader would otherwise never pull the end).
 */
export const streamInterrupt = createContextKey<AbortSignal | undefined>(undefined, { description: "ends a stream at once" });

export interface Watch extends AsyncIterable<WatchItem> {
  /**
   * Aborted, with the WATCH_BACKLOG error as its reason, when the watcher fell
   * too far behind. A transport blocked on a full socket listens to it to end
   * the stream at once.
   */
  readonly overflow: AbortSignal;
}

/** Sets up a watch (throwing like any call on a bad session), then answers its stream. */
export async function openWatch(store: Store, ref: ScopeRef, options: WatchOptions): Promise<Watch> {
  const queue = new Backlog(options.backlog, options.heartbeatMs, options.signal);
  const unsubscribes: Unsubscribe[] = [];
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    unsubscribes.splice(0).forEach((u) => u());
    queue.close();
    options.onEnd?.();
  };
  queue.overflow.addEventListener("abort", release, { once: true });
  try {
    await store.requireActiveSession(ref.sessionId);
    unsubscribes.push(await store.subscribe({ sessionId: ref.scope === "default" ? undefined : ref.sessionId }, (e) => queue.push(e)));
    // A default-scope watch is addressed through a session: it ends when that session does.
    if (ref.scope === "default") {
      unsubscribes.push(await store.subscribe({ sessionId: ref.sessionId }, (e) => {
        if (e.type !== "change") queue.push(e);
      }));
    }
    const snapshot = await store.readSettings(ref);
    if (!("settings" in snapshot)) throw new Error("a map read answered a key");
    const from = options.fromRevision;
    if (from !== undefined && from > snapshot.revision) {
      throw errors.invalid([issue("fromRevision", `is ahead of the current revision ${snapshot.revision}`, "too_big")]);
    }
    const replay = from === undefined ? [] : await store.historySince(ref, from);
    const map = options.includeSettings ? rewindSettings(snapshot.settings, replay, from ?? snapshot.revision, snapshot.revision) : undefined;
    // A stream that is never read still lets go of its subscriptions when its call ends.
    options.signal.addEventListener("abort", release, { once: true });
    const state: StreamState = { queue, replay, map, created: snapshot.revision, last: from ?? snapshot.revision, release };
    return { overflow: queue.overflow, [Symbol.asyncIterator]: () => stream(store, ref, options, state) };
  } catch (err) {
    release();
    throw err;
  }
}

interface StreamState {
  queue: Backlog;
  replay: HistoryEntry[];
  map: JsonObject | undefined;
  created: bigint;
  last: bigint;
  release: () => void;
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
    yield { type: "created", revision: state.created };
    for (const entry of state.replay) if (entry.revision > last) yield emit(entry);
    while (!signal.aborted) {
      if (queue.overflow.aborted) throw queue.overflow.reason;
      const event = queue.shift();
      if (!event) {
        if ((await queue.next()) === "heartbeat") yield { type: "heartbeat", revision: last };
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
    if (signal.reason instanceof DomainError) throw signal.reason;
  } finally {
    state.release();
  }
}
