// Ending an HTTP/2 session without aborting the process. Node announces
// streams, and runs their handlers, from inside nghttp2's loop over the bytes
// just received; a session destroyed there aborts the process later in that
// loop or when it is collected. Each was found by h2-fuzz.test.ts, on Node 20.20:
//   - nghttp2's assertion `iframe->state == NGHTTP2_IB_IGN_ALL`, when more frames
//     follow in the same bytes (nghttp2/nghttp2#2509; Node's `onread->IsFunction()`,
//     nodejs/node#64850, is the same kind);
//   - `current_nghttp2_memory_ == 0` in ~Http2Session, when the session is
//     collected, after Node destroyed it on a GOAWAY from the client while a
//     request whose content-length its END_STREAM contradicts was arriving.
// So every destroy of a session, Node's own and ours, waits a turn of the event loop.
import http2 from "node:http2";

const { NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

const ending = new WeakSet<http2.Http2Session>();

/** A session destroyed, or about to be: nothing more is done for it. */
export const ended = (session: http2.Http2Session): boolean => session.destroyed || ending.has(session);

/** Ends an abusive session with GOAWAY (ENHANCE_YOUR_CALM), a turn of the event loop from now. */
export function endSession(session: http2.Http2Session): void {
  ending.add(session);
  setImmediate(() => {
    if (session.destroyed) return;
    session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    session.destroy();
  });
}

/** Makes every destroy of `session` (Node calls it too: on a client's GOAWAY, on a closing session's last stream) wait a turn. */
export function deferDestroy(session: http2.Http2Session): void {
  const destroy = session.destroy;
  session.destroy = function (this: http2.Http2Session, ...args: Parameters<typeof destroy>) {
    setImmediate(() => {
      if (!this.destroyed) destroy.apply(this, args);
    });
  };
}
