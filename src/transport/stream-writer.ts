// Writing a long-lived stream (a watch) to a client that may read slowly or
// not at all. Nothing is written past a full socket buffer: the writer waits
// for it to drain, so unsent changes stay in the watcher's bounded backlog.
// When the stream must end while the client is not reading, the last bytes
// get a bounded time to leave; then the connection (HTTP/1.1) or the stream
// (HTTP/2) is dropped.
import type { Req, Res } from "./http-json.js";

export const FLUSH_TIMEOUT_MS = 10_000;

/**
 * Resolves when `res` can take more, or when `stop` aborts or the client goes
 * away (the caller checks which).
 */
export function drained(res: Res, stop: AbortSignal): Promise<void> {
  if (!res.writableNeedDrain || stop.aborted || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      stop.removeEventListener("abort", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
    stop.addEventListener("abort", done, { once: true });
  });
}

/** Ends the response, and drops it if the client has not taken the rest within FLUSH_TIMEOUT_MS. */
export function endWithin(req: Req, res: Res, last?: Uint8Array | string): void {
  if (res.destroyed) return;
  const timer = setTimeout(() => req.destroy(), FLUSH_TIMEOUT_MS);
  res.once("finish", () => clearTimeout(timer));
  res.once("close", () => clearTimeout(timer));
  if (last === undefined) res.end();
  else res.end(last);
}
