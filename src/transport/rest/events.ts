// Server-Sent Events for WatchSettings: a browser EventSource or `curl -N`
// follows changes without any Connect library. Each change is one event whose
// id is its revision, so EventSource resumes with Last-Event-ID on its own.
import type { WatchItem } from "../../service/watch.js";
import type { Res } from "../http-json.js";
import { restError } from "./errors.js";
import type { Logger } from "../../observe/log.js";
import type { Operations } from "../../service/operations.js";
import { historyEntryJson } from "./views.js";

export async function streamEvents(
  res: Res,
  items: AsyncIterable<WatchItem>,
  ops: Operations,
  log: Logger,
): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
  });
  res.write("retry: 2000\n\n");
  try {
    for await (const item of items) {
      if (item.type === "heartbeat") {
        res.write(": keep-alive\n\n");
        continue;
      }
      const data = { ...historyEntryJson(item.entry), ...(item.settings && { settings: item.settings }) };
      res.write(`id: ${item.entry.revision}\nevent: change\ndata: ${JSON.stringify(data)}\n\n`);
    }
  } catch (err) {
    // Headers are gone already: the error travels as a final event with the REST body.
    const answer = await restError(err, ops, log, "GET /api/sessions/:sessionId/settings/events");
    res.write(`event: error\ndata: ${JSON.stringify({ httpStatus: answer.status, ...(answer.body as object) })}\n\n`);
  }
  res.end();
}
