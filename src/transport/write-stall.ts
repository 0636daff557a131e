// Answers a client does not take (SPEC §4: every resource a client can hold
// is bounded). Whatever wrote an answer (the fast paths, connect-node, REST,
// SSE, the panel's files), its unsent bytes wait in one of two places: an
// HTTP/2 stream whose flow-control window the client keeps shut, or a
// connection whose socket the client does not read. Both are watched here by
// one sweep: one that holds bytes and lets none of them go for
// HTTP_WRITE_STALL_MS is dropped (the caller resets the stream or closes the
// connection), and the memory of its answer goes with it.
//
// The stall is measured from the last progress, not from the end of the
// answer: a client that takes a long answer slowly gets all of it, the end of
// a stream (its error, its trailers) included. Progress is what has left:
// a socket's queue shrinks byte by byte; an HTTP/2 stream's, one write at a
// time (Node reports nothing finer).
import type net from "node:net";
import type { Writable } from "node:stream";

/** Sweeps per bound: a stall takes this many sweeps without progress, so a late event loop never looks like a stalled client. */
const SWEEPS = 4;

interface Watched {
  /** Bytes waiting to leave: fewer than at the last sweep (or none) is progress. */
  waiting(): number;
  drop(): void;
  last: number;
  /** When these bytes started waiting, or last made progress. */
  since: number;
  /** Sweeps since then. */
  quiet: number;
}

/** Bytes a stream holds: its buffer, and for a socket the kernel's refusals queued in libuv. */
export function waitingIn(w: Writable | net.Socket): number {
  const handle = (w as { _handle?: { writeQueueSize?: number } | null })._handle;
  return w.writableLength + (handle?.writeQueueSize ?? 0);
}

export class WriteStalls {
  private readonly watched = new Map<object, Watched>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly stallMs: number) {}

  /** Watches `target` until it closes; `drop` runs once if it stalls. */
  watch(target: Writable, drop: () => void): void {
    this.watched.set(target, { waiting: () => waitingIn(target), drop, last: 0, since: 0, quiet: 0 });
    target.once("close", () => this.watched.delete(target));
    this.timer ??= setInterval(() => this.sweep(), Math.max(25, this.stallMs / SWEEPS)).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [target, w] of this.watched) {
      const waiting = w.waiting();
      // Bytes that have just started to wait (none at the last sweep), or fewer of them: progress.
      if (waiting === 0 || w.last === 0 || waiting < w.last) {
        w.since = now;
        w.quiet = 0;
      } else if (++w.quiet >= SWEEPS && now - w.since >= this.stallMs) {
        this.watched.delete(target);
        w.drop();
        continue;
      }
      w.last = waiting;
    }
  }
}
