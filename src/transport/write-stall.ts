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
//   - an HTTP/2 stream's queue shrinks a write at a time (Node reports nothing
//     finer; writes buffered meanwhile leave together, about 16 KiB);
//   - a socket's queue shrinks when the kernel takes more, which Linux allows
//     only once half its send buffer (up to 4 MiB) is free: so the kernel's own
//     queue (/proc/net/tcp) is read too, for the sockets that look stalled.
import { readFileSync, readlinkSync } from "node:fs";
import type net from "node:net";
import type { Writable } from "node:stream";

/** Sweeps per bound: a stall takes this many sweeps without progress, so a late event loop never looks like a stalled client. */
const SWEEPS = 4;

interface Watched {
  target: Writable;
  /** The socket's inode, to find its kernel queue; undefined for an HTTP/2 stream, null once not found. */
  inode?: string | null;
  drop(): void;
  /** Bytes waiting in Node at the last sweep: fewer (or none) is progress. */
  last: number;
  /** Bytes in the kernel's queue at the last sweep, when read. */
  lastKernel?: number;
  /** When these bytes started waiting, or last made progress. */
  since: number;
  /** Sweeps since then. */
  quiet: number;
}

/** Bytes a stream holds: its buffer, and for a socket what libuv could not hand to the kernel yet. */
function waitingIn(w: Writable): number {
  const handle = (w as { _handle?: { writeQueueSize?: number } | null })._handle;
  return w.writableLength + (handle?.writeQueueSize ?? 0);
}

function inodeOf(socket: net.Socket): string | null {
  try {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    return fd === undefined || fd < 0 ? null : (/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1] ?? null);
  } catch {
    return null;
  }
}

/** Unsent or unacknowledged bytes of every TCP socket, by inode (Linux); empty elsewhere. */
function kernelQueues(): Map<string, number> {
  const queues = new Map<string, number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "latin1");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local remote st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length > 9) queues.set(f[9]!, parseInt(f[4]!.split(":")[0]!, 16));
    }
  }
  return queues;
}

export class WriteStalls {
  private readonly watched = new Map<Writable, Watched>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly stallMs: number) {}

  /** Watches an HTTP/2 stream, or (`socket`) a connection, until it closes; `drop` runs once if it stalls. */
  watch(target: Writable, drop: () => void, { socket = false } = {}): void {
    this.watched.set(target, { target, inode: socket ? inodeOf(target as net.Socket) : undefined, drop, last: 0, since: 0, quiet: 0 });
    target.once("close", () => this.watched.delete(target));
    this.timer ??= setInterval(() => this.sweep(), Math.max(25, this.stallMs / SWEEPS)).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const now = Date.now();
    let kernel: Map<string, number> | undefined;
    for (const w of this.watched.values()) {
      const waiting = waitingIn(w.target);
      // Bytes that have just started to wait (none at the last sweep), or fewer of them: progress.
      let progress = waiting === 0 || w.last === 0 || waiting < w.last;
      w.last = waiting;
      if (!progress && w.inode) {
        const queued = (kernel ??= kernelQueues()).get(w.inode);
        progress = queued !== undefined && w.lastKernel !== undefined && queued < w.lastKernel;
        w.lastKernel = queued;
      } else w.lastKernel = undefined;
      if (progress) {
        w.since = now;
        w.quiet = 0;
      } else if (++w.quiet >= SWEEPS && now - w.since >= this.stallMs) {
        this.watched.delete(w.target);
        w.drop();
      }
    }
  }
}
