// The reads issue 23 adds over every store: ListSettings (every scope a page
// at a time, with the cursor taken when the listing began, so that
// list-then-watch misses nothing), WatchChanges (the store-wide feed), and a
// scope as it was at a past revision (its current state with the later
// history undone; older than retained history is HISTORY_TRUNCATED).
import { authorize, type Principal } from "../auth.js";
import { errors, issue } from "../domain/errors.js";
import { decodeCursor, encodeCursor } from "../domain/feed.js";
import { rewindTuple } from "../domain/rewind.js";
import type { ScopeRef, Tuple } from "../domain/types.js";
import type { Protocol } from "../observe/calls.js";
import type { ListedTuple, Store } from "../store/store.js";
import { openChangesWatch, type ChangeFilter } from "./changes.js";
import type { OperationHooks, OperationsConfig, RequestChecks } from "./requests.js";
import { pageLimit } from "./sessions.js";

export interface SettingsListing {
  items: ListedTuple[];
  nextPageToken: string;
  cursor: string;
}

/** A listing's page token: the cursor taken when it began, and the last session id listed. */
interface PageToken {
  c: string;
  a: string;
}

export function feedReads(store: Store, config: OperationsConfig, req: RequestChecks, hooks: OperationHooks) {
  /** The tuple as it was at `revision`: the current one with every later entry undone. */
  async function tupleAt(ref: ScopeRef, revision: bigint): Promise<Tuple> {
    const current = await store.readTuple(ref);
    if (revision > current.revision) {
      throw errors.invalid([issue("atRevision", `is ahead of the current revision ${current.revision}`, "too_big")]);
    }
    if (revision === current.revision) return current;
    return rewindTuple(current, await store.historySince(ref, revision), revision);
  }

  return {
    tupleAt,

    async listSettings(pageSize: number, pageToken: string, caller?: Principal): Promise<SettingsListing> {
      authorize(caller, "read", "list settings");
      const r = req.rules();
      const limit = pageLimit(r, "pageSize", pageSize);
      let token: PageToken | undefined;
      if (pageToken !== "") {
        token = parseToken(pageToken);
        if (!token) r.fail("pageToken", "is not a page token this service gave out", "invalid_format");
        else if (token.a !== "") r.sessionId("pageToken", token.a);
      }
      r.throwIfInvalid();
      // The cursor comes first: every change after it is in the feed, every one before it in the pages read after.
      const cursor = token?.c ?? encodeCursor(await store.feedHead());
      const page = await store.listTuples(limit, token?.a);
      return {
        items: page.tuples,
        nextPageToken: page.nextAfter === undefined ? "" : Buffer.from(JSON.stringify({ c: cursor, a: page.nextAfter } satisfies PageToken)).toString("base64url"),
        cursor,
      };
    },

    async watchChanges(options: { after?: string; filter: ChangeFilter; signal: AbortSignal; caller?: Principal; protocol: Protocol }) {
      authorize(options.caller, "read", "watch changes");
      const r = req.rules();
      const keys = (options.filter.keys ?? []).map((k, i) => r.key(["keys", i], k));
      r.sessionIdPrefix("sessionIdPrefix", options.filter.sessionIdPrefix);
      r.throwIfInvalid();
      const after = options.after === undefined || options.after === "" ? undefined : decodeCursor(options.after);
      let closed: (() => void) | undefined;
      const watch = await openChangesWatch(store, {
        after,
        filter: { ...options.filter, keys: keys as string[] },
        heartbeatMs: config.watchHeartbeatMs,
        backlog: config.watchBacklog,
        signal: options.signal,
        onEnd: () => closed?.(),
      });
      closed = hooks.watchOpened?.(options.protocol);
      watch.overflow.addEventListener("abort", () => hooks.watchCutOff?.({ sessionId: "", scope: "session" }, options.protocol), { once: true });
      return watch;
    },
  };
}

function parseToken(text: string): PageToken | undefined {
  try {
    const t = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as Partial<PageToken>;
    if (typeof t.c !== "string" || typeof t.a !== "string") return undefined;
    decodeCursor(t.c);
    return { c: t.c, a: t.a };
  } catch {
    return undefined;
  }
}
