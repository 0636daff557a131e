// Server-Sent Events for WatchSettings: a browser EventSource or `curl -N`
// follows changes without any Connect library. The stream opens at once with
// `event: created`; each change is one `event: change` whose id is its
// revision, so EventSource resumes with Last-Event-ID by itself; idle
// streams get `event: heartbeat` with the current revision. A change's text
// is built once, however many watchers receive it.
import type { HistoryEntry } from "../../domain/types.js";
import type { Logger } from "../../observe/log.js";
import type { Operations } from "../../service/operations.js";
import type { Watch, WatchItem } from "../../service/watch.js";
import type { Res } from "../http-types.js";
import { drained, finish, gone } from "../stream-writer.js";
import { restError } from "./errors.js";
import { historyEntryJson } from "./views.js";

const shared = new WeakMap<HistoryEntry, string>();

function changeEvent(entry: HistoryEntry): string {
  let text = shared.get(entry);
  if (text === undefined) {
    text = `id: ${entry.revision}\nevent: change\ndata: ${JSON.stringify(historyEntryJson(entry))}\n\n`;
    shared.set(entry, text);
  }
  return text;
}

function eventText(item: WatchItem): string {
  switch (item.type) {
    case "created":
      return `event: created\ndata: {"revision":${item.revision}}\n\n`;
    case "heartbeat":
      return `event: heartbeat\ndata: {"revision":${item.revision}}\n\n`;
    case "change":
      if (!item.settings) return changeEvent(item.entry);
      return `id: ${item.entry.revision}\nevent: change\ndata: ${JSON.stringify({ ...historyEntryJson(item.entry), settings: item.settings })}\n\n`;
  }
}

export interface SseDeps {
  ops: Operations;
  log: Logger;
  signal: AbortSignal;
}

/** Streams WatchSettings as Server-Sent Events. */
export function streamEvents(res: Res, watch: Watch, deps: SseDeps): Promise<void> {
  return streamSse(res, watch, eventText, watch.overflow, deps, "GET /api/sessions/:sessionId/settings/events");
}

/**
 * Writes a watch's items as Server-Sent Events, only as fast as the client
 * takes them (the watch's backlog absorbs the rest, and `overflow` ends the
 * stream at once); a failure after the headers is a last `event: error` whose
 * data is the REST error body plus httpStatus.
 */
export async function streamSse<T>(res: Res, items: AsyncIterable<T>, text: (item: T) => string, overflow: AbortSignal, deps: SseDeps, route: string): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
  });
  res.write("retry: 2000\n\n");
  let last: string | undefined;
  try {
    for await (const item of items) {
      if (!res.write(text(item))) await drained(res, deps.signal, overflow);
      if (gone(res)) return;
    }
  } catch (err) {
    // Headers are gone already: the error travels as a final event with the REST body.
    const answer = await restError(err, deps.ops, deps.log, route);
    last = `event: error\ndata: ${JSON.stringify({ httpStatus: answer.status, ...(answer.body as object) })}\n\n`;
  }
  finish(res, last);
}
