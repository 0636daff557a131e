// The change feed for REST clients: GET /api/settings lists every scope a
// page at a time with the cursor to watch from, and GET /api/events streams
// every change after a cursor as Server-Sent Events (`event: created` with
// the cursor, `event: change` whose id is its cursor, so an EventSource
// resumes with Last-Event-ID by itself, `event: heartbeat`, and a last
// `event: error`). A change's text is built once per cursor, however many
// watchers receive it.
import { errors } from "../../domain/errors.js";
import type { FeedChange } from "../../domain/types.js";
import type { ChangesItem } from "../../service/changes.js";
import { streamSse } from "./events.js";
import { ok, type Handler } from "./route-context.js";
import { changesQuery, listSettingsQuery, toIssues } from "./schemas.js";
import { feedChangeJson, listedTupleJson } from "./views.js";

const texts = new WeakMap<FeedChange, Map<string, string>>();

function changeText(change: FeedChange, cursor: string): string {
  let byCursor = texts.get(change);
  if (!byCursor) texts.set(change, (byCursor = new Map()));
  let text = byCursor.get(cursor);
  if (text === undefined) byCursor.set(cursor, (text = `id: ${cursor}\nevent: change\ndata: ${JSON.stringify(feedChangeJson(change, cursor))}\n\n`));
  return text;
}

function eventText(item: ChangesItem): string {
  if (item.type === "change") return changeText(item.change, item.cursor);
  return `event: ${item.type}\ndata: ${JSON.stringify({ cursor: item.cursor })}\n\n`;
}

export const listSettings: Handler = async ({ query, ops, caller }) => {
  const q = listSettingsQuery.safeParse(Object.fromEntries(query));
  if (!q.success) throw errors.invalid(toIssues(q.error));
  const page = await ops.listSettings(Number(q.data.pageSize ?? 0), q.data.pageToken ?? "", caller);
  return ok({ items: page.items.map(listedTupleJson), nextPageToken: page.nextPageToken || null, cursor: page.cursor });
};

export const getChanges: Handler = async ({ query, req, res, ops, log, signal, caller }) => {
  const q = changesQuery.safeParse({ ...Object.fromEntries(query), key: query.has("key") ? query.getAll("key") : undefined });
  if (!q.success) throw errors.invalid(toIssues(q.error));
  const lastEventId = req.headers["last-event-id"];
  const scope = q.data.scope === "default" ? "default" : q.data.scope ? "sessions" : undefined;
  const watch = await ops.watchChanges({
    after: q.data.after ?? (typeof lastEventId === "string" && lastEventId !== "" ? lastEventId : undefined),
    filter: { scope, keys: q.data.key, sessionIdPrefix: q.data.sessionIdPrefix || undefined },
    signal,
    caller,
    protocol: "rest",
  });
  await streamSse(res, watch, eventText, watch.overflow, { ops, log, signal }, "GET /api/events");
  return undefined;
};
