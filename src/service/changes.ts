// WatchChanges: the store-wide change feed as a stream, with no gap and no
// duplicate, as WatchSettings is for one scope (./watch.ts):
//   1. subscribe to the feed, queueing every change from now on;
//   2. read the feed's head H and answer `created` at H at once;
//   3. with `after`, replay the retained feed after it, page by page, up to H;
//   4. go live from the queue, skipping positions already sent and filling
//      any hole in a shard from the stored feed.
// Filters (scope kind, top-level keys, session id prefix) choose what is
// sent; the cursor moves past every change, sent or not, so heartbeats and
// resumes never replay what a filter skipped.
import { errors } from "../domain/errors.js";
import { advance, encodeCursor, isAfter, type FeedCursor } from "../domain/feed.js";
import type { FeedChange, FeedEvent } from "../domain/types.js";
import type { Store, Unsubscribe } from "../store/store.js";
import { Backlog } from "./watch-backlog.js";
import type { StreamOptions } from "./watch.js";

/** Which changes a watcher wants; absent fields do not filter. */
export interface ChangeFilter {
  scope?: "sessions" | "default";
  /** Only changes that touch one of these top-level keys (a deletion touches every key of its session). */
  keys?: string[];
  sessionIdPrefix?: string;
}

export type ChangesItem =
  | { type: "created"; cursor: string }
  | { type: "change"; cursor: string; change: FeedChange }
  | { type: "heartbeat"; cursor: string };

export interface ChangesOptions extends StreamOptions {
  after?: FeedCursor;
  filter: ChangeFilter;
}

export interface ChangesWatch extends AsyncIterable<ChangesItem> {
  readonly overflow: AbortSignal;
}

/** Feed entries read per page while replaying or filling a hole. */
const PAGE = 500;

export function matches(change: FeedChange, filter: ChangeFilter): boolean {
  if (filter.scope === "sessions" && change.scope !== "session") return false;
  if (filter.scope === "default" && change.scope !== "default") return false;
  if (filter.sessionIdPrefix && !(change.scope === "session" && change.sessionId.startsWith(filter.sessionIdPrefix))) return false;
  if (filter.keys && filter.keys.length > 0 && change.kind !== "session_deleted") {
    const touched = change.entry.changes.some((c) => c.kind === "setting" && filter.keys!.includes(c.key));
    if (!touched) return false;
  }
  return true;
}

/** Sets up the watch (throwing HISTORY_TRUNCATED when `after` is too old), then answers its stream. */
export async function openChangesWatch(store: Store, options: ChangesOptions): Promise<ChangesWatch> {
  const queue = new Backlog<FeedEvent>(options.backlog, options.heartbeatMs, options.signal);
  let unsubscribe: Unsubscribe | undefined;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    unsubscribe?.();
    queue.close();
    options.onEnd?.();
  };
  queue.overflow.addEventListener("abort", release, { once: true });
  try {
    unsubscribe = await store.subscribeFeed((e) => queue.push(e));
    const head = await store.feedHead();
    // Fails now, before `created`, when the feed no longer reaches `after`.
    const first = options.after ? await store.readFeed(options.after, PAGE) : [];
    options.signal.addEventListener("abort", release, { once: true });
    return {
      overflow: queue.overflow,
      [Symbol.asyncIterator]: () => stream(store, options, queue, head, first, release),
    };
  } catch (err) {
    release();
    throw err;
  }
}

async function* stream(
  store: Store,
  options: ChangesOptions,
  queue: Backlog<FeedEvent>,
  head: FeedCursor,
  first: FeedChange[],
  release: () => void,
): AsyncGenerator<ChangesItem> {
  let cursor: FeedCursor = options.after ?? head;
  /** Takes one change in order: moves the cursor past it, and answers it if the filter wants it. */
  const take = (change: FeedChange): ChangesItem | undefined => {
    if (!isAfter(change.position, cursor)) return undefined;
    cursor = advance(cursor, change.position);
    return matches(change, options.filter) ? { type: "change", cursor: encodeCursor(cursor), change } : undefined;
  };
  try {
    yield { type: "created", cursor: encodeCursor(head) };
    // Replay what the stored feed holds after `after`; what the queue also holds is skipped there.
    for (let page = first; page.length > 0; page = page.length < PAGE ? [] : await store.readFeed(cursor, PAGE)) {
      for (const change of page) {
        const item = take(change);
        if (item) yield item;
      }
    }
    while (!options.signal.aborted) {
      if (queue.overflow.aborted) throw queue.overflow.reason;
      const event = queue.shift();
      if (!event) {
        if ((await queue.next()) === "heartbeat") yield { type: "heartbeat", cursor: encodeCursor(cursor) };
        continue;
      }
      if (event.type === "unavailable") throw errors.unavailable();
      const { position } = event.change;
      // A hole in this shard (a change the queue never got): fill it from the stored feed first.
      while (position.seq > (cursor.get(position.shard) ?? 0n) + 1n) {
        const page = await store.readFeed(cursor, PAGE, position.shard);
        const missed = page.filter((c) => c.position.seq < position.seq);
        for (const change of missed) {
          const item = take(change);
          if (item) yield item;
        }
        if (missed.length < PAGE) break;
      }
      const item = take(event.change);
      if (item) yield item;
    }
  } finally {
    release();
  }
}
