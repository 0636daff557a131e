// Writing a long-lived stream (a watch) to a client that may read slowly or
// not at all. Nothing is written past a full socket buffer: the writer waits
// for it to drain, so unsent changes stay in the watcher's bounded backlog.
// An answer, or its last bytes, that the client does not take is dropped by
// the connection's guard (write-stall.ts), whichever path wrote it.
import type { Res } from "./http-types.js";

/**
 * Whether the client is gone: the connection (HTTP/1.1) or the stream (HTTP/2)
 * is destroyed. (HTTP/2's compat response has no `destroyed` of its own.)
 */
export function gone(res: Res): boolean {
  return res.destroyed === true || ("stream" in res && res.stream.destroyed);
}

/** Whether the response's buffer is full. (HTTP/2's compat response has no `writableNeedDrain`: its stream does.) */
function needsDrain(res: Res): boolean {
  return "stream" in res ? res.stream.writableNeedDrain : res.writableNeedDrain;
}

/**
 * Resolves when `res` can take more, or when one of `stops` aborts or the
 * client goes away (the caller checks which). Listens to each signal itself:
 * no AbortSignal.any per stream.
 */
export function drained(res: Res, ...stops: (AbortSignal | undefined)[]): Promise<void> {
  const signals = stops.filter((s): s is AbortSignal => s !== undefined);
  if (!needsDrain(res) || signals.some((s) => s.aborted) || gone(res)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      for (const s of signals) s.removeEventListener("abort", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
    for (const s of signals) s.addEventListener("abort", done, { once: true });
  });
}

/** Ends the response with its last bytes, unless the client is gone. */
export function finish(res: Res, last?: Uint8Array | string): void {
  if (gone(res)) return;
  if (last === undefined) res.end();
  else res.end(last);
}
